"""The one settings object, read once from the environment.

Every component (CLI, Dagster, the API) gets its configuration from :func:`get_settings`.
The variables are documented in the README.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

D = TypeVar("D", int, float, None)
"""A setting's default (``None``: unset means "chosen elsewhere")."""


def _env_int(name: str, default: D) -> int | D:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: D) -> float | D:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_str(name: str) -> str | None:
    raw = os.environ.get(name)
    return raw if raw else None


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of Imoutotv Hot (all fields come from ``HOT_*`` variables)."""

    data_dir: Path
    redis_url: str | None
    jwt_secret: str | None
    jwt_public_key: str | None
    jwt_algorithms: tuple[str, ...]
    jwt_audience: str | None
    jwt_issuer: str | None
    jwt_leeway_sec: int
    creator_cap: int
    top_n: int
    snapshots_retained: int
    feature_flag_default: bool
    stale_serve_sec: int
    personal_blend: float | None
    """Override of the blend each embeddings version records (``None``: the version's)."""
    personal_demote_watched: float
    dev_login: bool
    embed_dim: int | None
    """Override of the ALS factors the embeddings job chooses (``None``: chosen by the data)."""
    embed_every_batches: int
    embed_tune_budget_sec: float = 900.0
    """Time budget of one embeddings job's training: tuning, check and final fit."""
    bench_endpoints: bool = False
    """Mount the /bench/* comparison endpoints (``HOT_BENCH_ENDPOINTS=1``; bench/api.py only)."""
    redis_cluster: bool = False
    """``HOT_REDIS_URL`` is a node of a Redis Cluster (``HOT_REDIS_CLUSTER=1``)."""
    stock_internals: bool = False
    """Run on the dependencies' stock behaviour where the project tunes their internals
    (``HOT_STOCK_INTERNALS=1``): Dagster's default run launcher and SQLite event log, dbt
    through dagster-dbt's ``dbt`` subprocess; for an upgrade the contract tests flag."""
    engine: str = "duckdb"
    """The engine of the Hot Score Job (``HOT_ENGINE``, SPEC §9): ``duckdb`` or ``spark``."""
    spark_host: str | None = None
    """A Spark Thrift Server to run on (``HOT_SPARK_HOST``); unset: a local session."""
    spark_port: int = 10000
    """Its port (``HOT_SPARK_PORT``)."""
    spark_master: str = "local[*]"
    """The master of the local session (``HOT_SPARK_MASTER``)."""
    spark_table_format: str = "parquet"
    """The tables of the pipeline on Spark (``HOT_SPARK_TABLE_FORMAT``, SPEC §9): ``parquet``
    (any Spark) or ``delta`` (Delta Lake, jars fetched by the setup; ``merge`` incremental)."""
    events_source: str = "files"
    """Where engagement events come from (``HOT_EVENTS_SOURCE``): ``files`` (the landing
    zone) or ``kafka`` (SPEC §2b)."""
    kafka_topic: str = "hot.events"
    """The topic of the events (``HOT_KAFKA_TOPIC``)."""
    kafka_bootstrap: str = "localhost:9092"
    """``bootstrap.servers`` of the Kafka cluster (``HOT_KAFKA_BOOTSTRAP``; `hot kafka`'s port
    by default)."""
    kafka_max_batch: int = 1_000_000
    """At most this many messages of a partition in one micro-batch (``HOT_KAFKA_MAX_BATCH``)."""
    dagster_pg_url: str | None = None
    """Dagster's run, event-log and schedule storage in this PostgreSQL database
    (``HOT_DAGSTER_PG_URL``, SPEC §9b); unset: SQLite files in ``DAGSTER_HOME``."""

    @property
    def landing_dir(self) -> Path:
        """Root of the landing zone (one folder per source)."""
        return self.data_dir / "landing"

    @property
    def duckdb_path(self) -> Path:
        """The DuckDB warehouse file shared by ingest, dbt and publish."""
        return self.data_dir / "warehouse.duckdb"

    @property
    def lancedb_dir(self) -> Path:
        """The LanceDB database directory (embeddings)."""
        return self.data_dir / "lancedb"

    @property
    def dagster_home(self) -> Path:
        """DAGSTER_HOME used by `hot demo` / `hot run`."""
        return self.data_dir / "dagster_home"

    @property
    def audit_dir(self) -> Path:
        """Where the moderation service keeps its append-only audit log."""
        return self.data_dir / "audit"

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from the process environment (validated, with defaults)."""
        algorithms = tuple(
            a.strip() for a in os.environ.get("HOT_JWT_ALGORITHMS", "").split(",") if a.strip()
        )
        public_key = _env_str("HOT_JWT_PUBLIC_KEY")
        if public_key and not public_key.lstrip().startswith("-----BEGIN"):
            public_key = Path(public_key).read_text()  # a path to a PEM file
        secret = _env_str("HOT_JWT_SECRET")
        data_dir = Path(os.environ.get("HOT_DATA_DIR", "./.hot")).resolve()
        if not secret and not public_key:
            secret = _local_secret(data_dir)
        if not algorithms:
            algorithms = ("RS256", "ES256") if public_key and not secret else ("HS256",)
        if "none" in {a.lower() for a in algorithms}:
            raise ValueError("HOT_JWT_ALGORITHMS must not contain 'none'")
        settings = cls(
            data_dir=data_dir,
            redis_url=_env_str("HOT_REDIS_URL"),
            jwt_secret=secret,
            jwt_public_key=public_key,
            jwt_algorithms=algorithms,
            jwt_audience=_env_str("HOT_JWT_AUDIENCE"),
            jwt_issuer=_env_str("HOT_JWT_ISSUER"),
            jwt_leeway_sec=_env_int("HOT_JWT_LEEWAY_SEC", 30),
            creator_cap=_env_int("HOT_CREATOR_CAP", 2),
            top_n=_env_int("HOT_TOP_N", 1000),
            snapshots_retained=_env_int("HOT_SNAPSHOTS_RETAINED", 5),
            feature_flag_default=_env_bool("HOT_FEATURE_FLAG_DEFAULT", False),
            stale_serve_sec=_env_int("HOT_STALE_SERVE_SEC", 300),
            personal_blend=_env_float("HOT_PERSONAL_BLEND", None),
            personal_demote_watched=_env_float("HOT_PERSONAL_DEMOTE_WATCHED", 1.0),
            dev_login=_env_bool("HOT_DEV_LOGIN", False),
            embed_dim=_env_int("HOT_EMBED_DIM", None),
            embed_every_batches=_env_int("HOT_EMBED_EVERY_BATCHES", 5),
            embed_tune_budget_sec=_env_float("HOT_EMBED_TUNE_BUDGET_SEC", 900.0),
            bench_endpoints=_env_bool("HOT_BENCH_ENDPOINTS", False),
            redis_cluster=_env_bool("HOT_REDIS_CLUSTER", False),
            stock_internals=_env_bool("HOT_STOCK_INTERNALS", False),
            engine=(os.environ.get("HOT_ENGINE") or "duckdb").strip().lower(),
            spark_host=_env_str("HOT_SPARK_HOST"),
            spark_port=_env_int("HOT_SPARK_PORT", 10000),
            spark_master=_env_str("HOT_SPARK_MASTER") or "local[*]",
            spark_table_format=(os.environ.get("HOT_SPARK_TABLE_FORMAT") or "parquet")
            .strip()
            .lower(),
            events_source=(os.environ.get("HOT_EVENTS_SOURCE") or "files").strip().lower(),
            kafka_topic=_env_str("HOT_KAFKA_TOPIC") or "hot.events",
            kafka_bootstrap=_env_str("HOT_KAFKA_BOOTSTRAP") or "localhost:9092",
            kafka_max_batch=_env_int("HOT_KAFKA_MAX_BATCH", 1_000_000),
            dagster_pg_url=_env_str("HOT_DAGSTER_PG_URL"),
        )
        if settings.creator_cap < 1:
            raise ValueError("HOT_CREATOR_CAP must be >= 1")
        if settings.top_n < 1:
            raise ValueError("HOT_TOP_N must be >= 1")
        if settings.personal_blend is not None and not 0.0 <= settings.personal_blend <= 1.0:
            raise ValueError("HOT_PERSONAL_BLEND must be within [0, 1]")
        if settings.embed_dim is not None and settings.embed_dim < 1:
            raise ValueError("HOT_EMBED_DIM must be >= 1")
        if settings.embed_tune_budget_sec <= 0:
            raise ValueError("HOT_EMBED_TUNE_BUDGET_SEC must be > 0")
        if settings.events_source not in ("files", "kafka"):
            raise ValueError("HOT_EVENTS_SOURCE must be 'files' or 'kafka'")
        if settings.kafka_max_batch < 1:
            raise ValueError("HOT_KAFKA_MAX_BATCH must be >= 1")
        if settings.engine not in ("duckdb", "spark"):
            raise ValueError("HOT_ENGINE must be 'duckdb' or 'spark'")
        if settings.spark_table_format not in ("parquet", "delta"):
            raise ValueError(
                f"HOT_SPARK_TABLE_FORMAT must be 'parquet' or 'delta', "
                f"got {os.environ.get('HOT_SPARK_TABLE_FORMAT')!r}"
            )
        if settings.dagster_pg_url and not settings.dagster_pg_url.startswith("postgresql"):
            # SQLAlchemy's scheme: `postgres://` (libpq's alias) fails later, less clearly.
            raise ValueError("HOT_DAGSTER_PG_URL must be a postgresql:// URL")
        if settings.redis_cluster and not settings.redis_url:
            # The embedded server started when the URL is unset is a single Redis.
            raise ValueError("HOT_REDIS_CLUSTER=1 needs HOT_REDIS_URL (any node of the cluster)")
        return settings


def _local_secret(data_dir: Path) -> str:
    """A per-data-dir HS256 secret for local use when no key is configured.

    Kept in a file so `hot token` and the API (other processes) agree on it.
    """
    path = data_dir / "jwt_secret"
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(value)
    tmp.chmod(0o600)
    tmp.replace(path)
    return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings.from_env()
