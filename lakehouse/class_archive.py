"""A class-data-sharing archive of the Spark driver's classes, so that each new driver JVM starts faster.

Every ``plantlake run`` (and each run the Dagster daemon starts) launches a Spark driver JVM that
loads, parses and verifies some twenty thousand classes of Spark's jars before its first query.
The JDK can map classes it has loaded once from an archive instead (class data sharing, JDK 13+:
``-XX:ArchiveClassesAtExit`` writes one as a JVM exits, ``-XX:SharedArchiveFile`` maps it).
:func:`build` writes the archive from a driver that runs a little of everything plantlake asks
of Spark; :func:`lakehouse.spark.session` maps it when the file exists (the setting
``PLANTLAKE_SPARK_CLASS_ARCHIVE``). A JVM whose version or class path does not match the archive
ignores it and starts as without (``-Xshare:auto``, the JDK's default), so a stale archive costs
nothing but the gain; ``plantlake spark-archive`` builds it again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from lakehouse.processes import wait_for_group
from lakehouse.settings import Settings, environment

#: Lets the archive's own driver run without mapping an older archive (the JDK takes one at a time).
_BUILDING = "PLANTLAKE_SPARK_CLASS_ARCHIVE_BUILDING"


def java_options(settings: Settings) -> str:
    """The driver's Java options for the archive: map it if it is there, write it if this driver builds it."""
    building = os.environ.get(_BUILDING)
    if building:
        return f"-XX:ArchiveClassesAtExit={building}"
    archive = settings.spark_class_archive
    if archive is not None and archive.is_file() and archive.stat().st_size > 0:
        return f"-XX:SharedArchiveFile={archive}"
    return ""


def build(target: Path, env: Mapping[str, str] | None = None, timeout: float = 600) -> Path:
    """Write the archive at ``target``: a driver in a process of its own (environment ``env``, default this
    process's) runs :func:`_workload` and exits, the JVM writes the classes it loaded to a temporary file as
    it exits, and that file then replaces ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    started = subprocess.Popen([sys.executable, "-m", "lakehouse.class_archive"],
                               env={**(os.environ if env is None else env), _BUILDING: str(written)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, errors = started.communicate(timeout=timeout)
        if started.returncode != 0:
            raise RuntimeError(f"the archive's Spark driver failed: {errors.decode(errors='replace')[-2000:]}")
        if not wait_for_group(started.pid, timeout):  # the JVM writes the archive as it exits, after its Python
            raise TimeoutError("the archive's Spark driver did not exit")
        if not written.is_file() or written.stat().st_size == 0:
            raise RuntimeError(f"the JVM wrote no class archive at {written}")
        os.replace(written, target)  # readers see the old archive or the new one, never a part
    finally:
        written.unlink(missing_ok=True)
    return target


def _workload() -> None:
    """A little of what a night asks of Spark, so that the classes it loads are archived: SQL with joins,
    windows and aggregates, Parquet written and read, frames to and from Arrow."""
    import pyarrow as pa

    from lakehouse.spark import session

    with tempfile.TemporaryDirectory(prefix="plantlake-class-archive-") as scratch, \
            environment({"PLANTLAKE_SPARK_UI": "false"}):
        spark = session(Settings.from_env())
        frame = spark.createDataFrame(pa.table({"machine_id": ["M1", "M2", "M1"], "value": [1.0, 2.0, 3.0],
                                                "day": pa.array([0, 1, 2], pa.int32())}))  # as the bridge does
        frame.createOrReplaceTempView("readings")
        daily = spark.sql(
            "select r.machine_id, r.day, avg(r.value) over (partition by r.machine_id order by r.day "
            "rows between 6 preceding and current row) as rolling, count(*) over (partition by r.machine_id) as n, "
            "percentile_approx(r.value, 0.5) over (partition by r.machine_id) as median "
            "from readings r join (select distinct machine_id from readings) m on r.machine_id = m.machine_id")
        daily.write.mode("overwrite").partitionBy("day").parquet(f"{scratch}/daily")
        back = spark.read.parquet(f"{scratch}/daily").groupBy("machine_id").agg({"rolling": "max", "n": "sum"})
        back.toArrow()
        spark.stop()


if __name__ == "__main__":
    _workload()
