#!/usr/bin/env bash
# Space-reclamation check at the issue's scale, in release: 100 000 keys of ~100-byte values
# overwritten 50 times (background maintenance, then explicit compaction); fails if the store
# directory ever exceeds a constant factor of the live data (pmemkv/tests/space.rs).
#   bash scripts/space-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -p pmemkv --test space -- --ignored --exact overwrites_100k_keys_50_times_stay_bounded --nocapture 2>&1 \
  | grep -E '^overwrite|test result|panicked|bytes on disk'
