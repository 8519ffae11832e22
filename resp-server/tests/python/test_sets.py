"""Sets through redis-py, as applications use them (tags, membership, random picks, set
algebra, cursors).

Each test runs against pmemkv-server and against a real Redis 7 (the `kind` parameter), in
RESP2 and RESP3."""

import pytest
import redis


def test_membership(r):
    assert r.sadd("tags:post:1", "rust", "db", "kv") == 3
    assert r.sadd("tags:post:1", "rust", "redis") == 1
    assert r.scard("tags:post:1") == 4
    assert r.smembers("tags:post:1") == {b"rust", b"db", b"kv", b"redis"}
    assert r.sismember("tags:post:1", "db") in (1, True)
    assert r.sismember("tags:post:1", "go") in (0, False)
    assert [bool(x) for x in r.smismember("tags:post:1", ["db", "go", "kv"])] == [True, False, True]
    assert [bool(x) for x in r.smismember("missing", ["a"])] == [False]
    assert r.srem("tags:post:1", "db", "nope") == 1
    assert r.smembers("missing") == set()
    assert r.scard("missing") == 0
    assert r.srem("tags:post:1", "rust", "kv", "redis") == 3
    assert r.exists("tags:post:1") == 0
    assert r.type("tags:post:1") == b"none"
    r.sadd("t", "x")
    assert r.type("t") == b"set"


def test_random_members(r):
    members = {f"player:{i}".encode() for i in range(40)}
    r.sadd("lobby", *members)
    assert r.srandmember("lobby") in members
    picked = r.srandmember("lobby", 5)
    assert len(picked) == 5 and len(set(picked)) == 5 and set(picked) <= members
    assert set(r.srandmember("lobby", 100)) == members
    repeated = r.srandmember("lobby", -60)
    assert len(repeated) == 60 and set(repeated) <= members
    assert r.srandmember("lobby", 0) == []
    assert r.srandmember("missing") is None
    assert r.srandmember("missing", 3) == []
    assert r.scard("lobby") == 40

    one = r.spop("lobby")
    assert one in members
    some = r.spop("lobby", 10)
    assert len(some) == 10 and len(set(some)) == 10 and one not in some
    rest = r.spop("lobby", 100)
    assert set(rest) | set(some) | {one} == members
    assert r.exists("lobby") == 0
    assert r.spop("lobby") is None
    assert not r.spop("lobby", 2)
    with pytest.raises(redis.ResponseError, match="value is out of range, must be positive"):
        r.spop("lobby", -1)
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.srandmember("lobby", "x")


def test_algebra(r):
    r.sadd("a", "1", "2", "3", "4")
    r.sadd("b", "3", "4", "5")
    r.sadd("c", "4", "5", "6")
    assert r.sinter("a", "b") == {b"3", b"4"}
    assert r.sinter("a", "b", "c") == {b"4"}
    assert r.sinter("a", "missing") == set()
    assert r.sunion("a", "b", "c") == {b"1", b"2", b"3", b"4", b"5", b"6"}
    assert r.sdiff("a", "b", "c") == {b"1", b"2"}
    assert r.sdiff("a", "a") == set()
    assert r.sinterstore("out", ["a", "b"]) == 2
    assert r.smembers("out") == {b"3", b"4"}
    assert r.sunionstore("out", ["b", "c"]) == 4
    assert r.sdiffstore("out", ["a", "c"]) == 3
    assert r.smembers("out") == {b"1", b"2", b"3"}
    assert r.sinterstore("out", ["a", "missing"]) == 0
    assert r.exists("out") == 0
    assert r.sintercard(2, ["a", "b"]) == 2
    assert r.sintercard(2, ["a", "b"], limit=1) == 1
    assert r.sintercard(3, ["a", "b", "c"]) == 1
    with pytest.raises(redis.ResponseError, match="numkeys should be greater than 0"):
        r.execute_command("SINTERCARD", 0, "a")
    with pytest.raises(redis.ResponseError, match="Number of keys can't be greater than number of args"):
        r.execute_command("SINTERCARD", 3, "a", "b")
    with pytest.raises(redis.ResponseError, match="LIMIT can't be negative"):
        r.execute_command("SINTERCARD", 1, "a", "LIMIT", -1)
    assert r.smove("a", "b", "1") in (1, True)
    assert r.smove("a", "b", "1") in (0, False)
    assert r.sismember("b", "1")


def test_wrong_type(r):
    r.set("str", "v")
    r.sadd("s", "a")
    for call in [
        lambda: r.sadd("str", "a"),
        lambda: r.smembers("str"),
        lambda: r.scard("str"),
        lambda: r.spop("str"),
        lambda: r.srandmember("str", 2),
        lambda: r.sinter("missing", "str"),
        lambda: r.sunionstore("d", ["s", "str"]),
        lambda: r.smove("s", "str", "a"),
        lambda: r.sscan("str"),
    ]:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            call()
    assert r.smove("missing", "str", "a") in (0, False)


def test_sscan(r):
    members = {f"user:{i}".encode() for i in range(500)}
    r.sadd("users", *members)
    assert set(r.sscan_iter("users", count=20)) == members
    assert set(r.sscan_iter("users", match="user:1*", count=50)) == {m for m in members if m.startswith(b"user:1")}
    cursor, page = r.sscan("users", 0, count=10)
    assert isinstance(cursor, int) and page
    assert r.sscan("missing", 0) == (0, [])
    with pytest.raises(redis.ResponseError, match="invalid cursor"):
        r.sscan("users", "x")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.sscan("users", 0, count=0)


def test_transactions_and_watch(server, r):
    r.sadd("src", "a", "b")
    with r.pipeline() as p:
        p.sadd("s", "x", "y")
        p.delete("s")
        p.sadd("s", "z")
        p.sunionstore("dst", ["s", "src"])
        assert p.execute() == [2, 1, 1, 3]
    assert r.smembers("s") == {b"z"}
    assert r.smembers("dst") == {b"a", b"b", b"z"}
    # A STORE command touches its destination for WATCH.
    other = server.client()
    with r.pipeline() as p:
        p.watch("dst")
        other.sinterstore("dst", ["src"])
        p.multi()
        p.scard("dst")
        with pytest.raises(redis.WatchError):
            p.execute()
    other.close()


# ---- byte-for-byte next to Redis 7 ------------------------------------------------------------

from test_redis_cli import resp_command  # noqa: E402
from test_wire import exchange, normalize, split_replies  # noqa: E402

# Scenarios whose replies are deterministic (no multi-member replies of random or hash order).
WIRE = {
    "membership": [
        "SADD s a b c", "SADD s a d", "SREM s a x", "SREM missing a", "SCARD s", "SCARD missing",
        "SISMEMBER s b", "SISMEMBER s zz", "SISMEMBER missing a", "SMISMEMBER s b zz c", "SMISMEMBER missing a b",
        "SADD one only", "SMEMBERS one", "SMEMBERS missing", "SRANDMEMBER one", "SRANDMEMBER one 5",
        "SRANDMEMBER one -3", "SRANDMEMBER missing", "SRANDMEMBER missing 5", "SRANDMEMBER one 0",
        "SPOP missing", "SPOP missing 3", "SPOP one 0", "SPOP one 5", "EXISTS one", "SADD one only", "SPOP one",
    ],
    "errors": [
        "SET str v", "SADD str a", "SREM str a", "SMEMBERS str", "SISMEMBER str a", "SMISMEMBER str a", "SCARD str",
        "SPOP str", "SPOP str 2", "SRANDMEMBER str 2", "SADD s a", "SPOP s -1", "SPOP s x", "SPOP s 1 2",
        "SRANDMEMBER s x", "SRANDMEMBER s 1 2", "SRANDMEMBER s -9223372036854775808", "SADD s", "SMOVE s",
        "SINTER missing str", "SUNION s str", "SDIFF s str", "SINTERSTORE d missing str", "SUNIONSTORE d s str",
        "SINTERCARD 0 s", "SINTERCARD -1 s", "SINTERCARD x s", "SINTERCARD 3 s str", "SINTERCARD 1 s LIMIT",
        "SINTERCARD 1 s LIMIT -1", "SINTERCARD 1 s LIMIT x", "SINTERCARD 1 s FOO 1", "SINTERCARD 2 missing str",
        "SMOVE missing str a", "SMOVE s str a", "SMOVE str s a",
        "SSCAN str 0", "SSCAN missing 0 COUNT 0", "SSCAN missing x", "SSCAN s x", "SSCAN s 0 COUNT 0",
        "SSCAN s 0 COUNT x", "SSCAN s 0 FOO", "SSCAN s 0 MATCH", "SSCAN s 18446744073709551616",
    ],
    "algebra": [
        "SADD a 1 2 3 4", "SADD b 3 4 5", "SADD c 4 5 6", "SINTER a b c", "SINTER a missing", "SDIFF a a",
        "SDIFF missing a", "SINTERSTORE d a b", "SCARD d", "SINTERSTORE d a missing", "EXISTS d",
        "SUNIONSTORE d a b c", "SCARD d", "SDIFFSTORE d a b c", "SCARD d", "SET str v", "SUNIONSTORE str a",
        "TYPE str", "SDIFFSTORE a a b", "SCARD a", "SINTERCARD 2 a b", "SINTERCARD 3 a b c",
        "SINTERCARD 2 c b LIMIT 1", "SINTERCARD 2 c b LIMIT 0", "SINTERCARD 1 missing",
        "SMOVE b c 3", "SMOVE b c 3", "SMOVE c c 3", "SMOVE c c 9", "SMOVE missing c 1", "SMOVE a fresh 1",
        "SMEMBERS fresh", "EXISTS a", "SSCAN fresh 0", "SSCAN missing 0",
    ],
}


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("case", list(WIRE))
def test_same_bytes_as_redis(pair, case, proto):
    pm, rd = pair
    payload = resp_command("SELECT", 0) + resp_command("FLUSHALL")
    if proto == 3:
        payload += resp_command("HELLO", 3)
    for line in WIRE[case]:
        payload += resp_command(*line.split())
    got, want = normalize(exchange(pm.port, payload)), normalize(exchange(rd.port, payload))
    if got != want:
        g, w = split_replies(got), split_replies(want)
        diffs = [f"#{i}: pmemkv {a!r}\n    redis  {b!r}" for i, (a, b) in enumerate(zip(g, w)) if a != b]
        pytest.fail("replies differ:\n" + "\n".join(diffs[:20]))


def test_object_encoding_by_size(r):
    """intset up to 512 integer members, hashtable past it (Redis 7.0)."""
    r.sadd("s", *range(512))
    assert r.object("encoding", "s") == b"intset"
    r.sadd("s", 512)
    assert r.object("encoding", "s") == b"hashtable"
