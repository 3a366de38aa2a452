#!/usr/bin/env bash
# Set up Imoutotv Hot on a fresh machine: system packages, a venv with pinned deps, dbt manifest.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "setup: Python >= 3.11 is required (found $("$PY" --version 2>&1))" >&2; exit 1; }

# System packages: redis-server (embedded Redis), chromium (UI tests), wrk (API benchmark),
# Java 17+ (the local Spark session of HOT_ENGINE=spark and its tests, the embedded Kafka broker),
# maven (fetches the Kafka jars below), PostgreSQL (Dagster's storage in `hot cluster`, SPEC §9b;
# its binaries live in /usr/lib/postgresql/<version>/bin, off PATH).
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
command -v wrk >/dev/null || missing+=(wrk)
command -v mvn >/dev/null || missing+=(maven)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
[ "$(java_major 2>/dev/null || true)" -ge 17 ] 2>/dev/null || missing+=(openjdk-17-jre-headless)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else
    echo "setup: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python environment, pinned by constraints.txt (the versions the test suite passed with).
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip uv
.venv/bin/uv pip install -q --python .venv/bin/python -c constraints.txt -e ".[test,spark,kafka,postgres]"
# Byte-compiled once here: uv does not compile, and with PYTHONDONTWRITEBYTECODE set (as in CI)
# every process would compile Dagster, dbt and their imports again (4.2 s instead of ~2 s
# for `import dagster, dagster_dbt`). Only what is missing or stale is compiled.
.venv/bin/python -m compileall -q -j 0 -x '/tests?/' .venv/lib >/dev/null || true

# Jars from Maven Central, by `mvn` from the pom of each vendor/ folder into its jars/: the
# embedded Kafka broker (`hot kafka`, SPEC §2b), Spark's Kafka source and Delta Lake (SPEC §9).
# Fetched here, never at run time. A folder is fetched again when its pom changed: the
# marker holds the hash of the pom its jars came from.
for pom in vendor/*/pom.xml; do
  vendor=$(dirname "$pom")
  want=$(sha256sum "$pom" | cut -d' ' -f1)
  if [ "$(cat "$vendor/jars/.complete" 2>/dev/null)" != "$want" ]; then
    echo "setup: fetching the jars of $vendor (mvn)"
    rm -rf "$vendor/jars"
    mvn -q -B -f "$pom" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$PWD/$vendor/jars"
    echo "$want" > "$vendor/jars/.complete"
  fi
done

# dbt manifest for Dagster (parsed offline; no packages to download).
(cd dbt && DBT_SEND_ANONYMOUS_USAGE_STATS=false ../.venv/bin/dbt parse --quiet --profiles-dir .)
echo "setup: ready (.venv)"
