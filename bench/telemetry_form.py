"""The telemetry storage forms side by side on one night: the measurement behind a map of sensor values.

Over the night's ``silver.telemetry`` (each reading's sensor values in its ``readings`` map), the
same readings in three forms, each written as Parquet (snappy, one file per plant in key order,
as silver keeps them):

* ``wide``: a column per sensor, the form before the sensor registry (the simulator's seven
  sensors; a plant with other sensors would need other columns in every table);
* ``map``: a ``readings`` map per row: the form the lake keeps (docs/architecture.md);
* ``long``: a row per sensor value (date, plant_id, machine_id, ts, interval_s, sensor, value).

For each form: bytes per sensor value, and Spark's CPU seconds (the process tree's: Spark's JVM
works on several threads, and CPU time moves far less than wall time on a shared machine; best
of ``repeats``, wall seconds beside) for the work the telemetry steps do with it: silver's (the
dedup window over the night's rows, then writing Parquet) and gold's (each sensor's daily
count, mean, spread and maximum per machine).
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.memory import tree_cpu
from lakehouse import named
from lakehouse.catalog import NAMED_VALUES
from lakehouse.delta import Lake
from sources.silver import EVENT_TABLES

FORMS = ("wide", "map", "long")
KEY = ["date", "plant_id", "machine_id", "ts"]


def _forms(night: pa.Table) -> dict[str, pa.Table]:
    """The night's silver rows in each form (the lineage columns the dedup orders by kept in all)."""
    lineage = night.select([*KEY, "interval_s", "_source_file", "_ingested_at"])
    values = named.unpack(night.column("readings"))
    wide = lineage
    for sensor, column in values.items():
        wide = wide.append_column(sensor, pa.array(column, pa.float64(), from_pandas=True))
    parts = []
    for sensor, column in values.items():
        present = pc.invert(pc.is_nan(pa.array(column)))
        part = lineage.filter(present)
        parts.append(part.append_column("sensor", pa.array([sensor] * part.num_rows, pa.string()))
                     .append_column("value", pa.array(column).filter(present)))
    long = pa.concat_tables(parts)
    long = long.take(pc.sort_indices(long, [(k, "ascending") for k in ("plant_id", "machine_id", "ts", "sensor")]))
    return {"wide": wide, "map": lineage.append_column(pa.field("readings", NAMED_VALUES), night["readings"]),
            "long": long}


def _write(table: pa.Table, folder: Path) -> int:
    """One Parquet file per plant (silver's layout); returns the bytes written."""
    folder.mkdir(parents=True)
    for plant in pc.unique(table.column("plant_id")).to_pylist():
        pq.write_table(table.filter(pc.equal(table.column("plant_id"), plant)), folder / f"{plant}.parquet",
                       compression="snappy")
    return sum(f.stat().st_size for f in folder.iterdir())


def _timed(action) -> tuple[float, float]:
    """(CPU seconds of the process tree, wall seconds) of running ``action``."""
    cpu, wall = tree_cpu(), time.perf_counter()
    action()
    return tree_cpu() - cpu, time.perf_counter() - wall


def _silver(spark, form: str, folder: Path, out: Path) -> tuple[float, float]:
    """Silver's work on a form: one row per natural key (the latest landing), written as Parquet."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key = KEY + (["sensor"] if form == "long" else [])
    rows = spark.read.parquet(str(folder)).repartition("plant_id")
    order = Window.partitionBy(*key).orderBy(F.col("_ingested_at").desc(), F.col("_source_file").desc())
    kept = rows.withColumn("_rank", F.row_number().over(order)).where("_rank = 1").drop("_rank")
    return _timed(lambda: kept.write.mode("overwrite").parquet(str(out)))


def _gold(spark, form: str, folder: Path, sensors: list[str]) -> tuple[float, float]:
    """Gold's work on a form: per machine, sensor and day the values' count, mean, spread and maximum."""
    from pyspark.sql import functions as F

    rows = spark.read.parquet(str(folder))
    machine = ["date", "plant_id", "machine_id"]
    if form == "wide":
        stats = [f(s) for s in sensors for f in (F.count, F.avg, F.stddev_samp, F.max)]
        daily = rows.groupBy(*machine).agg(*stats)
    else:
        if form == "map":
            rows = rows.select(*machine, F.explode("readings").alias("sensor", "value"))
        daily = rows.groupBy(*machine, "sensor").agg(F.count("value"), F.avg("value"), F.stddev_samp("value"),
                                                      F.max("value"))
    return _timed(lambda: daily.write.format("noop").mode("overwrite").save())


def measure(spark, lake: Lake, night: dt.date, workdir: Path, repeats: int = 2) -> dict:
    """Each form's rows, bytes per sensor value and Spark times over the night's silver telemetry."""
    table = lake.read(EVENT_TABLES["telemetry"], filters=[("date", "=", night)])
    forms = _forms(table)
    values = forms["long"].num_rows
    sensors = [c for c in forms["wide"].column_names if c not in (*KEY, "interval_s", "_source_file", "_ingested_at")]
    shutil.rmtree(workdir, ignore_errors=True)
    sizes = {form: _write(forms[form], workdir / form) for form in FORMS}
    out = {"readings": table.num_rows, "values": values, "sensors": len(sensors), "forms": {}}
    for form in FORMS:  # one untimed pass warms Spark's JVM up for every form alike
        _gold(spark, form, workdir / form, sensors)
    for form, size in sizes.items():
        folder = workdir / form
        silver = min(_silver(spark, form, folder, workdir / f"{form}-silver-{i}") for i in range(repeats))
        gold = min(_gold(spark, form, folder, sensors) for _ in range(repeats))
        out["forms"][form] = {"rows": forms[form].num_rows, "bytes": size, "bytes_per_value": size / values,
                              "silver_cpu": silver[0], "silver_seconds": silver[1], "gold_cpu": gold[0],
                              "gold_seconds": gold[1]}
    shutil.rmtree(workdir, ignore_errors=True)
    return out
