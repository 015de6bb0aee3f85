#!/usr/bin/env bash
# Everything Polku's tests and benchmarks need, installed and started by the project itself:
# PostgreSQL (deploy/services/postgres.sh), Apache Kafka's jars (deploy/kafka/broker.py, which
# the tests use to start brokers of their own). Idempotent; quiet on success, loud on failure.
#   PYTHON=.venv/bin/python deploy/services/up.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"

need() {  # need COMMAND DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "up.sh: installing $2 from Debian's packages" >&2
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null \
    || { echo "up.sh: cannot install $2" >&2; exit 1; }
}

deploy/services/postgres.sh start
need java openjdk-17-jre-headless
need mvn maven
need chromium chromium  # the dashboard's browser tests (tests/dashboard) drive Debian's Chromium
"$PYTHON" deploy/kafka/broker.py classpath >/dev/null
