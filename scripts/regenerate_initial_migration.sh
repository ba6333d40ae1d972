#!/usr/bin/env bash
# Rebuild the single initial migration from the models (only while nothing has shipped on it).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f migrations/versions/*_initial_schema.py
DATABASE_URL="sqlite:///$tmp/gen.sqlite" .venv/bin/flask --app wsgi db migrate -m "initial schema" --rev-id 0001 >/dev/null 2>&1
rm -rf "$tmp"
ls migrations/versions
