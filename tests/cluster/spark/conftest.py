"""The Spark part of SPEC §9b on its own: a standalone cluster (a master, two workers, the
Thrift Server; each its own JVM) started once for the session, stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hot.local.spark_cluster import EmbeddedSparkCluster

START_TIMEOUT_SEC = 600.0
"""Four JVMs start on two shared cores."""


@pytest.fixture(scope="package")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSparkCluster]:
    """A real standalone Spark cluster with two workers and its Thrift Server on loopback, its
    warehouse and metastore in a temporary folder (the shared disk)."""
    with EmbeddedSparkCluster(tmp_path_factory.mktemp("spark_cluster"), workers=2).start(
        START_TIMEOUT_SEC
    ) as cluster:
        yield cluster
