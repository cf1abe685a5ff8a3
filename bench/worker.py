"""The process that does the measured work: ``python -m bench.worker PLAN.json OUT.jsonl``.

It runs a plan's tasks in order (simulate, start Spark, run a stage or a whole night, the
references, the lake's file statistics) and appends one JSON line when a task begins and
one when it ends, with its figures. It samples the RSS of its own process tree (itself, the
Spark JVM, Python workers) in a background thread. The parent (:mod:`bench.guard`) watches
it from outside and kills it when it outgrows the memory or time it was given; the last
``begin`` line then says which task was running.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from bench.memory import TreeSampler, tree_cpu

log = logging.getLogger("bench.worker")


class Worker:
    def __init__(self, out: Path):
        self.out = out
        self.sampler = TreeSampler(interval=0.2)
        self._instance = None
        self._spark = None

    # -- bookkeeping ---------------------------------------------------------------------
    def emit(self, record: dict) -> None:
        with self.out.open("a") as f:
            f.write(json.dumps(record, default=str) + "\n")

    @property
    def instance(self):
        import dagster as dg

        if self._instance is None:
            self._instance = dg.DagsterInstance.ephemeral()
        return self._instance

    def spark(self):
        from lakehouse.spark import session

        if self._spark is None:
            self._spark = session()
        return self._spark

    @staticmethod
    def use_lake(task: dict) -> None:
        """Point the settings (read from the environment on every call) at the task's lake and landing zone."""
        if task.get("lake"):
            os.environ["PLANTLAKE_LAKE_URI"] = task["lake"]
        if task.get("landing"):
            os.environ["PLANTLAKE_LANDING_URI"] = task["landing"]

    # -- tasks ---------------------------------------------------------------------------
    def run(self, tasks: list[dict]) -> None:
        self.sampler.start()
        try:
            for task in tasks:
                self.use_lake(task)
                started, cpu = time.time(), tree_cpu()
                self.emit({"event": "begin", "id": task["id"], "task": task["task"], "time": started})
                try:
                    result = getattr(self, f"task_{task['task']}")(task)
                    status = "ok" if result.pop("_ok", True) else "failed"
                except Exception as exc:  # measure what can be measured: the next task still runs
                    log.exception("task %s failed", task["id"])
                    result, status = {"error": f"{type(exc).__name__}: {exc}",
                                      "traceback": traceback.format_exc(limit=8)}, "error"
                ended = time.time()
                self.emit({"event": "end", "id": task["id"], "task": task["task"], "status": status,
                           "start": started, "end": ended, "seconds": ended - started, "cpu_seconds": tree_cpu() - cpu,
                           "peak_rss": self.sampler.peak(started, ended), **result})
        finally:
            self.sampler.stop()

    def task_simulate(self, task: dict) -> dict:
        """A scale point's nights, or (``training_before``) the training network's nights before that date."""
        from bench.network import ScalePoint, simulate_nights, training_config
        from sources.simulator import simulate

        if task.get("training_before"):
            summary = simulate(training_config(task["landing"], dt.date.fromisoformat(task["training_before"])))
        else:
            summary = simulate_nights(ScalePoint(**task["point"]), task["landing"],
                                      dt.date.fromisoformat(task["start"]), task.get("days", 1))
        return {"rows": sum(summary.rows.values()), "telemetry_rows": summary.rows["telemetry"],
                "bytes": summary.bytes, "drops": summary.plant_drops + summary.supplier_drops,
                "rows_by_feed": dict(summary.rows)}

    def task_spark(self, task: dict) -> dict:
        spark = self.spark()
        spark.range(1).count()
        return {"version": spark.version, "master": spark.sparkContext.master}

    def _timing(self, timing) -> dict:
        return {"_ok": timing.success, "run": timing.to_json(), "run_seconds": timing.seconds,
                "failures": timing.failures}

    def task_stage(self, task: dict) -> dict:
        from bench.pipeline import run_stage

        if task["stage"] != "landing":
            self.spark()  # the session is started by its own task; never inside a stage's time
        night = dt.date.fromisoformat(task["night"])
        timing = run_stage(task["stage"], night, self.instance, self.sampler, log_level=task.get("log_level", "DEBUG"),
                           part=task.get("part"))
        return {**self._timing(timing), **self._rows(night)}

    def task_whole(self, task: dict) -> dict:
        from bench.pipeline import run_whole

        self.spark()
        start, end = dt.date.fromisoformat(task["start"]), dt.date.fromisoformat(task["end"])
        timing = run_whole(start, end, self.instance, self.sampler, label=task["id"],
                           log_level=task.get("log_level", "DEBUG"))
        return {**self._timing(timing), **self._rows(start, end)}

    def task_retrain(self, task: dict) -> dict:
        """The weekly retrain job (training set, both models, promotion gate) on the lake's nights; ok when
        a failure model is champion afterwards (crowned for the measurement if the gate kept it challenger)."""
        from bench.network import crown_for_measurement
        from ml import registry
        from orchestration.runs import failures, retrain

        end = dt.date.fromisoformat(task["end"]) if task.get("end") else None
        result = retrain(dagster_instance=self.instance, log_level=task.get("log_level", "WARNING"), end_date=end)
        versions = crown_for_measurement()
        return {"_ok": result.success and versions[registry.FAILURE_MODEL] is not None,
                "failures": failures(result), "champions": versions}

    @staticmethod
    def _rows(start: dt.date, end: dt.date | None = None) -> dict:
        """Rows the night left in bronze and silver telemetry, gold machine_daily (what rates divide by) and
        the scoring tables (machines scored, alerts raised: 0 when scoring was skipped for want of a champion)."""
        from lakehouse import catalog
        from lakehouse.delta import Lake
        from ml.tables import FAILURE_RISK, MAINTENANCE_ALERTS

        lake = Lake()
        filters = [("date", ">=", start), ("date", "<=", end or start)]
        out = {}
        for name in ("bronze.telemetry", "silver.telemetry", "gold.machine_daily"):
            out[name.replace(".", "_") + "_rows"] = lake.count(name, filters=filters)
        for spec in (FAILURE_RISK, MAINTENANCE_ALERTS):
            out[spec.name.replace(".", "_") + "_rows"] = lake.count(spec, filters=filters)
        bronze = [s for s in catalog.tables("bronze") if lake.exists(s)]
        out["bronze_rows"] = sum(lake.count(s, filters=filters) for s in bronze)
        return out

    def task_lakestats(self, task: dict) -> dict:
        from bench.lakestats import lake_stats
        from lakehouse.delta import Lake

        return {"tables": [s.to_json() for s in lake_stats(Lake())]}

    def task_machine_daily_reference(self, task: dict) -> dict:
        """DuckDB and Spark computing the night's machine-health tables (gold.machine_sensor_daily and
        gold.machine_daily); DuckDB's rows checked against the pipeline's."""
        from bench.reference import compare_all, duckdb_machine_health, spark_machine_health
        from lakehouse.delta import Lake

        lake = Lake()
        start, end = dt.date.fromisoformat(task["start"]), dt.date.fromisoformat(task.get("end", task["start"]))
        repeats = task.get("repeats", 1)
        memory_limit = task.get("duckdb_memory_limit")
        duck_times, spark_times, duck_cpu, spark_cpu = [], [], [], []
        duck = {}
        for _ in range(repeats):
            cpu = tree_cpu()
            duck, seconds = duckdb_machine_health(lake, start, end, memory_limit=memory_limit)
            duck_times.append(seconds)
            duck_cpu.append(tree_cpu() - cpu)
        comparisons = compare_all(duck, lake, start, end)
        spark_rows = None
        if task.get("spark", True):
            spark = self.spark()
            for _ in range(repeats):
                cpu = tree_cpu()
                tables, seconds = spark_machine_health(spark, lake, start, end)
                spark_times.append(seconds)
                spark_cpu.append(tree_cpu() - cpu)
                spark_rows = sum(t.num_rows for t in tables.values())
        equal = all(c.equal for c in comparisons.values())
        return {"_ok": equal, "duckdb_seconds": min(duck_times), "duckdb_times": duck_times,
                "spark_seconds": min(spark_times) if spark_times else None, "spark_times": spark_times,
                "duckdb_cpu": min(duck_cpu), "spark_cpu": min(spark_cpu) if spark_cpu else None,
                "rows": sum(c.rows for c in comparisons.values()),
                "pipeline_rows": sum(c.other_rows for c in comparisons.values()), "spark_rows": spark_rows,
                "equal": equal, "mismatches": [m for c in comparisons.values() for m in c.mismatches]}

    def task_telemetry_forms(self, task: dict) -> dict:
        """The night's telemetry in each storage form: bytes per value, Spark's silver and gold work on it."""
        from bench.telemetry_form import measure
        from lakehouse.delta import Lake

        return measure(self.spark(), Lake(), dt.date.fromisoformat(task["night"]), Path(task["out"]),
                       task.get("repeats", 2))

    def task_landing_reference(self, task: dict) -> dict:
        from bench.landing_reference import landing_reference

        dates = [dt.date.fromisoformat(d) for d in task["dates"]]
        out = Path(task["out"])
        figures = landing_reference(task["landing"], dates, out, memory_limit=task.get("duckdb_memory_limit"))
        for path in out.glob("*.parquet"):
            path.unlink()
        return figures


def main() -> None:
    plan, out = Path(sys.argv[1]), Path(sys.argv[2])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    tasks = json.loads(plan.read_text())
    Worker(out).run(tasks)


if __name__ == "__main__":
    main()
