#!/usr/bin/env bash
# Rebuild the single initial migration from the models (only while nothing has shipped on it).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
# Later hand-written revisions (0002_..., DDL the models cannot express) hang off 0001; set them
# aside while 0001 is rebuilt so Alembic sees an empty history, and put them back whatever happens.
mkdir "$tmp/later"
find migrations/versions -maxdepth 1 -name '*.py' ! -name '*_initial_schema.py' -exec mv {} "$tmp/later/" \;
trap 'mv "$tmp"/later/*.py migrations/versions/ 2>/dev/null || true; rmdir "$tmp/later" 2>/dev/null && rm -rf "$tmp" || true' EXIT
rm -f migrations/versions/*_initial_schema.py
DATABASE_URL="sqlite:///$tmp/gen.sqlite" .venv/bin/flask --app wsgi db migrate -m "initial schema" --rev-id 0001 >/dev/null 2>&1
mv "$tmp"/later/*.py migrations/versions/ 2>/dev/null || true
ls migrations/versions
