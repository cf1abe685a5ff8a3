"""Every setting of plantlake, read from the environment once, with defaults that need no server.

One machine needs nothing: the lake and the landing zone are folders under
``PLANTLAKE_HOME`` and MLflow tracks into a SQLite file there. Each server it can use
(S3, a Spark cluster, an MLflow server) is switched on by an environment variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

#: Variables whose values are secrets: never logged, never shown, never sent to MLflow.
SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PLANTLAKE_ALERT_WEBHOOK_TOKEN")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
#: A JVM memory size as Spark reads it: a whole number and an optional unit (no unit = MiB).
_MEMORY = re.compile(r"(\d+)(b|k|kb|m|mb|g|gb|t|tb|p|pb)?", re.IGNORECASE)
#: A name Glue and Athena accept for a database: lower-case letters, digits and underscores.
_GLUE_NAME = re.compile(r"[a-z][a-z0-9_]{0,200}")


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """An on/off variable, ``default`` when unset; a misspelt value is refused rather than read as off."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in _TRUE | _FALSE:
        raise ValueError(f"{name} must be true or false (1/0, yes/no, on/off), got {env[name]!r}")
    return raw in _TRUE


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """A whole-number variable, ``default`` when unset; a malformed or out-of-range value names the variable."""
    return _env_number(env, name, default, int, "a whole number", minimum, maximum)


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float,
              maximum: float | None = None) -> float:
    """A decimal variable, ``default`` when unset; a malformed or out-of-range value names the variable."""
    return _env_number(env, name, default, float, "a number", minimum, maximum)


def _env_number(env, name, default, parse, what, minimum, maximum):
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {raw!r}") from None
    if value != value or value < minimum:  # NaN is never in range
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def _memory(env: Mapping[str, str], name: str, default: str) -> str:
    """A JVM memory size; checked here so that a typo stops the command, not the JVM's start minutes later."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    size = _MEMORY.fullmatch(raw)
    if not size or int(size.group(1)) == 0:
        raise ValueError(f"{name} must be a memory size such as 512m or 4g, got {raw!r}")
    return raw


def glue_prefix(value: str, source: str = "PLANTLAKE_GLUE_DATABASE_PREFIX") -> str:
    """The prefix of the Glue databases (``<prefix>_<layer>``), checked: Athena refuses other names."""
    if not _GLUE_NAME.fullmatch(value):
        raise ValueError(f"{source} must be lower-case letters, digits and underscores, "
                         f"starting with a letter, got {value!r}")
    return value


@dataclass(frozen=True)
class S3Settings:
    """Credentials and endpoint of an S3-compatible store, from the standard ``AWS_*`` variables."""

    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str = "us-east-1"
    endpoint_url: str | None = None

    @property
    def allow_http(self) -> bool:
        return bool(self.endpoint_url and self.endpoint_url.startswith("http://"))


@dataclass(frozen=True)
class Settings:
    """The effective configuration; build it with :meth:`from_env`."""

    home: Path
    lake_uri: str
    landing_uri: str
    spark_master: str = "local[*]"
    spark_remote: str | None = None
    spark_driver_memory: str = "4g"
    spark_ui: bool = True
    spark_delta: bool = False
    spark_s3a: bool = False
    spark_jars: str | None = None
    spark_cores: int = 2
    spark_conf: tuple[tuple[str, str], ...] = ()
    mlflow_tracking_uri: str = ""
    mlflow_artifacts_uri: str = ""
    glue_database_prefix: str = "plantlake"
    glue_endpoint_url: str | None = None
    s3: S3Settings = field(default_factory=S3Settings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("PLANTLAKE_HOME") or ".plantlake").expanduser().resolve()
        return cls(
            home=home,
            lake_uri=_normalise_uri(env.get("PLANTLAKE_LAKE_URI") or str(home / "lake")),
            landing_uri=_normalise_uri(env.get("PLANTLAKE_LANDING_URI") or str(home / "landing")),
            spark_master=env.get("PLANTLAKE_SPARK_MASTER") or "local[*]",
            spark_remote=env.get("SPARK_REMOTE") or None,
            spark_driver_memory=_memory(env, "PLANTLAKE_SPARK_DRIVER_MEMORY", "4g"),
            spark_ui=env_flag(env, "PLANTLAKE_SPARK_UI", True),
            spark_delta=env_flag(env, "PLANTLAKE_SPARK_DELTA", False),
            spark_s3a=env_flag(env, "PLANTLAKE_SPARK_S3A", False),
            spark_jars=env.get("PLANTLAKE_SPARK_JARS") or None,
            spark_cores=env_int(env, "PLANTLAKE_SPARK_CORES", os.cpu_count() or 2, 1),
            spark_conf=spark_conf_entries(env.get("PLANTLAKE_SPARK_CONF") or ""),
            mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}",
            mlflow_artifacts_uri=_normalise_uri(env.get("PLANTLAKE_MLFLOW_ARTIFACTS") or str(home / "mlartifacts")),
            glue_database_prefix=glue_prefix(env.get("PLANTLAKE_GLUE_DATABASE_PREFIX") or "plantlake"),
            glue_endpoint_url=env.get("AWS_ENDPOINT_URL_GLUE") or None,
            s3=S3Settings(
                access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
                secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
                session_token=env.get("AWS_SESSION_TOKEN") or None,
                region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
                endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
            ),
        )

    def describe(self) -> dict[str, str]:
        """The settings as display strings, secrets masked: what `plantlake settings` prints."""
        shown: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, S3Settings):
                shown["s3.endpoint_url"] = value.endpoint_url or "(AWS default)"
                shown["s3.region"] = value.region
                shown["s3.access_key_id"] = value.access_key_id or "(not set)"
                shown["s3.secret_access_key"] = "***" if value.secret_access_key else "(not set)"
            elif f.name == "spark_conf":
                shown[f.name] = "; ".join(f"{k}={'***' if _secret_key(k) else v}" for k, v in value) or "(not set)"
            else:
                shown[f.name] = "(not set)" if value is None else str(value)
        return shown


def spark_conf_entries(text: str) -> tuple[tuple[str, str], ...]:
    """``PLANTLAKE_SPARK_CONF``: Spark properties as ``key=value`` entries separated by ``;`` or new lines.

    Semicolons, not spaces, separate entries so that a value may hold spaces (Java options).
    """
    entries = []
    for entry in text.replace("\n", ";").split(";"):
        if not entry.strip():
            continue
        key, sep, value = entry.partition("=")
        if not sep or not key.strip().startswith("spark."):
            shown = entry.strip()
            if _secret_key(shown):  # the entry may hold the secret itself: name its property only
                shown = re.match(r"[\w.-]*", shown)[0] + " ***"
            raise ValueError(f"PLANTLAKE_SPARK_CONF: {shown!r} is not a 'spark.<property>=<value>' entry")
        entries.append((key.strip(), value.strip()))
    return tuple(entries)


def _secret_key(name: str) -> bool:
    return any(word in name.lower() for word in ("secret", "password", "token"))


def _normalise_uri(uri: str) -> str:
    """``s3a://`` and ``s3://`` name the same store; local paths become absolute."""
    if uri.startswith("s3a://"):
        uri = "s3://" + uri[len("s3a://") :]
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    if "://" in uri:
        return uri.rstrip("/")
    return str(Path(uri).expanduser().resolve())


def get_settings() -> Settings:
    """The settings of this process (read fresh each call: tests and CLI flags change the env)."""
    return Settings.from_env()


def home_environment(home: Path) -> dict[str, str]:
    """The variables that put a whole plantlake under ``home``: lake, landing zone and MLflow's SQLite store.

    The lake and landing URIs are named as well, so that values inherited from the caller do not leak in.
    """
    return {
        "PLANTLAKE_HOME": str(home),
        "PLANTLAKE_LAKE_URI": str(home / "lake"),
        "PLANTLAKE_LANDING_URI": str(home / "landing"),
    }


@contextmanager
def restored_environment(names: Iterable[str]) -> Iterator[None]:
    """The variables ``names`` are put back as they were (set or not) when the block ends."""
    before = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def mlflow_environment(home: Path) -> dict[str, str]:
    """The variables that point MLflow (registry and artifacts) at the store of the plantlake under ``home``."""
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
            "PLANTLAKE_MLFLOW_ARTIFACTS": str(home / "mlartifacts")}


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """``variables`` are set for the duration of the block, then put back as they were."""
    with restored_environment(variables):
        os.environ.update(variables)
        yield


@contextmanager
def plantlake_home(home: Path) -> Iterator[Path]:
    """This process works under ``home`` for the duration of the block (tests, benchmarks, soak runs)."""
    with environment(home_environment(home)):
        yield home


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The secret values present in the environment, for redaction."""
    env = os.environ if environ is None else environ
    values = [env[name] for name in SECRET_VARIABLES if env.get(name)]
    try:
        conf = spark_conf_entries(env.get("PLANTLAKE_SPARK_CONF") or "")
    except ValueError:
        conf = ()
    return values + [value for key, value in conf if _secret_key(key) and value]


def redact(text: str) -> str:
    """``text`` with every secret value of the environment replaced by ``***`` (for errors that get stored)."""
    for secret in secret_values():
        text = text.replace(secret, "***")
    return text
