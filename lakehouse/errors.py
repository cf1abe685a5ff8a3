"""Errors of the storage layer: each says what was wrong, where, and leaves the lake unchanged."""


class LakeError(Exception):
    """Base of every error plantlake raises about the lake."""


class SchemaMismatchError(LakeError, ValueError):
    """Data handed to a writer does not match the table's catalog schema."""


class PartitionValueError(LakeError, ValueError):
    """A slice was named with a value of the wrong type, or data falls outside its slice."""


class TableNotFoundError(LakeError, LookupError):
    """A table that should exist in the lake does not (yet)."""


class StorageError(LakeError, OSError):
    """The store (local disk or S3) could not be reached or refused the request."""
