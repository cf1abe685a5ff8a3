"""The Spark session: local by default, a cluster or Spark Connect server by setting.

``local[*]`` needs nothing; ``PLANTLAKE_SPARK_MASTER=spark://host:7077`` runs on a
standalone cluster; ``SPARK_REMOTE=sc://host:15002`` talks to a Spark Connect server.
Every session uses UTC and writes TIMESTAMP_MICROS, so Spark and delta-rs agree on time.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from pyspark.sql import SparkSession

from lakehouse import class_archive, jvm_names
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
JAVA_OPTIONS = "spark.driver.extraJavaOptions"
#: Spark checks a read's files on the driver up to this many paths; past them, in a job of one task per file.
DRIVER_FILE_CHECKS = ("spark.sql.sources.parallelPartitionDiscovery.threshold", "1000000")


def base_config(settings: Settings) -> dict[str, str]:
    """The configuration every plantlake session gets."""
    shuffle = max(2, settings.spark_cores * 2)
    config = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.parquet.compression.codec": "snappy",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.shuffle.partitions": str(shuffle),
        "spark.default.parallelism": str(shuffle),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.ui.enabled": "true" if settings.spark_ui else "false",
        "spark.ui.showConsoleProgress": "false",
        # Spark 4 records the Python line of every Column call for its error messages: several JVM round
        # trips per call, a good part of a small night's time (docs/configuration.md says how to turn it on).
        "spark.python.sql.dataFrameDebugging.enabled": "false",
    }
    if not settings.spark_s3a:
        # Reads hand Spark their files from the Delta log (lakehouse/bridge.py). Past 32 paths Spark checks them
        # in a job of one task per file, each task decoding the whole Hadoop configuration (about 1,100 entries):
        # on local or mounted storage the driver's own check costs a fraction of that. Through s3a each check
        # is a request to the store, which Spark's parallel job spreads over the executors: left as it is.
        config.update([DRIVER_FILE_CHECKS])
    if settings.spark_jars:
        config["spark.jars"] = settings.spark_jars
    if settings.spark_delta:
        config["spark.sql.extensions"] = DELTA_EXTENSION
        config["spark.sql.catalog.spark_catalog"] = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    if settings.spark_s3a:
        s3 = settings.s3
        config.update(
            {
                "spark.hadoop.fs.s3a.path.style.access": "true",
                "spark.hadoop.fs.s3a.endpoint.region": s3.region,
                "spark.hadoop.fs.s3a.connection.ssl.enabled": "false" if s3.allow_http else "true",
            }
        )
        if s3.endpoint_url:
            config["spark.hadoop.fs.s3a.endpoint"] = s3.endpoint_url
        if s3.access_key_id and s3.secret_access_key:
            config["spark.hadoop.fs.s3a.access.key"] = s3.access_key_id
            config["spark.hadoop.fs.s3a.secret.key"] = s3.secret_access_key
    config.update(settings.spark_conf)  # PLANTLAKE_SPARK_CONF: the operator's word is the last
    return config


def session(settings: Settings | None = None, app_name: str = "plantlake",
            config: Mapping[str, str] | None = None) -> SparkSession:
    """The process's Spark session (created on first use, then reused).

    ``config``: properties of one use of the session (``plantlake serve``'s Thrift server); they
    override plantlake's defaults, and PLANTLAKE_SPARK_CONF overrides them.
    """
    settings = settings or get_settings()
    if settings.spark_remote:
        log.info("Spark Connect session at %s", settings.spark_remote)
        return SparkSession.builder.remote(settings.spark_remote).appName(app_name).getOrCreate()

    # Executors run the same Python as the driver, also on a standalone cluster.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if settings.spark_master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    builder = SparkSession.builder.master(settings.spark_master).appName(app_name)
    builder = builder.config("spark.driver.memory", settings.spark_driver_memory)
    if settings.spark_master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    operator = dict(settings.spark_conf)
    properties = base_config(settings)
    properties.update({key: value for key, value in (config or {}).items() if key not in operator})
    archive = class_archive.java_options(settings)  # lakehouse/class_archive.py: a faster start when there is one
    if archive:
        options = properties.get(JAVA_OPTIONS, "")
        properties[JAVA_OPTIONS] = f"{options} {archive}".strip()
    for key, value in properties.items():
        builder = builder.config(key, value)
    if settings.spark_delta and not settings.spark_jars:
        from delta import configure_spark_with_delta_pip

        builder = configure_spark_with_delta_pip(builder)  # resolves the jars from Maven
    spark = builder.getOrCreate()
    jvm_names.remember(spark.sparkContext._jvm)  # lakehouse/jvm_names.py: each name resolved once
    spark.sparkContext.setLogLevel("WARN")
    log.info("Spark session on %s (Spark %s)", settings.spark_master, spark.version)
    return spark


def release_memory(spark: SparkSession, above: float = 0.5) -> bool:
    """Give the driver JVM's unused heap back to the system at the end of a Spark step that grew
    the heap past ``above`` of its maximum (``spark.driver.memory``); True if it did.

    G1 keeps the heap a step grew to committed, so in one process the next step (checks,
    scoring: Python) would add its memory on top of it. A full collection (cheap next to a step;
    docs/performance.md) lets G1 shrink the heap. A smaller heap is left alone: re-growing it
    would cost the next step more than it gives back. On Spark Connect the driver is not this
    process's to collect.
    """
    if is_connect(spark):
        return False
    jvm = spark.sparkContext._jvm
    runtime = jvm.java.lang.Runtime.getRuntime()
    if runtime.totalMemory() < above * runtime.maxMemory():
        return False
    jvm.java.lang.System.gc()
    return True


def is_connect(spark: SparkSession) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def delta_configured(spark: SparkSession) -> bool:
    """Whether this session reads Delta natively (delta-spark extension configured)."""
    try:
        return DELTA_EXTENSION in (spark.conf.get("spark.sql.extensions", "") or "")
    except Exception:  # a Connect server may refuse to show static config
        return False
