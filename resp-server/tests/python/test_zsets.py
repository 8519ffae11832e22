"""Sorted sets through redis-py, as applications use them: leaderboards, sliding-window rate
limits, delayed-job schedules, lex indexes, BZPOPMIN workers.

Each test runs against pmemkv-server and against a real Redis 7 (the `kind` parameter), in
RESP2 and RESP3."""

import threading
import time

import pytest
import redis


def pairs(v):
    return [(m, float(s)) for m, s in v]


def test_leaderboard(r):
    assert r.zadd("board", {"ada": 120, "bob": 80, "cy": 95.5}) == 3
    assert r.zadd("board", {"bob": 130, "dee": 10}, ch=True) == 2
    assert r.zincrby("board", 5, "cy") == 100.5
    assert r.zscore("board", "cy") == 100.5
    assert r.zscore("board", "nobody") is None
    assert r.zmscore("board", ["ada", "nobody"]) == [120.0, None]
    assert r.zcard("board") == 4
    assert r.zrevrange("board", 0, 2) == [b"bob", b"ada", b"cy"]
    assert pairs(r.zrevrange("board", 0, 0, withscores=True)) == [(b"bob", 130.0)]
    assert pairs(r.zrange("board", 0, -1, withscores=True)) == [
        (b"dee", 10.0), (b"cy", 100.5), (b"ada", 120.0), (b"bob", 130.0)]
    assert r.zrank("board", "ada") == 2
    assert r.zrevrank("board", "ada") == 1
    assert r.zrank("board", "nobody") is None
    assert r.zcount("board", 100, "+inf") == 3
    assert r.zcount("board", "(100.5", 130) == 2
    # Conditional updates.
    assert r.zadd("board", {"ada": 110}, gt=True, ch=True) == 0
    assert r.zadd("board", {"ada": 150}, gt=True, ch=True) == 1
    assert r.zadd("board", {"eve": 1}, xx=True) == 0
    assert r.zadd("board", {"ada": 1}, nx=True) == 0
    assert r.zadd("board", {"ada": 5}, incr=True) == 155.0
    assert r.zadd("board", {"ada": 5}, incr=True, nx=True) is None
    assert r.zrem("board", "dee", "nobody") == 1
    # Without a count the reply is flat even in RESP3 (redis-py pairs it up only in RESP2).
    top = r.zpopmax("board")
    assert top in ([(b"ada", 155.0)], [b"ada", 155.0])
    assert pairs(r.zpopmin("board", 5)) == [(b"cy", 100.5), (b"bob", 130.0)]
    assert r.exists("board") == 0


def test_rate_limit_window(r):
    now = 1_700_000_000_000
    for i in range(10):
        r.zadd("rl:user", {f"req:{i}": now + i * 100})
    assert r.zremrangebyscore("rl:user", "-inf", f"({now + 500}") == 5
    assert r.zcard("rl:user") == 5
    assert r.zrangebyscore("rl:user", now + 500, now + 700) == [b"req:5", b"req:6", b"req:7"]
    assert r.zrangebyscore("rl:user", "-inf", "+inf", start=1, num=2) == [b"req:6", b"req:7"]
    assert r.zrevrangebyscore("rl:user", "+inf", now + 800) == [b"req:9", b"req:8"]
    assert r.zremrangebyrank("rl:user", 0, 1) == 2
    assert r.zrange("rl:user", 0, -1) == [b"req:7", b"req:8", b"req:9"]


def test_delayed_jobs(r):
    r.zadd("schedule", {"job:a": 30, "job:b": 10, "job:c": 20})
    due = r.zrange("schedule", "-inf", 25, byscore=True, offset=0, num=10)
    assert due == [b"job:b", b"job:c"]
    assert r.zrem("schedule", *due) == 2
    assert r.zrangestore("later", "schedule", 0, -1) == 1
    assert r.zrange("later", 0, -1) == [b"job:a"]
    assert pairs(r.zrange("schedule", "+inf", "-inf", byscore=True, desc=True, withscores=True)) == [(b"job:a", 30.0)]


def test_lex_index(r):
    r.zadd("names", {n: 0 for n in ["alice", "bob", "carol", "dave", "eve"]})
    assert r.zrangebylex("names", "[b", "(d") == [b"bob", b"carol"]
    assert r.zrangebylex("names", "-", "+", start=1, num=2) == [b"bob", b"carol"]
    assert r.zrevrangebylex("names", "+", "[c") == [b"eve", b"dave", b"carol"]
    assert r.zlexcount("names", "[b", "[d") == 2
    assert r.zremrangebylex("names", "[a", "(c") == 2
    assert r.zrange("names", 0, -1) == [b"carol", b"dave", b"eve"]
    with pytest.raises(redis.ResponseError, match="min or max not valid string range item"):
        r.zrangebylex("names", "a", "z")


def test_union_inter_store(r):
    r.zadd("s1", {"a": 1, "b": 2, "c": 3})
    r.zadd("s2", {"b": 10, "c": 20, "d": 30})
    r.sadd("set", "b", "c", "e")
    assert r.zunionstore("u", ["s1", "s2"]) == 4
    assert pairs(r.zrange("u", 0, -1, withscores=True)) == [(b"a", 1.0), (b"b", 12.0), (b"c", 23.0), (b"d", 30.0)]
    assert r.zinterstore("i", {"s1": 2, "s2": 1}, aggregate="MAX") == 2
    assert pairs(r.zrange("i", 0, -1, withscores=True)) == [(b"b", 10.0), (b"c", 20.0)]
    assert r.zunionstore("u", ["s1", "set"], aggregate="MIN") == 4
    assert pairs(r.zrange("u", 0, -1, withscores=True)) == [(b"a", 1.0), (b"b", 1.0), (b"c", 1.0), (b"e", 1.0)]
    assert r.zinterstore("i", ["s1", "missing"]) == 0
    assert r.exists("i") == 0
    with pytest.raises(redis.ResponseError, match="at least 1 input key is needed for 'zunionstore' command"):
        r.execute_command("ZUNIONSTORE", "u", 0, "s1")
    with pytest.raises(redis.ResponseError, match="weight value is not a float"):
        r.execute_command("ZUNIONSTORE", "u", 1, "s1", "WEIGHTS", "x")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("ZUNIONSTORE", "u", 1, "s1", "AGGREGATE", "avg")


def test_errors_and_wrong_type(r):
    r.set("str", "v")
    with pytest.raises(redis.ResponseError, match="XX and NX options at the same time are not compatible"):
        r.execute_command("ZADD", "z", "NX", "XX", 1, "a")
    with pytest.raises(redis.ResponseError, match="GT, LT, and/or NX options at the same time are not compatible"):
        r.execute_command("ZADD", "z", "NX", "GT", 1, "a")
    with pytest.raises(redis.ResponseError, match="INCR option supports a single increment-element pair"):
        r.execute_command("ZADD", "z", "INCR", 1, "a", 2, "b")
    with pytest.raises(redis.ResponseError, match="value is not a valid float"):
        r.execute_command("ZADD", "z", "nan", "a")
    with pytest.raises(redis.ResponseError, match="min or max is not a float"):
        r.zrangebyscore("z", "x", 1)
    r.zadd("z", {"a": float("inf")})
    with pytest.raises(redis.ResponseError, match=r"resulting score is not a number \(NaN\)"):
        r.zincrby("z", float("-inf"), "a")
    for call in [
        lambda: r.zadd("str", {"a": 1}),
        lambda: r.zscore("str", "a"),
        lambda: r.zrange("str", 0, -1),
        lambda: r.zpopmin("str"),
        lambda: r.zunionstore("d", ["str"]),
        lambda: r.zrandmember("str"),
        lambda: r.zscan("str"),
    ]:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            call()


def test_scan_and_random(r):
    r.zadd("z", {f"m{i}": i for i in range(300)})
    got = dict(r.zscan_iter("z", count=25))
    assert got == {f"m{i}".encode(): float(i) for i in range(300)}
    assert dict(r.zscan_iter("z", match="m29*")) == {b"m29": 29.0, **{f"m29{i}".encode(): 290.0 + i for i in range(10)}}
    assert r.zrandmember("z") in got
    five = r.zrandmember("z", 5)
    assert len(five) == 5 and len(set(five)) == 5
    rep = r.zrandmember("z", -400)
    assert len(rep) == 400 and set(rep) <= set(got)
    with_scores = r.zrandmember("z", 3, withscores=True)
    assert len(with_scores) in (3, 6)
    assert r.zrandmember("missing") is None
    assert r.zrandmember("missing", 2) == []


def test_bzpopmin_worker(server, r):
    results = []

    def worker():
        with server.client(socket_timeout=30) as c:
            results.append(tuple(c.bzpopmin(["jobs:high", "jobs:low"], timeout=10)))

    t = threading.Thread(target=worker)
    t.start()
    deadline = time.monotonic() + 10
    while r.info("clients")["blocked_clients"] != 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    r.zadd("jobs:low", {"job:1": 5, "job:2": 1})
    t.join(20)
    assert results == [(b"jobs:low", b"job:2", 1.0)]
    assert r.zrange("jobs:low", 0, -1) == [b"job:1"]
    assert tuple(r.bzpopmax(["jobs:low"], timeout=1)) == (b"jobs:low", b"job:1", 5.0)
    start = time.monotonic()
    assert r.bzpopmin(["jobs:none"], timeout=0.2) is None
    assert time.monotonic() - start >= 0.15


def test_watch_store_destination(server, r):
    r.zadd("src", {"a": 1})
    other = server.client()
    with r.pipeline() as p:
        p.watch("dst")
        other.zunionstore("dst", ["src"])
        p.multi()
        p.zcard("dst")
        with pytest.raises(redis.WatchError):
            p.execute()
    other.close()
