"""Every setting of plantlake: one typed model, read from the environment, with defaults that need no server.

One machine needs nothing: the lake and the landing zone are folders under ``PLANTLAKE_HOME``
and MLflow tracks into a SQLite file there. Each server it can use (S3, a Spark cluster, an
MLflow server) is switched on by an environment variable.

:data:`VARIABLES` declares each variable once: the setting it fills, how it is read and what
it means. :meth:`Settings.from_env` is the only place that reads them; a malformed value stops
with one line naming the variable. The configuration reference in the docs is generated from
the same list. Code that runs (the CLI, the Dagster code location, the benchmarks) asks
:func:`get_settings` and hands the object on; nothing reads a variable at import time.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
#: A JVM memory size as Spark reads it: a whole number and an optional unit (no unit = MiB).
_MEMORY = re.compile(r"(\d+)(b|k|kb|m|mb|g|gb|t|tb|p|pb)?", re.IGNORECASE)
#: A name Glue and Athena accept for a database: lower-case letters, digits and underscores.
_GLUE_NAME = re.compile(r"[a-z][a-z0-9_]{0,200}")


#: The MLflow UI ``plantlake ui`` starts for a local tracking store.
MLFLOW_UI = "http://127.0.0.1:5000"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class S3Settings(_Frozen):
    """Credentials and endpoint of an S3-compatible store, from the standard ``AWS_*`` variables."""

    access_key_id: str | None = None
    secret_access_key: str | None = Field(default=None, repr=False)
    session_token: str | None = Field(default=None, repr=False)
    region: str = "us-east-1"
    endpoint_url: str | None = None

    @property
    def allow_http(self) -> bool:
        return bool(self.endpoint_url and self.endpoint_url.startswith("http://"))


class MLSettings(_Frozen):
    """The models': horizon, alert budget, playbook, alert webhook, compute threads."""

    horizon_days: int = 7
    alert_budget: int = 3
    playbook: Path | None = None  # None: the playbook shipped with plantlake (ml/playbook.yaml)
    webhook_url: str | None = None
    webhook_token: str | None = Field(default=None, repr=False)
    webhook_attempts: int = 4
    webhook_backoff_s: float = 0.5
    webhook_backoff_max_s: float = 8.0
    webhook_timeout_s: float = 10.0
    threads: int = 1
    promotion_margin: float = 0.0
    backtest_folds: int = 3
    savings_method: Literal["probability", "comparable"] = "probability"
    monitor_window_days: int = 28
    monitor_min_alerts: int = 30
    drift_days: int = 7
    drift_psi_threshold: float = 0.25


class OrchestrationSettings(_Frozen):
    """Dagster's: which resources, the partitions, when things run, and the sizes landing and checks work in."""

    deployment: Literal["local", "production"] = "local"
    first_date: dt.date = dt.date(2025, 1, 1)
    nightly_hour: int = 6
    freshness_hours: int = 4
    retrain_cron: str = "0 9 * * 6"
    sensor_days: int = 7
    landing_sensor: bool = True
    landing_buffer_rows: int = 2_000_000
    landing_threads: int = Field(default_factory=lambda: os.cpu_count() or 1)
    check_part_rows: int = 4_000_000
    quarantine_max_share: float = 1.0


class Settings(_Frozen):
    """The effective configuration; build it with :meth:`from_env` or take the process's from :func:`get_settings`."""

    home: Path
    lake_uri: str
    landing_uri: str
    log_level: str = "INFO"
    mappings_dirs: tuple[Path, ...] = ()
    fx_rates: str | None = None
    spark_master: str = "local[*]"
    spark_remote: str | None = None
    spark_driver_memory: str = "4g"
    spark_ui: bool = True
    spark_delta: bool = False
    spark_s3a: bool = False
    spark_jars: str | None = None
    spark_cores: int = Field(default_factory=lambda: os.cpu_count() or 2)
    spark_conf: tuple[tuple[str, str], ...] = ()
    spark_class_archive: Path | None = None
    mlflow_tracking_uri: str = ""
    mlflow_artifacts_uri: str = ""
    mlflow_ui_url: str = ""
    glue_database_prefix: str = "plantlake"
    glue_endpoint_url: str | None = None
    s3: S3Settings = S3Settings()
    ml: MLSettings = MLSettings()
    orchestration: OrchestrationSettings = OrchestrationSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every variable of :data:`VARIABLES` read from ``environ`` (default: this process's environment, over
        the home's settings file, :func:`home_file_values`)."""
        env = os.environ if environ is None else environ
        in_file = home_file_values(env) if environ is None else {}
        from_file = {name for name in in_file if not (env.get(name) or "").strip()}  # the environment wins
        if from_file:
            env = {**env, **{name: in_file[name] for name in from_file}}
        values: dict[str, Any] = {}
        for variable in VARIABLES:
            name, raw = variable.lookup(env)
            if raw:
                try:
                    _put(values, variable.setting, variable.read(name, raw))
                except ValueError as exc:
                    if name in from_file:
                        raise ValueError(f"{home_file(env)}: {exc}") from None
                    raise
        home = values.setdefault("home", _path("PLANTLAKE_HOME", ".plantlake"))
        values.setdefault("lake_uri", str(home / "lake"))
        values.setdefault("landing_uri", str(home / "landing"))
        values.setdefault("mlflow_tracking_uri", f"sqlite:///{home / 'mlflow.db'}")
        values.setdefault("mlflow_artifacts_uri", str(home / "mlartifacts"))
        values.setdefault("spark_class_archive", home / "spark-classes.jsa")
        tracking = values["mlflow_tracking_uri"]  # a tracking server serves the UI too
        values.setdefault("mlflow_ui_url", tracking if tracking.startswith(("http://", "https://")) else MLFLOW_UI)
        return cls.model_validate(values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (dotted names reach into a section: ``orchestration.first_date``)."""
        data = self.model_dump()
        for name, value in changes.items():
            _put(data, name.replace("__", "."), value)
        return type(self).model_validate(data)

    def value(self, setting: str) -> Any:
        """A setting by its dotted name (``ml.horizon_days``)."""
        value: Any = self
        for part in setting.split("."):
            value = getattr(value, part)
        return value

    def describe(self) -> dict[str, str]:
        """The settings as display strings, secrets masked: what ``plantlake settings`` prints."""
        shown = {"home": str(self.home)}
        for variable in VARIABLES:
            value = self.value(variable.setting)
            if variable.secret:
                shown[variable.setting] = "***" if value else "(not set)"
            elif variable.setting == "spark_conf":
                entries = [f"{k}={'***' if _secret_key(k) else v}" for k, v in value]
                shown["spark_conf"] = "; ".join(entries) or "(not set)"
            elif variable.setting == "mappings_dirs":
                shown["mappings_dirs"] = os.pathsep.join(map(str, value)) or "(not set)"
            elif value is None:  # unset, and what that means
                shown[variable.setting] = "(not set)" if variable.default in ("(unset)", "(AWS)") else \
                    f"(default: {variable.default.strip('`')})"
            else:
                shown[variable.setting] = str(value)
        return shown


def _put(values: dict, setting: str, value: Any) -> None:
    *sections, name = setting.split(".")
    for section in sections:
        values = values.setdefault(section, {})
    values[name] = value


# -- how variables are read: each reader takes the variable's name (for the message) and its raw value ------
Reader = Callable[[str, str], Any]


def text(name: str, raw: str) -> str:
    return raw


def uri(name: str, raw: str) -> str:
    """``s3a://`` and ``s3://`` name the same store; ``file://`` and relative paths become absolute paths."""
    return _normalise_uri(raw)


def _path(name: str, raw: str) -> Path:
    return Path(raw).expanduser().resolve()


def _paths(name: str, raw: str) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p)


def flag(name: str, raw: str) -> bool:
    """An on/off variable; a misspelt value is refused rather than read as off."""
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")
    return value in _TRUE


def whole(minimum: int, maximum: int | None = None) -> Reader:
    """A whole number in [minimum, maximum]."""
    return functools.partial(_number, parse=int, what="a whole number", minimum=minimum, maximum=maximum)


def number(minimum: float, maximum: float | None = None) -> Reader:
    """A decimal number in [minimum, maximum]."""
    return functools.partial(_number, parse=float, what="a number", minimum=minimum, maximum=maximum)


def _number(name: str, raw: str, *, parse, what: str, minimum, maximum):
    try:
        value = parse(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {raw.strip()!r}") from None
    if value != value or value < minimum:  # NaN is never in range
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def memory(name: str, raw: str) -> str:
    """A JVM memory size; checked here so that a typo stops the command, not the JVM's start minutes later."""
    size = _MEMORY.fullmatch(raw.strip())
    if not size or int(size.group(1)) == 0:
        raise ValueError(f"{name} must be a memory size such as 512m or 4g, got {raw.strip()!r}")
    return raw.strip()


def date(name: str, raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), got {raw.strip()!r}") from None


def choice(*allowed: str) -> Reader:
    def read(name: str, raw: str) -> str:
        value = raw.strip()
        if value not in allowed:
            raise ValueError(f"{name} must be {' or '.join(repr(a) for a in allowed)}, not {value!r}")
        return value

    return read


def cron(name: str, raw: str) -> str:
    if len(raw.split()) != 5:
        raise ValueError(f"{name} must be a cron expression of 5 fields, got {raw.strip()!r}")
    return raw.strip()


def log_level(name: str, raw: str) -> str:
    level = raw.strip().upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"{name} must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return level


def glue_prefix(name: str, raw: str) -> str:
    """The prefix of the Glue databases (``<prefix>_<layer>``), checked: Athena refuses other names."""
    if not _GLUE_NAME.fullmatch(raw):
        raise ValueError(f"{name} must be lower-case letters, digits and underscores, "
                         f"starting with a letter, got {raw!r}")
    return raw


def spark_conf(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    """Spark properties as ``key=value`` entries separated by ``;`` or new lines.

    Semicolons, not spaces, separate entries so that a value may hold spaces (Java options).
    """
    entries = []
    for entry in raw.replace("\n", ";").split(";"):
        if not entry.strip():
            continue
        key, sep, value = entry.partition("=")
        if not sep or not key.strip().startswith("spark."):
            shown = entry.strip()
            if _secret_key(shown):  # the entry may hold the secret itself: name its property only
                shown = re.match(r"[\w.-]*", shown)[0] + " ***"
            raise ValueError(f"{name}: {shown!r} is not a 'spark.<property>=<value>' entry")
        entries.append((key.strip(), value.strip()))
    return tuple(entries)


def _secret_key(name: str) -> bool:
    return any(word in name.lower() for word in ("secret", "password", "token"))


def _normalise_uri(value: str) -> str:
    if value.startswith("s3a://"):
        value = "s3://" + value[len("s3a://") :]
    if value.startswith("file://"):
        value = value[len("file://") :]
    if "://" in value:
        return value.rstrip("/")
    return str(Path(value).expanduser().resolve())


@dataclass(frozen=True)
class Variable:
    """One environment variable: the setting it fills, how it is read, what it means."""

    names: tuple[str, ...]  # the first one set wins (AWS_ENDPOINT_URL_S3 before AWS_ENDPOINT_URL)
    setting: str  # dotted name in Settings
    read: Reader
    default: str  # the default as the docs show it
    description: str
    secret: bool = False  # never logged, never shown, never sent to MLflow

    def lookup(self, env: Mapping[str, str]) -> tuple[str, str]:
        """(name, value) of the first of ``names`` set to something other than blanks, else ('', '')."""
        for name in self.names:
            raw = env.get(name) or ""
            if raw.strip():
                return name, raw
        return "", ""


def _v(names: str, setting: str, read: Reader, default: str, description: str, secret: bool = False) -> Variable:
    return Variable(tuple(names.split()), setting, read, default, description, secret)


#: Every variable plantlake reads, in the order the docs list them.
VARIABLES: tuple[Variable, ...] = (
    _v("PLANTLAKE_HOME", "home", _path, "`.plantlake`", "working folder: lake, landing zone, MLflow database"),
    _v("PLANTLAKE_LAKE_URI", "lake_uri", uri, "`$PLANTLAKE_HOME/lake`", "lake root: a folder or `s3://bucket/prefix`"),
    _v("PLANTLAKE_LANDING_URI", "landing_uri", uri, "`$PLANTLAKE_HOME/landing`",
       "landing zone: a folder or `s3://bucket/prefix`"),
    _v("PLANTLAKE_LOG_LEVEL", "log_level", log_level, "`INFO`", "log level of the CLI and the runs it starts"),
    _v("PLANTLAKE_MAPPINGS_DIR", "mappings_dirs", _paths, "(unset)",
       "extra folders of source mappings (separated like `PATH`), looked up before the built-in ones"),
    _v("PLANTLAKE_FX_RATES", "fx_rates", uri, "(unset)",
       "currency rates for mappings whose money columns say another `unit` than the contract's EUR: a CSV "
       "(folder path or `s3://`) of `date,currency,eur_per_unit`; a value takes the latest rate on or before "
       "its row's date"),
    _v("PLANTLAKE_SPARK_MASTER", "spark_master", text, "`local[*]`", "Spark master, e.g. `spark://host:7077`"),
    _v("SPARK_REMOTE", "spark_remote", text, "(unset)",
       "Spark Connect server, e.g. `sc://host:15002`; wins over the master"),
    _v("PLANTLAKE_SPARK_DRIVER_MEMORY", "spark_driver_memory", memory, "`4g`", "driver memory of a local session"),
    _v("PLANTLAKE_SPARK_CORES", "spark_cores", whole(1), "CPU count", "sizes shuffle partitions (2 per core)"),
    _v("PLANTLAKE_SPARK_UI", "spark_ui", flag, "`true`", "Spark UI on or off (the tests turn it off)"),
    _v("PLANTLAKE_SPARK_DELTA", "spark_delta", flag, "`false`",
       "read with delta-spark `format(\"delta\")` (needs its jars)"),
    _v("PLANTLAKE_SPARK_S3A", "spark_s3a", flag, "`false`", "Spark reads `s3a://` itself (needs hadoop-aws jars)"),
    _v("PLANTLAKE_SPARK_JARS", "spark_jars", text, "(unset)", "comma-separated local jars for the session"),
    _v("PLANTLAKE_SPARK_CONF", "spark_conf", spark_conf, "(unset)",
       "more Spark properties, `spark.<property>=<value>` entries separated by `;` or new lines; they win over "
       "plantlake's own; values of keys naming a secret, password or token are masked and redacted"),
    _v("PLANTLAKE_SPARK_CLASS_ARCHIVE", "spark_class_archive", _path, "`$PLANTLAKE_HOME/spark-classes.jsa`",
       "class-data-sharing archive of the Spark driver's classes: a driver started here maps it when the file "
       "exists and starts in about half the CPU; `plantlake spark-archive` writes it"),
    _v("MLFLOW_TRACKING_URI", "mlflow_tracking_uri", text, "`sqlite:///$PLANTLAKE_HOME/mlflow.db`",
       "MLflow tracking server or database"),
    _v("PLANTLAKE_MLFLOW_ARTIFACTS", "mlflow_artifacts_uri", uri, "`$PLANTLAKE_HOME/mlartifacts`",
       "where new experiments keep their artifacts: a folder or `s3://bucket/prefix`"),
    _v("PLANTLAKE_MLFLOW_UI_URL", "mlflow_ui_url", uri, "the tracking URI if it is `http(s)://`, else "
       "`http://127.0.0.1:5000`", "the MLflow UI that the Dagster UI's links to MLflow runs open"),
    _v("AWS_ACCESS_KEY_ID", "s3.access_key_id", text, "(unset)", "S3 access key"),
    _v("AWS_SECRET_ACCESS_KEY", "s3.secret_access_key", text, "(unset)", "S3 secret key", secret=True),
    _v("AWS_SESSION_TOKEN", "s3.session_token", text, "(unset)", "S3 session token", secret=True),
    _v("AWS_REGION AWS_DEFAULT_REGION", "s3.region", text, "`us-east-1`", "S3 region"),
    _v("AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL", "s3.endpoint_url", text, "(AWS)",
       "S3-compatible store, e.g. `http://127.0.0.1:8333`"),
    _v("PLANTLAKE_GLUE_DATABASE_PREFIX", "glue_database_prefix", glue_prefix, "`plantlake`",
       "`plantlake publish`: the AWS Glue databases are `<prefix>_<layer>` (lower-case letters, digits, `_`)"),
    _v("AWS_ENDPOINT_URL_GLUE", "glue_endpoint_url", text, "(AWS)",
       "another Glue endpoint; `AWS_ENDPOINT_URL` names the S3 store and is not used for Glue"),
    _v("PLANTLAKE_ENV", "orchestration.deployment", choice("local", "production"), "`local`",
       "Dagster resources: `local` (the defaults above) or `production` (lake, landing zone, Spark master and "
       "MLflow server must be set)"),
    _v("PLANTLAKE_FIRST_DATE", "orchestration.first_date", date, "`2025-01-01`",
       "first daily partition (set earlier to land older history)"),
    _v("PLANTLAKE_NIGHTLY_HOUR", "orchestration.nightly_hour", whole(0, 23), "`6`", "hour (UTC) of the nightly run"),
    _v("PLANTLAKE_FRESHNESS_HOURS", "orchestration.freshness_hours", whole(1, 24), "`4`",
       "hours after the nightly hour by which the gold tables are expected (their freshness policy)"),
    _v("PLANTLAKE_RETRAIN_CRON", "orchestration.retrain_cron", cron, "`0 9 * * 6`",
       "weekly retraining schedule (UTC)"),
    _v("PLANTLAKE_SENSOR_DAYS", "orchestration.sensor_days", whole(1), "`7`",
       "recent nights the landing sensor watches"),
    _v("PLANTLAKE_LANDING_SENSOR", "orchestration.landing_sensor", flag, "`true`",
       "whether the landing sensor starts running when the Dagster daemon does"),
    _v("PLANTLAKE_LANDING_BUFFER_ROWS", "orchestration.landing_buffer_rows", whole(1), "`2000000`",
       "bronze rows buffered per table before a landing run writes them"),
    _v("PLANTLAKE_LANDING_THREADS", "orchestration.landing_threads", whole(1), "CPU count",
       "drops a landing run reads at once (and table buffers it writes at once)"),
    _v("PLANTLAKE_CHECK_PART_ROWS", "orchestration.check_part_rows", whole(1), "`4000000`",
       "rows a Great Expectations check validates at once; a larger slice is validated in parts of whole plants"),
    _v("PLANTLAKE_QUARANTINE_MAX_SHARE", "orchestration.quarantine_max_share", number(0.0, 1.0), "`1`",
       "share of a drop's rows that may be quarantined before the drop's check fails and the run with it; "
       "a drop that lands none of its rows always fails"),
    _v("PLANTLAKE_HORIZON_DAYS", "ml.horizon_days", whole(1), "`7`",
       "H: the failure model predicts a failure within the next H days"),
    _v("PLANTLAKE_ALERT_BUDGET", "ml.alert_budget", whole(0), "`3`", "alerts per plant and day at most"),
    _v("PLANTLAKE_PLAYBOOK", "ml.playbook", _path, "`ml/playbook.yaml`",
       "the maintenance playbook (component -> action, duration, cost)"),
    _v("PLANTLAKE_ALERT_WEBHOOK_URL", "ml.webhook_url", text, "(unset)",
       "alert sink webhook (JSON POST per alert); unset: alerts stay in the table"),
    _v("PLANTLAKE_ALERT_WEBHOOK_TOKEN", "ml.webhook_token", text, "(unset)", "bearer token for the webhook",
       secret=True),
    _v("PLANTLAKE_ALERT_WEBHOOK_ATTEMPTS", "ml.webhook_attempts", whole(1), "`4`", "webhook attempts per alert"),
    _v("PLANTLAKE_ALERT_WEBHOOK_BACKOFF_S", "ml.webhook_backoff_s", number(0.0), "`0.5`",
       "first wait between attempts, doubled each time"),
    _v("PLANTLAKE_ALERT_WEBHOOK_BACKOFF_MAX_S", "ml.webhook_backoff_max_s", number(0.0), "`8`",
       "longest wait between attempts"),
    _v("PLANTLAKE_ALERT_WEBHOOK_TIMEOUT_S", "ml.webhook_timeout_s", number(0.1), "`10`", "timeout of one attempt"),
    _v("PLANTLAKE_ML_THREADS", "ml.threads", whole(1), "`1`",
       "OpenMP threads of training and scoring (beside Spark on the same cores)"),
    _v("PLANTLAKE_PROMOTION_MARGIN", "ml.promotion_margin", number(0.0), "`0`",
       "how far above the champion (in PR-AUC) a failure-model challenger's interval must lie to replace it"),
    _v("PLANTLAKE_BACKTEST_FOLDS", "ml.backtest_folds", whole(1), "`3`",
       "rolling-origin folds of each failure-model training run (the last fold's holdout is the gate's)"),
    _v("PLANTLAKE_SAVINGS_METHOD", "ml.savings_method", choice("probability", "comparable"), "`probability`",
       "what `gold.realized_savings.realized_saving_eur` counts as failures avoided per action: the model's "
       "probability at alert time, or the failure rate of the plant's alerts nobody acted on (both are columns)"),
    _v("PLANTLAKE_MONITOR_WINDOW_DAYS", "ml.monitor_window_days", whole(1), "`28`",
       "the production monitor's window: the last this many scored days whose horizon has passed"),
    _v("PLANTLAKE_MONITOR_MIN_ALERTS", "ml.monitor_min_alerts", whole(1), "`30`",
       "budget alerts the window must hold before the monitor judges production precision against the holdout"),
    _v("PLANTLAKE_DRIFT_DAYS", "ml.drift_days", whole(1), "`7`",
       "scored nights whose features the monitor compares with the champion's holdout rows of the training set "
       "(a whole week by default)"),
    _v("PLANTLAKE_DRIFT_PSI_THRESHOLD", "ml.drift_psi_threshold", number(0.0), "`0.25`",
       "a feature whose population stability index against those rows exceeds this has drifted"),
)

#: Variables whose values are secrets: never logged, never shown, never sent to MLflow.
SECRET_VARIABLES = tuple(name for v in VARIABLES if v.secret for name in v.names)


def get_settings() -> Settings:
    """The settings of this process, read once per environment.

    The environment is the source of truth: a test or a command that changes a variable gets
    settings read anew, every other call the same object.
    """
    return _settings_for(os.getcwd(), tuple(os.environ.get(n) for v in VARIABLES for n in v.names),
                         _read_text(home_file(os.environ)))


@functools.lru_cache(maxsize=16)
def _settings_for(cwd: str, values: tuple[str | None, ...], home_file_text: str | None) -> Settings:
    return Settings.from_env()


# -- the home's settings file: what a command wrote for the commands that come after it ------------------------
#: Read beneath the environment from ``$PLANTLAKE_HOME`` (``plantlake demo`` writes its first night there).
HOME_FILE = "plantlake.env"


def home_file(environ: Mapping[str, str]) -> Path:
    """The settings file of the home ``environ`` names (``PLANTLAKE_HOME``, else ``.plantlake`` here)."""
    return _path("PLANTLAKE_HOME", (environ.get("PLANTLAKE_HOME") or "").strip() or ".plantlake") / HOME_FILE


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def home_file_values(environ: Mapping[str, str]) -> dict[str, str]:
    """``NAME=value`` lines of the home's settings file (none if it does not exist).

    Blank lines and ``#`` comments are skipped. Only plantlake's variables may be set there, not
    ``PLANTLAKE_HOME`` (the file lives in it) and not a secret (secrets come from the environment
    only); anything else stops with the file and line named.
    """
    path = home_file(environ)
    text = _read_text(path)
    known = {name: v for v in VARIABLES for name in v.names}
    values: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, value = (part.strip() for part in entry.partition("="))
        problem = (
            "is not a NAME=value line" if not sep or not name
            else f"{name} is not a plantlake variable" if name not in known
            else "PLANTLAKE_HOME cannot be set in the home's own file" if name == "PLANTLAKE_HOME"
            else f"{name} is a secret: set it in the environment, not in a file" if known[name].secret
            else None
        )
        if problem:
            raise ValueError(f"{path}, line {number}: {problem}")
        values[name] = value[1:-1] if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"" else value
    return values


def write_home_file(home: Path, values: Mapping[str, str]) -> Path:
    """Set ``values`` in ``home``'s settings file, keeping its other lines (a later command reads them)."""
    path = home / HOME_FILE
    lines = (_read_text(path) or "").splitlines()
    kept = [line for line in lines if line.partition("=")[0].strip() not in values]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*kept, *(f"{name}={value}" for name, value in values.items())]) + "\n")
    return path


def markdown() -> str:
    """The configuration reference: every variable, its default and what it sets (generated into the docs)."""
    lines = ["| variable | default | what it sets |", "|---|---|---|"]
    for v in VARIABLES:
        names = " / ".join(f"`{n}`" for n in v.names)
        lines.append(f"| {names} | {v.default} | {v.description}{' (a secret: never shown)' if v.secret else ''} |")
    return "\n".join(lines) + "\n"


# -- the environment of a block: tests, benchmarks and the demo work under another home ------------------------
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
        conf = spark_conf("PLANTLAKE_SPARK_CONF", env.get("PLANTLAKE_SPARK_CONF") or "")
    except ValueError:
        conf = ()
    return values + [value for key, value in conf if _secret_key(key) and value]


def redact(message: str) -> str:
    """``message`` with every secret value of the environment replaced by ``***`` (for errors that get stored)."""
    for secret in secret_values():
        message = message.replace(secret, "***")
    return message
