#!/usr/bin/env python3
"""Side-by-side redis-benchmark comparison: real Redis 7 (AOF, appendfsync everysec) against
pmemkv-server (appendfsync everysec), alternating rounds in one run, so both see the same
machine conditions.

    python3 benches/redis-compare.py                 # 3 rounds, full sizes
    ROUNDS=5 python3 benches/redis-compare.py
    SMOKE=1 python3 benches/redis-compare.py         # tiny run (CI): checks it all works
    WORKLOADS=set,get python3 benches/redis-compare.py
    PMEMKV_ARGS="--set io-threads 1" python3 benches/redis-compare.py

Before each timed run it waits (up to SETTLE_TIMEOUT seconds, default 20) until the machine
is nearly idle, so that one server's leftover background work does not land in the other's
run. Prints, per workload, the median requests/s of each server, the pmemkv/Redis ratio, and the
median p99 latency of each, then a Markdown table for docs/benchmarks.md. Needs
`redis-server` and `redis-benchmark` (Debian: redis-server, redis-tools) and builds
`pmemkv-server` in release mode.
"""

import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = os.environ.get("SMOKE", "") not in ("", "0")
ROUNDS = int(os.environ.get("ROUNDS", "1" if SMOKE else "3"))
CLIENTS = 50
# Before each timed run, wait up to this many seconds for the machine to be idle (below
# SETTLE_BUSY of all CPUs busy), see settle().
SETTLE_TIMEOUT = float(os.environ.get("SETTLE_TIMEOUT", "2" if SMOKE else "20"))
SETTLE_BUSY = 0.10
# Extra pmemkv-server arguments, e.g. PMEMKV_ARGS="--set io-threads 1".
PMEMKV_ARGS = os.environ.get("PMEMKV_ARGS", "").split()

# name -> (redis-benchmark arguments, requests in a full run)
WORKLOADS = {
    "set": (["-t", "set"], 500_000),
    "get": (["-t", "get"], 500_000),
    "set-P16": (["-t", "set", "-P", "16"], 3_000_000),
    "get-P16": (["-t", "get", "-P", "16"], 3_000_000),
    "set-64KiB": (["-t", "set", "-d", "65536"], 50_000),
    "get-64KiB": (["-t", "get", "-d", "65536"], 50_000),
    "mset": (["-t", "mset"], 300_000),
    "mset-P16": (["-t", "mset", "-P", "16"], 1_000_000),
    # Queues, sets, sorted sets (issue 4's workloads).
    "lpush": (["-t", "lpush"], 500_000),
    "rpush": (["-t", "rpush"], 500_000),
    "lpop": (["-t", "lpop"], 500_000),
    "rpop": (["-t", "rpop"], 500_000),
    "sadd": (["-t", "sadd"], 500_000),
    "zadd": (["-t", "zadd"], 500_000),
    "lrange_100": (["-t", "lrange_100"], 200_000),
    # Producers LPUSH while consumers BRPOP: requests/s of the consumers.
    "queue-roundtrip": (None, 200_000),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ping(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.1)
    sys.exit(f"server on port {port} did not start")


def cpu_busy(interval=0.5):
    """Fraction of all CPUs busy over `interval` seconds (from /proc/stat)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]  # idle + iowait
        return sum(v), idle
    t0, i0 = snap()
    time.sleep(interval)
    t1, i1 = snap()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def settle(timeout):
    """Waits (up to `timeout` s) until the machine is nearly idle: both servers run at once,
    so background work left by the previous run (pmemkv's checkpoints, merges and
    compaction, Redis's AOF rewrite) would otherwise land in the next server's timed run.
    Returns the seconds waited, or None on timeout."""
    start = time.time()
    while time.time() - start < timeout:
        if cpu_busy() < SETTLE_BUSY:
            return time.time() - start
    return None


def bench(port, args, n):
    """Runs redis-benchmark; returns (requests/s, p99 ms) of its single test."""
    cmd = ["redis-benchmark", "-p", str(port), "-c", str(CLIENTS), "-n", str(n), "--csv", "-r", "100000"] + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        sys.exit(f"redis-benchmark failed ({' '.join(cmd)}):\n{r.stderr}")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    header, data = rows[0], rows[1]
    rec = dict(zip(header, data))
    return float(rec["rps"]), float(rec["p99_latency_ms"])


def queue_roundtrip(port, n):
    """Consumers (BRPOP, 25 clients) and producers (LPUSH, 25 clients) at once on one list;
    returns the consumers' (requests/s, p99 ms)."""
    key = "bench:queue"
    consumer = subprocess.Popen(
        ["redis-benchmark", "-p", str(port), "-c", "25", "-n", str(n), "--csv", "brpop", key, "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.2)
    producer = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-c", "25", "-n", str(n), "--csv", "lpush", key, "job"],
        capture_output=True, text=True, timeout=1800)
    out, err = consumer.communicate(timeout=1800)
    if producer.returncode != 0 or consumer.returncode != 0:
        sys.exit(f"queue round trip failed:\n{producer.stderr}\n{err}")
    rec = dict(zip(*list(csv.reader(io.StringIO(out)))[:2]))
    return float(rec["rps"]), float(rec["p99_latency_ms"])


def main():
    for tool in ("redis-server", "redis-benchmark", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install -y redis-server redis-tools")
    selected = os.environ.get("WORKLOADS")
    names = selected.split(",") if selected else list(WORKLOADS)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "resp-server"], cwd=ROOT, check=True)
    server_bin = os.path.join(ROOT, "target", "release", "pmemkv-server")
    tmp = tempfile.mkdtemp(prefix="redis-compare-")
    rport, pport = free_port(), free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", tmp, "--save", "",
         "--appendonly", "yes", "--appendfsync", "everysec", "--logfile", os.path.join(tmp, "redis.log")],
        stdout=subprocess.DEVNULL)
    pmem = subprocess.Popen(
        [server_bin, "--port", str(pport), "--bind", "127.0.0.1", "--dir", os.path.join(tmp, "pmemkv"),
         "--appendfsync", "everysec", "--loglevel", "warning"] + PMEMKV_ARGS,
        stdout=subprocess.DEVNULL)
    results = {name: {"redis": [], "pmemkv": []} for name in names}
    try:
        wait_ping(rport)
        wait_ping(pport)
        cpus = os.cpu_count()
        print(f"redis-compare: {ROUNDS} round(s), {CLIENTS} clients, {cpus} cores, "
              f"{'smoke' if SMOKE else 'full'} sizes; redis :{rport}, pmemkv :{pport} {' '.join(PMEMKV_ARGS)}")
        for rnd in range(ROUNDS):
            for name in names:
                args, n = WORKLOADS[name]
                if SMOKE:
                    n = max(1000, n // 500)
                # Alternate which server goes first, so neither always runs on a warmer machine.
                order = [("redis", rport), ("pmemkv", pport)]
                if rnd % 2 == 1:
                    order.reverse()
                for label, port in order:
                    waited = settle(SETTLE_TIMEOUT)
                    rps, p99 = queue_roundtrip(port, n) if args is None else bench(port, args, n)
                    results[name][label].append((rps, p99))
                    note = "  (machine still busy before the run)" if waited is None else ""
                    print(f"  round {rnd + 1} {name:<10} {label:<7} {rps:>12,.0f} req/s  p99 {p99:.3f} ms{note}",
                          flush=True)
    finally:
        for p in (redis, pmem):
            p.terminate()
        for p in (redis, pmem):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("| workload | Redis req/s | pmemkv req/s | pmemkv/Redis | Redis p99 ms | pmemkv p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        r = results[name]["redis"]
        p = results[name]["pmemkv"]
        r_rps = statistics.median(x[0] for x in r)
        p_rps = statistics.median(x[0] for x in p)
        r_p99 = statistics.median(x[1] for x in r)
        p_p99 = statistics.median(x[1] for x in p)
        print(f"| {name} | {r_rps:,.0f} | {p_rps:,.0f} | {p_rps / r_rps:.2f}x | {r_p99:.3f} | {p_p99:.3f} |")


if __name__ == "__main__":
    main()
