#!/usr/bin/env bash
# Starts (once) a throwaway PostgreSQL cluster on loopback for the store tests and prints its
# URL, for NIGHTSHIFT_TEST_POSTGRES_URL. Debian's `postgresql` package provides the binaries;
# the server refuses to run as root, so as root the cluster belongs to the `postgres` user.
#   export NIGHTSHIFT_TEST_POSTGRES_URL="$(scripts/test_postgres.sh)"
# Stop it with: scripts/test_postgres.sh stop
set -euo pipefail
BIN=${NIGHTSHIFT_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
DATA=${NIGHTSHIFT_PG_DATA:-/tmp/nightshift-pg}
PORT=${NIGHTSHIFT_PG_PORT:-5433}
DB=nightshift_test
ROLE=nightshift
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "test_postgres: no PostgreSQL server binaries (apt-get install postgresql)" >&2
  exit 1
fi
# Runs a command as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/bash -c "$1"; else bash -c "$1"; fi
}
if [ "${1:-}" = "stop" ]; then
  as_owner "'$BIN/pg_ctl' -D '$DATA' -m fast stop" >&2
  exit 0
fi
if [ ! -f "$DATA/PG_VERSION" ]; then
  # Trust on loopback only: the cluster listens on 127.0.0.1 and a socket in /tmp, nothing else.
  as_owner "'$BIN/initdb' -D '$DATA' -E UTF8 --locale=C -A trust -U postgres" >/dev/null
fi
if ! as_owner "'$BIN/pg_ctl' -D '$DATA' status" >/dev/null 2>&1; then
  as_owner "'$BIN/pg_ctl' -D '$DATA' -w -l '$DATA.log' \
    -o '-k /tmp -p $PORT -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off' start" >/dev/null
fi
psql() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }
if [ -z "$(psql -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" ]; then
  psql -d postgres -c "CREATE ROLE $ROLE LOGIN" >/dev/null
fi
if [ -z "$(psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
  psql -d postgres -c "CREATE DATABASE $DB OWNER $ROLE" >/dev/null
fi
echo "postgres://$ROLE@127.0.0.1:$PORT/$DB"
