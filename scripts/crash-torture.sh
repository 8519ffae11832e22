#!/usr/bin/env bash
# Long crash torture: the SIGKILL crash test (pmemkv/tests/crash.rs, `crash_cycles`) in
# release with many kill/reopen cycles, then one summary line.
#   bash scripts/crash-torture.sh            # 1000 cycles
#   CYCLES=5000 SEED=42 bash scripts/crash-torture.sh
# Each cycle: a child writes with Durability::Always (puts, overwrites, deletes, batches,
# blobs, forced checkpoints/merges/GC on 256 KiB segments), is SIGKILLed after 0-300 ms; a
# copy of the directory is reopened and every acknowledged write checked. The model carries
# over cycles; the next child recovers the crashed directory itself.
set -euo pipefail
cd "$(dirname "$0")/.."

cycles="${CYCLES:-1000}"
seed="${SEED:-$(date +%s)}"
log="$(mktemp -t crash-torture.XXXXXX.log)"
start=$(date +%s)
echo "crash torture: ${cycles} cycles, seed ${seed}, release build; log ${log}"
status=0
PMEMKV_CRASH_CYCLES="$cycles" PMEMKV_CRASH_SEED="$seed" \
  cargo test --release -p pmemkv --test crash crash_cycles -- --exact --nocapture >"$log" 2>&1 || status=$?
end=$(date +%s)
summary="$(grep -m1 'crash-torture summary:' "$log" || true)"
if [ "$status" -ne 0 ]; then
  grep -m1 -A3 'panicked' "$log" >&2 || tail -n 30 "$log" >&2
  echo "crash torture FAILED after $((end - start)) s (seed ${seed}); full log: ${log}" >&2
  exit "$status"
fi
echo "${summary#crash-torture summary: }" | sed "s/^/crash torture PASSED: seed=${seed} wall=$((end - start))s machine=$(nproc)cores /"
