"""Errors of the storage layer: each says what was wrong, where, and leaves the lake unchanged."""

import functools
import re
from collections.abc import Callable

from deltalake.exceptions import DeltaError


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


#: Patterns of delta-rs (object_store) and pyarrow (AWS SDK) messages, and what they mean.
_PROBLEMS = (
    (re.compile(r"lacked the necessary privileges|InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|ACCESS_DENIED"
                r"|SIGNATURE_DOES_NOT_MATCH|INVALID_ACCESS_KEY_ID"
                r"|HTTP status 403"), "refused the credentials (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"),
    (re.compile(r"NoSuchBucket|NO_SUCH_BUCKET"), "has no such bucket"),
    (re.compile(r"after \d+ retries|Connection refused|error sending request|Couldn't connect|curlCode: 7|timed out"
                r"|dns error|Could not resolve"), "did not answer (after bounded retries with backoff)"),
)


def storage_problem(exc: BaseException, where: str, what: str) -> StorageError | None:
    """A StorageError naming the store and the problem, for an error that comes from the store; else None."""
    if isinstance(exc, StorageError) or not isinstance(exc, OSError | DeltaError):  # delta-rs wraps some in DeltaError
        return None
    text = re.sub(r"\x1b\[[0-9;]*m|↳", "", str(exc))
    for pattern, problem in _PROBLEMS:
        if pattern.search(text):
            detail = " ".join(line.strip() for line in text.strip().splitlines()[:2])[:400]
            return StorageError(f"{what}: the store at {where} {problem} [{detail}]")
    return None


def explained(where_and_what: Callable[..., tuple[str, str]]):
    """A decorator: a failure of the store inside the call surfaces as one StorageError.

    ``where_and_what(fn, *args, **kwargs)`` names the store and the operation for the message.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (OSError, DeltaError) as exc:
                problem = storage_problem(exc, *where_and_what(fn, *args, **kwargs))
                if problem is None:
                    raise
                raise problem from exc

        return wrapper

    return decorate
