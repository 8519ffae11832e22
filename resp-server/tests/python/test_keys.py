"""Keys, expiry, iteration and logical databases through redis-py.

Each test runs against pmemkv-server and against a real Redis 7 (the `kind` parameter)."""

import time

import pytest
import redis


def test_set_with_ex_px_and_ttl(r):
    assert r.set("session:a", "x", ex=100) is True
    assert 99 <= r.ttl("session:a") <= 100
    assert 99_000 <= r.pttl("session:a") <= 100_000
    assert r.set("session:b", "x", px=1500) is True
    assert 0 < r.pttl("session:b") <= 1500
    assert r.ttl("session:b") in (1, 2)
    assert r.setex("session:c", 60, "x") is True
    assert 59 <= r.ttl("session:c") <= 60
    assert r.psetex("session:d", 60_000, "x") is True
    assert 59_000 <= r.pttl("session:d") <= 60_000
    # No expiry, and no key.
    r.set("plain", "x")
    assert r.ttl("plain") == -1
    assert r.pttl("plain") == -1
    assert r.ttl("missing") == -2
    assert r.pttl("missing") == -2
    # A plain SET clears the TTL; KEEPTTL keeps it.
    r.set("session:a", "y")
    assert r.ttl("session:a") == -1
    r.set("session:c", "y", keepttl=True)
    assert 58 <= r.ttl("session:c") <= 60
    assert r.get("session:c") == b"y"


def test_expire_persist_and_options(r):
    r.set("k", "v")
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("k") is False
    assert r.persist("missing") is False
    assert r.expire("missing", 10) is False

    assert r.pexpire("k", 50_000) is True
    assert 49_000 <= r.pttl("k") <= 50_000
    # NX/XX/GT/LT.
    assert r.expire("k", 10, nx=True) is False
    assert r.expire("k", 1000, gt=True) is True
    assert r.expire("k", 2000, lt=True) is False
    assert r.expire("k", 500, lt=True) is True
    assert 499 <= r.ttl("k") <= 500
    r.persist("k")
    assert r.expire("k", 10, xx=True) is False
    assert r.expire("k", 10, gt=True) is False
    assert r.ttl("k") == -1

    now = int(time.time())
    assert r.expireat("k", now + 3600) is True
    assert r.expiretime("k") == now + 3600
    assert r.pexpiretime("k") == (now + 3600) * 1000
    assert r.pexpireat("k", (now + 7200) * 1000) is True
    assert 7100 <= r.ttl("k") <= 7200
    assert r.expiretime("missing") == -2
    r.set("p", "v")
    assert r.expiretime("p") == -1

    # GETEX changes or removes the TTL and returns the value.
    assert r.getex("p", ex=30) == b"v"
    assert 29 <= r.ttl("p") <= 30
    assert r.getex("p", persist=True) == b"v"
    assert r.ttl("p") == -1
    assert r.getex("missing", ex=30) is None


def test_keys_expire(r):
    r.set("short", "v", px=100)
    r.setex("short2", 1, "v")
    r.set("long", "v", ex=100)
    r.set("past", "v")
    assert r.expireat("past", int(time.time()) - 10) is True
    assert r.get("past") is None
    assert r.exists("past") == 0
    time.sleep(1.3)
    assert r.get("short") is None
    assert r.get("short2") is None
    assert r.exists("short", "short2", "long") == 1
    assert r.ttl("short") == -2
    assert r.keys("*") == [b"long"]
    assert r.dbsize() == 1
    # An expired key can be set again, fresh.
    assert r.set("short", "new", nx=True) is True
    assert r.ttl("short") == -1


def test_invalid_expire_times(r):
    with pytest.raises(redis.ResponseError, match="^invalid expire time in 'set' command$"):
        r.set("k", "v", ex=0)
    with pytest.raises(redis.ResponseError, match="^invalid expire time in 'setex' command$"):
        r.setex("k", -1, "v")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("EXPIRE", "k", "soon")
    assert r.exists("k") == 0
    r.set("k", "v")
    # A zero or negative relative TTL deletes the key at once.
    assert r.expire("k", -5) is True
    assert r.exists("k") == 0


def test_del_exists_type_rename_copy(r):
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert r.exists("a", "b", "missing") == 2
    assert r.exists("a", "a") == 2  # counted per argument, like Redis
    assert r.delete("a", "missing") == 1
    assert r.unlink("b", "c") == 2
    assert r.exists("a", "b", "c") == 0
    assert r.type("missing") == b"none"

    r.set("src", "payload", ex=100)
    assert r.rename("src", "dst") is True
    assert r.get("src") is None
    assert r.get("dst") == b"payload"
    assert 99 <= r.ttl("dst") <= 100  # the TTL moves with the key
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.rename("src", "other")
    r.set("taken", "x")
    assert r.renamenx("dst", "taken") is False
    assert r.renamenx("dst", "free") is True
    assert r.get("free") == b"payload"

    assert r.copy("free", "copy1") is True
    assert r.get("copy1") == b"payload"
    assert r.copy("free", "taken") is False
    assert r.copy("free", "taken", replace=True) is True
    assert r.get("taken") == b"payload"
    assert r.touch("free", "copy1", "missing") == 2
    assert r.object("encoding", "free") == b"embstr"
    r.set("num", "12345")
    assert r.object("encoding", "num") == b"int"


def test_keys_and_scan_iter(r):
    users = {f"user:{i}".encode() for i in range(300)}
    orders = {f"order:{i}".encode() for i in range(200)}
    r.mset({k: "u" for k in users})
    r.mset({k: "o" for k in orders})
    r.set("other", "x")
    assert r.dbsize() == 501

    assert set(r.keys("user:*")) == users
    assert set(r.keys("user:1?")) == {f"user:1{d}".encode() for d in range(10)}
    assert set(r.keys("user:[12]5")) == {b"user:15", b"user:25"}
    assert set(r.keys("user:2[^0-8]")) == {b"user:29"}
    assert r.keys("nomatch*") == []
    assert len(r.keys("*")) == 501

    seen = list(r.scan_iter(match="user:*", count=25))
    assert set(seen) == users
    assert set(r.scan_iter(match="order:1*", count=7)) == {k for k in orders if k.startswith(b"order:1")}
    assert set(r.scan_iter()) == users | orders | {b"other"}

    # The cursor protocol by hand: several pages, ending at cursor 0.
    cursor, pages, found = 0, 0, set()
    while True:
        cursor, batch = r.scan(cursor, match="order:*", count=50)
        found.update(batch)
        pages += 1
        if cursor == 0:
            break
        assert pages < 1000
    assert found == orders
    assert pages > 1

    assert set(r.scan_iter(_type="string", match="other")) == {b"other"}
    assert r.randomkey() in users | orders | {b"other"}


def test_scan_while_writing_sees_every_untouched_key(r):
    r.mset({f"stable:{i:04}": "x" for i in range(1000)})
    seen = set()
    for i, k in enumerate(r.scan_iter(match="stable:*", count=100)):
        seen.add(k)
        if i % 50 == 0:
            r.set(f"churn:{i}", "y")  # writes elsewhere during the iteration
    assert seen == {f"stable:{i:04}".encode() for i in range(1000)}


def test_glob_special_characters(r):
    for k in ["a*b", "a?b", "a[b", "axb", "a\\b"]:
        r.set(k, "1")
    assert set(r.keys("a\\*b")) == {b"a*b"}
    assert set(r.keys("a\\?b")) == {b"a?b"}
    assert set(r.keys("a\\[b")) == {b"a[b"}
    assert set(r.keys("a?b")) == {b"a*b", b"a?b", b"a[b", b"axb", b"a\\b"}
    assert set(r.keys("a\\\\b")) == {b"a\\b"}


def test_select_isolates_databases(server):
    with server.client(db=0) as c0, server.client(db=1) as c1, server.client(db=15) as c15:
        c0.set("k", "zero")
        c1.set("k", "one")
        assert c0.get("k") == b"zero"
        assert c1.get("k") == b"one"
        assert c15.get("k") is None
        c1.set("only-in-1", "x", ex=100)
        assert c0.exists("only-in-1") == 0
        assert c0.dbsize() == 1 and c1.dbsize() == 2 and c15.dbsize() == 0
        assert c0.keys("*") == [b"k"]
        assert set(c1.scan_iter()) == {b"k", b"only-in-1"}

        assert c0.copy("k", "k-from-0", destination_db=15) is True
        assert c15.get("k-from-0") == b"zero"
        assert c0.exists("k-from-0") == 0

        assert c1.flushdb() is True
        assert c1.dbsize() == 0
        assert c0.get("k") == b"zero"
        assert c15.dbsize() == 1
        assert c0.flushall() is True
        assert c0.dbsize() == 0 and c15.dbsize() == 0

        # SELECT on a live connection, and an out-of-range index.
        c0.set("k", "zero again")
        assert c0.execute_command("SELECT", 1) in (True, b"OK")
        assert c0.get("k") is None
        with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
            c0.execute_command("SELECT", 16)
        with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
            c0.execute_command("SELECT", "one")


def test_dbsize_inside_multi_counts_the_transactions_writes(r):
    """DBSIZE queued after writes in the same MULTI sees them (found by test_differential.py:
    pmemkv counted only committed keys)."""
    r.mset({"a": "1", "b": "2", "c": "3"})
    r.expire("c", 1000)
    p = r.pipeline(transaction=True)
    p.delete("a", "nope")
    p.dbsize()
    p.set("d", "4", ex=100)
    p.rpush("l", "x", "y")
    p.dbsize()
    p.set("c", "5")  # overwrite: no new key, loses its expiry
    p.dbsize()
    p.getdel("d")
    p.dbsize()
    assert p.execute() == [1, 2, True, 2, 4, True, 4, b"4", 3]
    assert r.dbsize() == 3
