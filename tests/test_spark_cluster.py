"""The scale-out path is real: the bridge runs on a Spark standalone master and worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from lakehouse.delta import Lake
from lakehouse.settings import Settings
from tests.lakedata import READINGS, START, readings, sorted_rows
from tests.servers import SparkStandalone

pytestmark = [pytest.mark.spark, pytest.mark.cluster]

JOB = textwrap.dedent(
    """
    import json, sys
    from pyspark.sql import functions as F
    from lakehouse import bridge
    from lakehouse.delta import Lake
    from lakehouse.spark import session
    from tests.lakedata import READINGS, START

    spark = session()
    lake = Lake(sys.argv[1])
    df = bridge.read_table(spark, lake, READINGS, filters=[("plant_id", "=", "P01")])
    doubled = df.withColumn("value", F.col("value") * 2)
    version = bridge.write_table(doubled, lake, READINGS, date=START, plant_ids=["P01"], via="parquet")
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
    print(json.dumps({"master": spark.sparkContext.master, "version": version, "executors": executors,
                      "tasks_host": spark.sparkContext.parallelize(range(4), 4).map(lambda _: 1).sum()}))
    spark.stop()
    """
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    spark_cluster = SparkStandalone(tmp_path_factory.mktemp("spark-cluster"), cores=1, memory="2g").start()
    try:
        yield spark_cluster
    finally:
        spark_cluster.stop()


def test_bridge_reads_and_writes_through_a_standalone_cluster(cluster, tmp_path):
    lake = Lake(str(tmp_path / "lake"), Settings.from_env())
    original = readings(START, ["P01", "P02"])
    lake.append(READINGS, original)
    env = {**os.environ, "PLANTLAKE_SPARK_MASTER": cluster.url, "PLANTLAKE_SPARK_DRIVER_MEMORY": "1g"}
    done = subprocess.run([sys.executable, "-c", JOB, lake.root], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["master"] == cluster.url
    assert result["executors"] == 1  # the worker's executor ran the job, not the driver
    assert result["tasks_host"] == 4
    assert result["version"] == lake.version(READINGS)

    rows = sorted_rows(lake.read(READINGS))
    expected = [{**r, "value": r["value"] * 2 if r["plant_id"] == "P01" else r["value"]} for r in sorted_rows(original)]
    assert rows == expected
