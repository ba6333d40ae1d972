#!/usr/bin/env bash
# The whole suite twice: on SQLite, and on a throwaway PostgreSQL cluster, side by side.
# Pure unit tests (solvers, domain, channel mapping) need no database and run once, in the SQLite pass.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
reports=${KEEL_TEST_REPORTS:-$(mktemp -d /tmp/keel-tests.XXXXXX)}
mkdir -p "$reports"

cluster=$(scripts/test_postgres.sh start) || { echo "could not start PostgreSQL" >&2; exit 1; }
pg_dir=${cluster%% *}
pg_url=${cluster#* }
trap 'scripts/test_postgres.sh stop "$pg_dir"' EXIT

KEEL_TEST_BACKEND=sqlite $PY -m pytest tests -p no:cacheprovider --durations=15 --junitxml="$reports/sqlite.xml" "$@" \
  >"$reports/sqlite.log" 2>&1 &
sqlite_pid=$!
KEEL_TEST_BACKEND=postgresql KEEL_TEST_DATABASE_URL="$pg_url" $PY -m pytest tests --ignore=tests/unit \
  -p no:cacheprovider --durations=15 --junitxml="$reports/postgresql.xml" "$@" >"$reports/postgresql.log" 2>&1 &
pg_pid=$!
wait $sqlite_pid; sqlite_rc=$?
wait $pg_pid; pg_rc=$?

echo "=== SQLite pass ==="; cat "$reports/sqlite.log"
echo "=== PostgreSQL pass ==="; cat "$reports/postgresql.log"
$PY scripts/test_summary.py "$reports/sqlite.xml" "$reports/postgresql.xml"
summary_rc=$?
[ $sqlite_rc -eq 0 ] && [ $pg_rc -eq 0 ] && [ $summary_rc -eq 0 ]
