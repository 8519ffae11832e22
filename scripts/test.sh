#!/usr/bin/env bash
# The one test command: installs what the tests need, then runs every check and test.
#   bash scripts/test.sh
# Heavy runs (1000-cycle crash torture, full benchmarks) are separate scripts; a short
# variant of each runs here. Any failing step stops the script with a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n=== %s\n' "$*"; }

# Runs a command as root (CI is root; elsewhere through sudo when there is one).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    echo "need root to run: $*" >&2
    return 1
  fi
}

# apt-get install, refreshing the package lists first only if the install fails.
apt_install() {
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y --no-install-recommends "$@" ||
    { as_root apt-get update && as_root apt-get install -y --no-install-recommends "$@"; }
}

# pip install into the python3 that runs the tests (Debian's own python3 refuses plain pip
# installs, PEP 668: then with --break-system-packages, as the tests need current versions).
pip_install() {
  log "installing Python packages: $*"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip
  fi
  python3 -m pip install --quiet "$@" ||
    python3 -m pip install --quiet --break-system-packages "$@"
}

# ---- peers the tests need (installed only when missing) -----------------------------------
if ! command -v cargo >/dev/null; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi

log "peers: redis-cli, redis-benchmark, redis-server (Redis 7, the reference), python3 with redis-py, pytest and rq"
if ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null || ! command -v redis-server >/dev/null; then
  apt_install redis-tools redis-server
fi
if ! command -v python3 >/dev/null; then
  apt_install python3
fi
# redis-py 5 or newer: RESP3 (protocol=3).
if ! python3 -c 'import sys, redis, pytest, rq; sys.exit(int(redis.__version__.split(".")[0]) < 5)' 2>/dev/null; then
  pip_install 'redis>=5' pytest rq
fi
echo "redis-cli: $(redis-cli --version)"
echo "python3: $(python3 --version 2>&1), redis-py $(python3 -c 'import redis; print(redis.__version__)'), pytest $(python3 -c 'import pytest; print(pytest.__version__)')"

# ---- checks and tests ----------------------------------------------------------------------
log "format"
cargo fmt --all -- --check

log "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests (unit, integration, property, crash, corruption, restart, doc)"
cargo test --workspace --locked

log "benchmarks build and run once (smoke)"
cargo bench -p pmemkv-benches --locked -- --test

log "pmemkv-server with real clients: redis-py, redis-cli, redis-benchmark (and Redis 7 side by side)"
cargo build -p resp-server --locked
python3 -m pytest -q resp-server/tests/python

log "redis-benchmark comparison with Redis 7 (smoke: every workload runs on both servers)"
SMOKE=1 python3 benches/redis-compare.py

log "all checks passed"
