#!/usr/bin/env bash
# Soak of the engine's model test (pmemkv/tests/model.rs, proptest against a BTreeMap model
# with reopens and background maintenance), in release: RUNS runs of CASES random cases each,
# each run with fresh random seeds. CI runs the test once with 64 cases; rare races between
# writers, merges and compaction only show over many more (a 1-in-10-runs bug at 256 cases
# lived through several sessions of CI). Prints each failure's reason and fails if any.
#   bash scripts/model-soak.sh                 # 20 runs x 256 cases (~2 min)
#   RUNS=100 CASES=1024 bash scripts/model-soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
CASES=${CASES:-256}
bin=$(cargo test --release -p pmemkv --test model --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "model" and m.get("executable"):
        print(m["executable"])')
log=$(mktemp /tmp/model-soak.XXXXXX.log)
failures=0
for i in $(seq 1 "$RUNS"); do
  if ! PROPTEST_CASES=$CASES "$bin" >"$log" 2>&1; then
    failures=$((failures + 1))
    echo "run $i FAILED: $(grep -m1 -oE 'panicked at [^ ]+|reason: "[^"]*"' "$log" | head -2 | tr '\n' ' ')"
    cp "$log" "$log.run$i"
    echo "  full output: $log.run$i"
  fi
done
echo "model soak: $failures failures in $RUNS runs x $CASES cases"
[ "$failures" -eq 0 ]
