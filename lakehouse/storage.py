"""One view of local folders and S3 prefixes: URIs, a pyarrow filesystem, delta-rs options.

Everything that touches files (Delta reads, the landing zone, staging of Spark output)
goes through here, so local disk and S3 behave the same and credentials are read in
one place.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow.fs as pafs

from lakehouse.errors import explained
from lakehouse.settings import S3Settings, Settings, get_settings


def is_s3(uri: str) -> bool:
    return uri.startswith(("s3://", "s3a://"))


def join(uri: str, *parts: str) -> str:
    """Join path parts onto a local path or an ``s3://`` URI."""
    base = uri.rstrip("/")
    for part in parts:
        base = f"{base}/{part.strip('/')}"
    return base


#: Attempts and total time delta-rs and pyarrow spend on a failing S3 request before giving up.
S3_MAX_RETRIES = 5
S3_RETRY_TIMEOUT = "60s"


def delta_storage_options(uri: str, settings: Settings | None = None) -> dict[str, str] | None:
    """Options for delta-rs (``storage_options=``): ``None`` for local paths."""
    if not is_s3(uri):
        return None
    s3 = (settings or get_settings()).s3
    options = {"AWS_REGION": s3.region}
    if s3.access_key_id:
        options["AWS_ACCESS_KEY_ID"] = s3.access_key_id
    if s3.secret_access_key:
        options["AWS_SECRET_ACCESS_KEY"] = s3.secret_access_key
    if s3.session_token:
        options["AWS_SESSION_TOKEN"] = s3.session_token
    if s3.endpoint_url:
        options["AWS_ENDPOINT_URL"] = s3.endpoint_url
        # S3-compatible stores (SeaweedFS, MinIO) serve buckets as paths, not subdomains.
        options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false"
    if s3.allow_http:
        options["AWS_ALLOW_HTTP"] = "true"
    # Bounded retries with exponential backoff: a store that is down fails the operation clearly, soon.
    options.update(max_retries=str(S3_MAX_RETRIES), retry_timeout=S3_RETRY_TIMEOUT)
    return options


@functools.lru_cache(maxsize=8)
def _s3_filesystem(s3: S3Settings) -> pafs.S3FileSystem:
    kwargs: dict = {
        "region": s3.region,
        "access_key": s3.access_key_id,
        "secret_key": s3.secret_access_key,
        "session_token": s3.session_token,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=S3_MAX_RETRIES),
        "connect_timeout": 5,
        "request_timeout": 60,
    }
    if s3.endpoint_url:
        scheme, _, host = s3.endpoint_url.partition("://")
        kwargs.update(endpoint_override=host.rstrip("/"), scheme=scheme, force_virtual_addressing=False)
    return pafs.S3FileSystem(**kwargs)


def filesystem(uri: str, settings: Settings | None = None) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it for a local path or ``s3://`` URI."""
    if is_s3(uri):
        s3 = (settings or get_settings()).s3
        return _s3_filesystem(s3), uri.split("://", 1)[1].rstrip("/")
    return pafs.LocalFileSystem(), str(Path(uri).resolve())


def subtree(uri: str, settings: Settings | None = None) -> pafs.FileSystem:
    """A filesystem rooted at ``uri``: paths inside it are relative (what delta-rs datasets want)."""
    fs, path = filesystem(uri, settings)
    return pafs.SubTreeFileSystem(path, fs)


def store_name(uri: str, settings: Settings | None = None) -> str:
    """Where ``uri`` lives, for messages: the S3 endpoint and the URI, or the folder."""
    if is_s3(uri):
        return f"{(settings or get_settings()).s3.endpoint_url or 'AWS S3'} ({uri})"
    return uri


def _store_and_operation(fn, uri: str, *args, **kwargs) -> tuple[str, str]:
    settings = kwargs.get("settings") or next((a for a in args if isinstance(a, Settings)), None)
    return store_name(uri, settings), fn.__name__.replace("_", " ")


#: Failures of the store surface as one StorageError naming the endpoint and the problem.
explain_errors = explained(_store_and_operation)


@explain_errors
def exists(uri: str, settings: Settings | None = None) -> bool:
    fs, path = filesystem(uri, settings)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


@explain_errors
def read_bytes(uri: str, settings: Settings | None = None) -> bytes:
    """A whole file as stored (a ``.gz`` file stays compressed: pyarrow would otherwise gunzip it)."""
    fs, path = filesystem(uri, settings)
    with fs.open_input_stream(path, compression=None) as stream:
        return stream.read()


@explain_errors
def write_bytes(uri: str, data: bytes, settings: Settings | None = None, atomic: bool = True) -> None:
    """Write a whole file as given (bytes are never compressed on the way). On local disk ``atomic``
    writes a temporary name then renames it; an S3 PUT is atomic by itself (readers see the old
    object or the new, never half)."""
    fs, path = filesystem(uri, settings)
    parent = path.rsplit("/", 1)[0]
    if isinstance(fs, pafs.LocalFileSystem):
        fs.create_dir(parent, recursive=True)
        if atomic:
            tmp = f"{parent}/.{path.rsplit('/', 1)[1]}.tmp"
            with fs.open_output_stream(tmp, compression=None) as out:
                out.write(data)
            fs.move(tmp, path)
            return
    with fs.open_output_stream(path, compression=None) as out:
        out.write(data)


@explain_errors
def list_files(uri: str, settings: Settings | None = None, recursive: bool = True) -> list[str]:
    """Every file under ``uri`` as a full URI (local path or ``s3://``), sorted."""
    fs, path = filesystem(uri, settings)
    info = fs.get_file_info(pafs.FileSelector(path, recursive=recursive, allow_not_found=True))
    prefix = "s3://" if is_s3(uri) else ""
    return sorted(prefix + i.path for i in info if i.type == pafs.FileType.File)


@explain_errors
def delete_dir(uri: str, settings: Settings | None = None) -> None:
    fs, path = filesystem(uri, settings)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_dir(path)
