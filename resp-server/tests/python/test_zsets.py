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



# ---- byte-for-byte next to Redis 7 ------------------------------------------------------------

from test_redis_cli import resp_command  # noqa: E402
from test_wire import exchange, normalize, split_replies  # noqa: E402

# One long deterministic scenario (no replies of random or hash order): every command, its
# options, errors and edge cases, and score formatting.
WIRE = [
    'ZADD z 1 a 2 b 3 c', 'ZADD z 1.1 d 0x10 e -inf f +inf g', 'ZADD z', 'ZADD z 1', 'ZADD z 1 a 2',
    'ZADD z nan a', 'ZADD z abc a', 'ZADD z 1e400 a', ['ZADD', 'z', ' 1', 'a'], ['ZADD', 'z', '', 'a'],
    'ZADD z NX XX 1 a', 'ZADD z NX GT 1 a', 'ZADD z LT GT 1 a', 'ZADD z NX LT 1 a', 'ZADD z INCR 1 a 2 b',
    'ZADD z XX NX INCR 1 a 2 b', 'ZADD z GT LT NX', 'ZADD z CH', 'ZADD z CH 5 a 2 b 9 new',
    'ZADD z XX CH 6 a 100 nope', 'ZADD z NX CH 7 a 8 n2', 'ZADD z GT CH 1 a 10 b', 'ZADD z LT CH 1 a 100 b',
    'ZADD z XX GT CH 2 a', 'ZADD z INCR 5 a', 'ZADD z NX INCR 5 a', 'ZADD z XX INCR 5 zz',
    'ZADD z GT INCR -1 a', 'ZADD z LT INCR -1 a', 'ZADD z INCR 1 brandnew', 'ZADD missing XX 1 a',
    'EXISTS missing', 'ZADD missing XX INCR 1 a', 'EXISTS missing', 'ZADD z INCR -inf g', 'ZINCRBY z -inf g',
    'ZINCRBY z 1.5 a', 'ZINCRBY z 1 newm', 'ZINCRBY z x a', 'ZINCRBY z nan a', 'ZRANGE z 0 -1 WITHSCORES',
    'SET str v', 'ZADD str 1 a', 'ZINCRBY str 1 a', 'ZREM str a', 'ZCARD str', 'ZSCORE str a',
    'ZMSCORE str a', 'ZRANK str a', 'ZCOUNT str 0 1', 'ZRANGE str 0 1', 'ZLEXCOUNT str - +',
    'ZREMRANGEBYRANK str 0 1', 'ZPOPMIN str', 'ZRANDMEMBER str', 'ZRANDMEMBER str 2', 'ZSCAN str 0',
    'ZCOUNT str x 1', 'ZRANGE str x 1', 'ZADD str x a', 'ZSCORE z a', 'ZSCORE z nope', 'ZSCORE missing a',
    'ZMSCORE z a nope f', 'ZMSCORE missing a b', 'ZCARD z', 'ZCARD missing', 'ZRANK z a', 'ZRANK z nope',
    'ZRANK missing a', 'ZREVRANK z a', 'ZCOUNT z -inf +inf', 'ZCOUNT z (1 3', 'ZCOUNT z 1 (3', 'ZCOUNT z x 3',
    'ZCOUNT z 3 1', ['ZCOUNT', 'z', '', '10'], 'ZCOUNT z ( 10', 'ZCOUNT missing 0 1', 'ZCOUNT z nan 1',
    'ZRANGE z 0 -1', 'ZRANGE z 0 -1 WITHSCORES', 'ZRANGE z -3 -1 WITHSCORES', 'ZRANGE z 5 2',
    'ZRANGE z 0 100 REV', 'ZRANGE z 1 2 REV WITHSCORES', 'ZRANGE z x 1', 'ZRANGE z 0 1 LIMIT 0 1',
    'ZRANGE z 0 1 LIMIT 0 -1', 'ZRANGE z 0 1 LIMIT 0', 'ZRANGE z 0 1 FOO', 'ZRANGE z -inf +inf BYSCORE',
    'ZRANGE z -inf +inf BYSCORE WITHSCORES LIMIT 1 2', 'ZRANGE z +inf -inf BYSCORE REV WITHSCORES',
    'ZRANGE z (3 (10 BYSCORE REV', 'ZRANGE z 10 (3 BYSCORE REV', 'ZRANGE z -inf +inf BYSCORE LIMIT -1 2',
    'ZRANGE z -inf +inf BYSCORE LIMIT 2 -5', 'ZRANGE z -inf +inf BYSCORE LIMIT 100 1', 'ZRANGE z - + BYLEX',
    'ZRANGE z - + BYLEX WITHSCORES', 'ZRANGE z [a (c BYLEX', 'ZRANGE z a c BYLEX', 'ZRANGE z x 1 BYSCORE',
    'ZRANGE z 0 1 BYSCORE BYLEX', 'ZRANGE z 0 1 REV REV', 'ZRANGE missing 0 -1',
    'ZRANGE missing 0 1 LIMIT 0 1', 'ZRANGE z 0 1 LIMIT x 1', 'ZREVRANGE z 0 -1 WITHSCORES',
    'ZREVRANGE z 0 1 REV', 'ZREVRANGE z 0 1 BYSCORE', 'ZREVRANGE z 0 1 LIMIT 0 1',
    'ZRANGEBYSCORE z -inf +inf WITHSCORES', 'ZRANGEBYSCORE z 1 3 LIMIT 1 1', 'ZRANGEBYSCORE z 1 3 REV',
    'ZRANGEBYSCORE z 1 3 BYLEX', 'ZREVRANGEBYSCORE z +inf -inf WITHSCORES LIMIT 0 3',
    'ZREVRANGEBYSCORE z 1 3', 'ZRANGEBYSCORE z x 3', 'ZADD lex 0 a 0 b 0 c 0 d 0 e 0 f 0 g',
    'ZRANGEBYLEX lex - [c', 'ZRANGEBYLEX lex - (c', 'ZRANGEBYLEX lex [aaa (g', 'ZREVRANGEBYLEX lex [c -',
    'ZREVRANGEBYLEX lex + [b LIMIT 1 2', 'ZRANGEBYLEX lex - + LIMIT 2 3', 'ZRANGEBYLEX lex + -',
    'ZRANGEBYLEX lex [c (c', 'ZRANGEBYLEX lex [c [c', 'ZRANGEBYLEX lex a b', 'ZRANGEBYLEX lex - + WITHSCORES',
    'ZRANGEBYLEX lex -x +', 'ZRANGEBYLEX lex - ++', 'ZLEXCOUNT lex - +', 'ZLEXCOUNT lex [b (f',
    'ZLEXCOUNT lex b f', 'ZLEXCOUNT missing - +', 'ZRANGEBYLEX lex - -', 'ZRANGEBYLEX lex + +',
    'ZADD mix 1 b 2 a 3 c 4 d', 'ZRANGEBYLEX mix [b [c', 'ZREVRANGEBYLEX mix [c [b', 'ZLEXCOUNT mix [b [c',
    'ZRANGEBYLEX mix [a [c LIMIT 1 5', 'ZREMRANGEBYLEX mix [b [c', 'ZRANGE mix 0 -1',
    'ZREMRANGEBYLEX lex [b (d', 'ZRANGE lex 0 -1', 'ZREMRANGEBYLEX lex x y', 'ZREMRANGEBYLEX missing - +',
    'ZREMRANGEBYSCORE z 1 2', 'ZREMRANGEBYSCORE z x 2', 'ZREMRANGEBYSCORE z (10 +inf',
    'ZRANGE z 0 -1 WITHSCORES', 'ZREMRANGEBYRANK z 0 0', 'ZREMRANGEBYRANK z -1 -1', 'ZREMRANGEBYRANK z 5 1',
    'ZREMRANGEBYRANK z x 1', 'ZRANGE z 0 -1 WITHSCORES', 'ZREMRANGEBYRANK z 0 -1', 'EXISTS z',
    'ZADD p 1 a 2 b 3 c 4 d', 'ZPOPMIN p', 'ZPOPMAX p', 'ZPOPMIN p 0', 'ZPOPMIN p 1', 'ZPOPMIN p 5',
    'EXISTS p', 'ZPOPMIN p', 'ZPOPMIN p 2', 'ZPOPMIN p -1', 'ZPOPMIN p x', 'ZPOPMIN p 1 2', 'ZADD p 1.5 a',
    'ZPOPMAX p 10', 'BZPOPMIN p2 x', 'BZPOPMIN p2 -1', 'ZADD p2 5 m 6 n', 'BZPOPMIN missing p2 0',
    'BZPOPMAX p2 1', 'BZPOPMIN str p2 1', 'BZPOPMIN missing str 1', 'ZADD s1 1 a 2 b 3 c',
    'ZADD s2 10 b 20 c 30 d', 'SADD set b c e', 'ZUNIONSTORE out 2 s1 s2', 'ZRANGE out 0 -1 WITHSCORES',
    'ZINTERSTORE out 2 s1 s2', 'ZRANGE out 0 -1 WITHSCORES',
    'ZUNIONSTORE out 3 s1 s2 set WEIGHTS 1 2 3 AGGREGATE MAX', 'ZRANGE out 0 -1 WITHSCORES',
    'ZINTERSTORE out 3 s1 s2 set AGGREGATE MIN', 'ZRANGE out 0 -1 WITHSCORES', 'ZINTERSTORE out 2 s1 missing',
    'EXISTS out', 'ZUNIONSTORE out 0 s1', 'ZUNIONSTORE out -1 s1', 'ZUNIONSTORE out x s1',
    'ZUNIONSTORE out 3 s1 s2', 'ZUNIONSTORE out 2 s1 str', 'ZUNIONSTORE out 2 s1 str WEIGHTS x',
    'ZUNIONSTORE out 2 s1 s2 WEIGHTS 1', 'ZUNIONSTORE out 2 s1 s2 WEIGHTS 1 x',
    'ZUNIONSTORE out 2 s1 s2 AGGREGATE foo', 'ZUNIONSTORE out 2 s1 s2 AGGREGATE',
    'ZUNIONSTORE out 2 s1 s2 WITHSCORES', 'ZINTERSTORE out 1 s1 WEIGHTS inf', 'ZRANGE out 0 -1 WITHSCORES',
    'ZUNIONSTORE out 1 s1 WEIGHTS 0x2', 'ZRANGE out 0 -1 WITHSCORES', 'ZADD infs 1 a', 'ZADD infs2 -inf a',
    'ZADD infs3 inf a', 'ZUNIONSTORE out 3 infs2 infs3 infs', 'ZRANGE out 0 -1 WITHSCORES',
    'ZUNIONSTORE out 2 infs3 infs WEIGHTS 0 1', 'ZRANGE out 0 -1 WITHSCORES', 'ZUNIONSTORE s1 2 s1 s2',
    'ZRANGE s1 0 -1 WITHSCORES', 'ZUNIONSTORE str 1 s2', 'TYPE str', 'SET str v', 'ZRANGESTORE dst s2 0 -1',
    'ZRANGE dst 0 -1 WITHSCORES', 'ZRANGESTORE dst s2 (10 +inf BYSCORE LIMIT 0 1',
    'ZRANGE dst 0 -1 WITHSCORES', 'ZRANGESTORE dst s2 +inf -inf BYSCORE REV LIMIT 0 2',
    'ZRANGE dst 0 -1 WITHSCORES', 'ZRANGESTORE dst missing 0 -1', 'EXISTS dst',
    'ZRANGESTORE dst s2 0 -1 WITHSCORES', 'ZRANGESTORE dst str 0 -1', 'ZRANGESTORE dst s2 5 10',
    'ZRANGESTORE dst s2 - + BYLEX', 'ZRANGESTORE dst s2 0 1 LIMIT 0 1', 'ZRANGESTORE dst s2 x 1',
    'ZSCAN s2 0', 'ZSCAN missing 0', 'ZSCAN s2 0 COUNT 0', 'ZSCAN s2 x', 'ZSCAN s2 0 MATCH c*',
    'ZADD fl 1.1 a 0.30000000000000004 b 1e300 c', 'ZRANGE fl 0 -1 WITHSCORES', 'ZSCORE fl a',
    'ZMSCORE fl a b c', 'ZINCRBY fl 0.1 a', 'ZPOPMIN fl', 'ZPOPMIN fl 1', 'ZRANDMEMBER missing',
    'ZRANDMEMBER missing 5', 'ZRANDMEMBER missing 5 WITHSCORES', 'ZRANDMEMBER s2 0', 'ZRANDMEMBER s2 x',
    'ZRANDMEMBER s2 1 FOO', 'ZRANDMEMBER s2 1 WITHSCORES x', 'ZRANDMEMBER s2 -9223372036854775808',
    'ZRANDMEMBER missing 1 FOO', 'ZADD one 7 only', 'ZRANDMEMBER one', 'ZRANDMEMBER one 3 WITHSCORES',
    'ZRANDMEMBER one -2 WITHSCORES', 'ZRANDMEMBER one -2', 'ZADD neg -0 a', 'ZSCORE neg a',
    'ZADD neg 0x1p-2 b', 'ZRANGE neg 0 -1 WITHSCORES',
    'ZADD big 123456789012345678 a 1e17 b 1e16 c 0.0001 d 0.00001 e', 'ZRANGE big 0 -1 WITHSCORES',
]


def as_args(item):
    return item if isinstance(item, list) else item.split()


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
def test_same_bytes_as_redis(pair, proto):
    pm, rd = pair
    payload = resp_command("SELECT", 0) + resp_command("FLUSHALL")
    if proto == 3:
        payload += resp_command("HELLO", 3)
    for item in WIRE:
        payload += resp_command(*as_args(item))
    got, want = normalize(exchange(pm.port, payload)), normalize(exchange(rd.port, payload))
    if got != want:
        g, w = split_replies(got), split_replies(want)
        diffs = [f"#{i}: pmemkv {a!r}\n    redis  {b!r}" for i, (a, b) in enumerate(zip(g, w)) if a != b]
        pytest.fail("replies differ:\n" + "\n".join(diffs[:20]))


def test_object_encoding_by_size(r):
    """listpack up to 128 members, skiplist past it (Redis 7.0)."""
    r.zadd("z", {f"m{i}": i for i in range(128)})
    assert r.object("encoding", "z") == b"listpack"
    r.zadd("z", {"one-more": 1})
    assert r.object("encoding", "z") == b"skiplist"
