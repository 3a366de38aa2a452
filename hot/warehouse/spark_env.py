"""A local Spark session for this process: its settings (the one place they are written),
the jars it needs, and the checks that fail at once, in one line, when Spark cannot run here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from hot.warehouse.seam import EngineUnavailable

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from hot.settings import Settings

_ROOT = Path(__file__).resolve().parents[2]

SPARK_KAFKA_JARS = _ROOT / "vendor" / "spark-kafka" / "jars"
"""Spark's Kafka source and its dependencies, fetched by scripts/setup.sh (mvn)."""

DELTA_JARS = _ROOT / "vendor" / "delta" / "jars"
"""Delta Lake (delta-spark, delta-storage), fetched by scripts/setup.sh (mvn)."""

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # A table's state (its log) is rebuilt in 50 tasks by default, sized for clusters; a local
    # session's tables have small logs: 2 tasks make a pass ~2-3x faster (docs/scale-out.md).
    "spark.databricks.delta.snapshotPartitions": "2",
}
"""What a local session needs for Delta tables (``HOT_SPARK_TABLE_FORMAT=delta``). The Delta
catalogue still creates and reads plain parquet tables (``using parquet``)."""


def spark_jars(settings: Settings) -> list[Path]:
    """The jars a local session needs for ``settings``: Spark's Kafka source when the events
    come from Kafka (SPEC §2b), Delta Lake for Delta tables (SPEC §9).
    :class:`EngineUnavailable` when they were never fetched."""
    needs = [
        (
            settings.events_source == "kafka",
            SPARK_KAFKA_JARS,
            "HOT_EVENTS_SOURCE=kafka on HOT_ENGINE=spark needs Spark's Kafka source",
        ),
        (
            settings.spark_table_format == "delta",
            DELTA_JARS,
            "HOT_SPARK_TABLE_FORMAT=delta needs Delta Lake's jars",
        ),
    ]
    jars: list[Path] = []
    for needed, folder, what in needs:
        if needed:
            found = sorted(folder.glob("*.jar"))
            if not found:
                raise EngineUnavailable(
                    f"{what} in {folder}: run `make setup` (it fetches the jars with mvn)"
                )
            jars += found
    return jars


def spark_conf(settings: Settings) -> dict[str, str]:
    """The settings of a local session, the one place they are written: dbt runs in the
    session this process creates with them (dbt/profiles.yml's ``spark`` target has none of
    its own), with the jars of :func:`spark_jars`."""
    return driver_conf(
        settings.data_dir / "spark",
        settings.spark_master,
        spark_jars(settings),
        delta=settings.spark_table_format == "delta",
    )


def driver_conf(spark_dir: Path, master: str, jars: list[Path], delta: bool) -> dict[str, str]:
    """The settings of a Spark driver on ``master`` with its warehouse and Derby metastore
    under ``spark_dir``: a local session's (:func:`spark_conf`) or the Thrift Server's of a
    standalone cluster (:class:`hot.local.spark_cluster.EmbeddedSparkCluster`)."""
    return {
        **({"spark.jars": ",".join(map(str, jars))} if jars else {}),
        "spark.master": master,
        "spark.app.name": "imoutotv-hot",
        "spark.sql.warehouse.dir": str(spark_dir / "warehouse"),
        # The embedded (Derby) Hive metastore: the table catalogue of the warehouse.
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={spark_dir}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": os.environ.get("HOT_SPARK_SHUFFLE_PARTITIONS") or "8",
        "spark.ui.enabled": "false",
        # No stage progress bars on the command line's terminal.
        "spark.ui.showConsoleProgress": "false",
        **(DELTA_CONF if delta else {}),
    }


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except OSError:
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8" is Java 8


def require_engine(settings: Settings) -> None:
    """Fail at once, with one line saying what to install, when ``HOT_ENGINE`` cannot run."""
    if settings.engine != "spark":
        return
    extra = "install the spark extra: pip install -e '.[spark]'"
    if importlib.util.find_spec("dbt.adapters.spark") is None:
        raise EngineUnavailable(f"HOT_ENGINE=spark needs dbt-spark: {extra}")
    if settings.spark_host:
        if importlib.util.find_spec("pyhive") is None:
            raise EngineUnavailable(f"HOT_SPARK_HOST needs PyHive: {extra}")
        return
    if importlib.util.find_spec("pyspark") is None:
        raise EngineUnavailable(f"HOT_ENGINE=spark needs pyspark: {extra}")
    spark_jars(settings)
    java_home = os.environ.get("JAVA_HOME")
    # What pyspark's launcher runs: $JAVA_HOME/bin/java, else java on PATH.
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    install = "install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
    if not java or not Path(java).is_file():
        where = f"no {java} (JAVA_HOME)" if java_home else "no java on PATH and JAVA_HOME unset"
        raise EngineUnavailable(f"HOT_ENGINE=spark needs Java 17 or later: {where}; {install}")
    major = _java_major(java)
    if major is None or major < 17:
        raise EngineUnavailable(
            f"HOT_ENGINE=spark needs Java 17 or later: {java} is Java {major or '?'}; {install}"
        )


def spark_session(settings: Settings) -> SparkSession:
    """This process's Spark session (local, warehouse and metastore under
    ``$HOT_DATA_DIR/spark/``), created on first use with :func:`spark_conf`. dbt-spark's
    ``session`` method calls ``getOrCreate()``, so dbt runs in this same session."""
    require_engine(settings)
    from pyspark.sql import SparkSession

    conf = spark_conf(settings)
    active = SparkSession.getActiveSession()
    if active is not None:
        # One JVM, one metastore: a second data dir in the same process would silently share
        # the first one's tables.
        have = active.conf.get("spark.sql.warehouse.dir")
        if Path(have.removeprefix("file:")) != Path(conf["spark.sql.warehouse.dir"]):
            raise RuntimeError(
                f"this process's Spark session keeps its tables in {have}, not under "
                f"{settings.data_dir}: one HOT_DATA_DIR per process on Spark"
            )
        return active
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
