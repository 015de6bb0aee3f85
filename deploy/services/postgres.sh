#!/usr/bin/env bash
# PostgreSQL for Polku's tests, benchmarks and local scale-out runs.
#
#   deploy/services/postgres.sh start   install (Debian's package) if missing, start, create databases
#   deploy/services/postgres.sh stop
#   deploy/services/postgres.sh crash   stop at once, as a power cut would (immediate shutdown; tests)
#   deploy/services/postgres.sh url     print the URL the tests use
#
# It runs a cluster of its own (trust authentication, loopback only) in $POLKU_SERVICES_DIR/postgres
# (default /var/tmp/polku-services), on port $POLKU_PG_PORT (default 5432), and creates the
# databases `test` and `polku`. If something on that port already accepts the URL, it is used as
# it is. Idempotent; quiet on success; on failure it prints the server log and exits non-zero.
set -euo pipefail

PORT="${POLKU_PG_PORT:-5432}"
BASE="${POLKU_SERVICES_DIR:-/var/tmp/polku-services}"
DATA="$BASE/postgres"
LOG="$BASE/postgres.log"
URL="postgresql://postgres@127.0.0.1:$PORT"

die() { echo "postgres.sh: $*" >&2; [ -f "$LOG" ] && tail -n 40 "$LOG" >&2; exit 1; }

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

install_postgres() {
  [ -n "$(pg_bin)" ] && return 0
  echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
  [ -n "$(pg_bin)" ] || die "PostgreSQL was installed but no pg_ctl was found under /usr/lib/postgresql"
}

# Run a PostgreSQL program as the unprivileged `postgres` user when we are root (the server refuses root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

accepts() { psql "$URL/postgres" -qtAc 'select 1' >/dev/null 2>&1; }

create_databases() {
  local db
  for db in test polku; do
    if [ -z "$(psql "$URL/postgres" -qtAc "select 1 from pg_database where datname = '$db'")" ]; then
      psql "$URL/postgres" -qc "create database \"$db\"" >/dev/null || die "cannot create database $db"
    fi
  done
}

start() {
  if accepts; then create_databases; return 0; fi
  install_postgres
  local bin; bin=$(pg_bin)
  mkdir -p "$BASE"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$BASE" 2>/dev/null || true
  touch "$LOG"; [ "$(id -u)" -eq 0 ] && chown postgres: "$LOG"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >>"$LOG" 2>&1 \
      || die "initdb failed"
  fi
  as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c max_connections=300 -c fsync=on" start >/dev/null \
    || die "the server did not start"
  for _ in $(seq 1 50); do accepts && break; sleep 0.2; done
  accepts || die "the server started but does not accept $URL"
  create_databases
}

stop() {
  local mode="${1:-fast}" bin; bin=$(pg_bin) || return 0
  [ -f "$DATA/postmaster.pid" ] || return 0
  as_owner "$bin/pg_ctl" -D "$DATA" -m "$mode" -w stop >/dev/null || die "the server did not stop"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  crash) stop immediate ;;
  url) echo "$URL/test" ;;
  *) echo "usage: $0 start|stop|crash|url" >&2; exit 2 ;;
esac
