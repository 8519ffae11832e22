"""A short redis-benchmark run against pmemkv-server: it completes, reports every test, and
leaves the server answering with the data it should hold. No timing thresholds."""

import re
import shutil
import subprocess

import pytest

REDIS_BENCHMARK = shutil.which("redis-benchmark")
pytestmark = pytest.mark.skipif(REDIS_BENCHMARK is None, reason="redis-benchmark not installed (redis-tools)")

TESTS = {"SET", "GET", "INCR", "MSET (10 keys)"}
RPS_LINE = re.compile(r"^(?P<test>[A-Z]+(?: \(10 keys\))?): (?P<rps>[0-9.]+) requests per second")


def bench(port, *extra):
    p = subprocess.run(
        [REDIS_BENCHMARK, "-p", str(port), "-t", "set,get,incr,mset", "-n", "20000", "-c", "20", "-q", *extra],
        capture_output=True,
        timeout=600,
    )
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, out + p.stderr.decode(errors="replace")
    # -q still redraws a progress line with CR; the final line per test ends with LF.
    lines = [line.strip() for line in re.split(r"[\r\n]", out)]
    results = {}
    for line in lines:
        m = RPS_LINE.match(line)
        if m:
            results[m["test"]] = float(m["rps"])
    assert set(results) == TESTS, out
    assert all(v > 0 for v in results.values()), results
    return results


def test_redis_benchmark_smoke(start_server):
    srv = start_server()
    with srv.client() as c:
        bench(srv.port)
        # Every INCR of the run landed on the one counter key; SET and MSET use one key too.
        assert c.get("counter:__rand_int__") == b"20000"
        assert c.dbsize() == 2
        assert c.strlen("key:__rand_int__") == 3

        bench(srv.port, "-P", "16")
        assert c.get("counter:__rand_int__") == b"40000"
        assert c.dbsize() == 2
        assert c.ping() is True

        # With random keys: each key of the space is either written or not.
        p = subprocess.run(
            [REDIS_BENCHMARK, "-p", str(srv.port), "-t", "set", "-n", "5000", "-r", "1000", "-c", "10", "-q"],
            capture_output=True,
            timeout=600,
        )
        assert p.returncode == 0, p.stderr
        n = c.dbsize()
        assert 2 < n <= 1002, n
        keys = c.keys("key:*")
        assert len(keys) == n - 1
        assert all(re.fullmatch(rb"key:(__rand_int__|\d{12})", k) for k in keys), keys[:5]
        # The server still serves new connections normally.
        assert c.client_id() > 0
        assert len(c.client_list()) >= 1
