#!/usr/bin/env bash
# The one test command: installs what the tests need, then runs every check and test.
#   bash scripts/test.sh
# Heavy runs (1000-cycle crash torture, full benchmarks) are separate scripts; a short
# variant of each runs here.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n=== %s\n' "$*"; }

# Peers the tests need. The engine's tests need only the Rust toolchain; the server's
# client tests (redis-cli, redis-py) add their installs here.
if ! command -v cargo >/dev/null; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi

log "format"
cargo fmt --all -- --check

log "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests (unit, integration, property, crash, corruption, doc)"
cargo test --workspace --locked

log "benchmarks build and run once (smoke)"
cargo bench -p pmemkv-benches --locked -- --test

log "all checks passed"
