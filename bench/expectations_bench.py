"""How long a bronze.telemetry slice takes to validate: the number that chose GX's pandas engine.

    python -m bench.expectations_bench [--rows 1500000] [--bad] [--spark]

Builds ``rows`` per-minute readings (about 1,040 machines x 1,440 minutes for 1.5M; seven
sensors' values in each reading's ``readings`` map), the suite the orchestration builds
(catalog + the telemetry contract's ranges), and times ``expectations.validate``. ``--bad``
breaks a share of the rows first; ``--spark`` also times the same suite on GX's Spark engine
for comparison.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from expectations import suite_for, validate
from expectations.suites import TYPE_CHECK, gx_suite
from lakehouse import catalog, named

log = logging.getLogger(__name__)

SENSORS = {
    "temperature_c": (60, 5),
    "vibration_mm_s": (3, 0.5),
    "current_a": (50, 5),
    "pressure_bar": (100, 3),
    "cycle_time_s": (30, 1),
    "voltage_v": (400, 5),
    "rotation_rpm": (1500, 30),
}


def telemetry(rows: int, *, seed: int = 0) -> pa.Table:
    """``rows`` valid bronze.telemetry rows of one date: three plants, one reading per machine and minute."""
    spec = catalog.get("bronze.telemetry")
    rng = np.random.default_rng(seed)
    machines = max(1, rows // 1440 + (rows % 1440 > 0))
    index = np.arange(rows)
    machine = index % machines
    minute = index // machines
    start = np.datetime64("2026-01-05T00:00", "us")
    columns = {
        "date": pa.array(np.full(rows, np.datetime64("2026-01-05", "D"))),
        "plant_id": pa.array(np.array(["DE01", "DE02", "US01"])[machine % 3]),
        "machine_id": pa.array(np.char.add("M", machine.astype(str))),
        "ts": pa.array(start + minute.astype("timedelta64[m]")),
        "interval_s": pa.array(np.full(rows, 60, dtype="int64")),
        "readings": named.pack({name: np.abs(rng.normal(mean, sd, rows)) for name, (mean, sd) in SENSORS.items()},
                               rows),
        "_source_file": pa.array(np.full(rows, "plant=DE01/date=2026-01-05/telemetry.csv")),
        "_source_row": pa.array(index + 1),
        "_ingested_at": pa.array(np.full(rows, np.datetime64("2026-01-06T01:00", "us"))),
        "_run_id": pa.array(np.full(rows, "bench")),
    }
    return pa.table(columns).cast(spec.schema)


def contract_suite():
    """The suite the orchestration builds for bronze.telemetry: its catalog declaration, the contract's ranges in it."""
    return suite_for(catalog.get("bronze.telemetry"))


def broken(table: pa.Table, share: float = 0.1, seed: int = 1) -> pa.Table:
    """A copy with ``share`` of the intervals out of range and of the machine ids null."""
    rng = np.random.default_rng(seed)
    hit = pa.array(rng.random(table.num_rows) < share)
    interval = pc.if_else(hit, 0, table["interval_s"])
    machine = pc.if_else(hit, pa.scalar(None, pa.string()), table["machine_id"])
    table = table.set_column(table.schema.get_field_index("interval_s"), "interval_s", interval)
    return table.set_column(table.schema.get_field_index("machine_id"), "machine_id", machine)


def spark_seconds(table: pa.Table) -> dict[str, float]:
    """The same suite on GX's Spark engine: session start, Arrow -> Spark, validation."""
    from expectations.context import context
    from lakehouse import spark as plantlake_spark

    times = {}
    started = time.perf_counter()
    session = plantlake_spark.session()
    times["spark session"] = time.perf_counter() - started
    started = time.perf_counter()
    frame = session.createDataFrame(table).cache()
    frame.count()
    times["arrow -> spark"] = time.perf_counter() - started
    source = context().data_sources.add_or_update_spark("bench_spark")
    definition = source.add_dataframe_asset("telemetry").add_batch_definition_whole_dataframe("whole")
    suite = contract_suite()
    runnable = gx_suite("bench", [e for e in suite.expectations if e.type != TYPE_CHECK])
    started = time.perf_counter()
    definition.get_batch(batch_parameters={"dataframe": frame}).validate(runnable)
    times["spark validate"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--bad", action="store_true", help="break 10%% of the rows first")
    parser.add_argument("--spark", action="store_true", help="also time GX's Spark engine")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = telemetry(args.rows)
    if args.bad:
        table = broken(table)
    suite = contract_suite()
    validate(catalog.get("bronze.telemetry"), table.slice(0, 10), suite)  # warm up: GX context, metric registry
    outcome = validate(catalog.get("bronze.telemetry"), table, suite)
    log.info("pandas engine: %s rows x %s columns validated in %.1f s (%d expectations, success=%s)",
             f"{table.num_rows:,}", table.num_columns, outcome.duration_s, outcome.evaluated, outcome.success)
    if args.spark:
        for step, seconds in spark_seconds(table).items():
            log.info("%s: %.1f s", step, seconds)


if __name__ == "__main__":
    main()
