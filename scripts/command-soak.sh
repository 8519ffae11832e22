#!/usr/bin/env bash
# Soak of the server's random-command tests, in release (CI runs a few seeds of each):
#   - resp-server/tests/redis_diff.rs: the same random commands to a real redis-server and to
#     pmemkv-server, every reply compared (RESP2, RESP3 and pipelined seeds by turns);
#   - resp-server/tests/chaos.rs: random commands from one and from four clients at once with
#     appendfsync always, then kill -9 and every key compared after the restart.
# A failure prints its seed and the commands before it; rerun one seed with
# PMEMKV_DIFF_SEEDS=<seed> (add PMEMKV_DIFF_DUMP=/tmp/dump to get the commands in hex).
#   bash scripts/command-soak.sh                       # 60 + 12 + 6 seeds (~10 min)
#   DIFF_SEEDS=400 CHAOS_SEEDS=40 FIRST=1000 bash scripts/command-soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DIFF_SEEDS=${DIFF_SEEDS:-60}
CHAOS_SEEDS=${CHAOS_SEEDS:-12}
COMMANDS=${COMMANDS:-5000}
FIRST=${FIRST:-100}
if ! command -v redis-server >/dev/null; then
  echo "redis-server is needed (apt-get install -y redis-server)" >&2
  exit 1
fi
seeds() { seq -s, "$FIRST" $((FIRST + $1 - 1)); }
echo "=== differential against Redis: $DIFF_SEEDS seeds x $COMMANDS commands"
PMEMKV_DIFF_SEEDS=$(seeds "$DIFF_SEEDS") PMEMKV_DIFF_COMMANDS=$COMMANDS \
  cargo test --release -p resp-server --test redis_diff -- --nocapture 2>&1 | grep -aE "redis diff seed|panicked|left:|right:|test result"
echo "=== chaos with kill -9: $CHAOS_SEEDS seeds x $COMMANDS commands, one client; half as many with four"
PMEMKV_CHAOS_SEEDS=$(seeds "$CHAOS_SEEDS") PMEMKV_CHAOS_COMMANDS=$COMMANDS \
  cargo test --release -p resp-server --test chaos random_commands -- --nocapture 2>&1 | grep -aE "chaos seed|panicked|test result"
PMEMKV_CHAOS_SEEDS=$(seeds $((CHAOS_SEEDS / 2))) PMEMKV_CHAOS_COMMANDS=$COMMANDS \
  cargo test --release -p resp-server --test chaos concurrent -- --nocapture 2>&1 | grep -aE "chaos seed|panicked|test result"
