#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite: `start` prints its URL, `stop DIR` removes it.
# initdb and pg_ctl refuse to run as root, so as root they run as the postgres user.
set -euo pipefail

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
  echo "$dir"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local bin dir port
  bin=$(pg_bin)
  dir=$(mktemp -d /tmp/keel-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  port=$(free_port)
  as_owner "$bin/initdb" -D "$dir/data" -U keel --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U keel keel_test
  echo "$dir postgresql://keel@127.0.0.1:$port/keel_test"
}

stop() {
  local dir=$1
  [ -d "$dir/data" ] && as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "$2" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
