#!/usr/bin/env bash
# Make sure the local PostgreSQL cluster (default 15/main on 127.0.0.1:5432) is running and accepts
# connections; start it when it is not. Run as root (pg_ctlcluster switches to the cluster owner).
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
WAIT_SECONDS="${PG_WAIT_SECONDS:-30}"
# The database the test suites use by default (ENGRAM_TEST_PG_URL's default); created when missing.
TEST_DATABASE="${PG_TEST_DATABASE:-test}"

say() { printf '[ensure-postgres] %s\n' "$*"; }

ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; }

ensure_database() {
  [ -n "$TEST_DATABASE" ] || return 0
  local exists
  exists="$(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atc \
    "SELECT 1 FROM pg_database WHERE datname = '${TEST_DATABASE}'")"
  if [ "$exists" != "1" ]; then
    say "creating database ${TEST_DATABASE}"
    psql -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE \"${TEST_DATABASE}\""
  fi
}

if ready; then
  say "PostgreSQL is accepting connections on ${PG_HOST}:${PG_PORT}"
  ensure_database
  exit 0
fi

say "starting cluster ${PG_MAJOR}/${PG_CLUSTER}"
# A cluster that is already up (but not yet ready) makes start exit 2; waiting below covers it.
pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$PG_CLUSTER" start || true

for _ in $(seq 1 "$WAIT_SECONDS"); do
  if ready; then
    say "PostgreSQL is accepting connections on ${PG_HOST}:${PG_PORT}"
    ensure_database
    exit 0
  fi
  sleep 1
done
say "PostgreSQL did not accept connections on ${PG_HOST}:${PG_PORT} within ${WAIT_SECONDS}s" >&2
exit 1
