"""Strings and counters through redis-py, as an application uses them.

Each test runs against pmemkv-server and against a real Redis 7 (the `kind` parameter)."""

import os

import pytest
import redis


def test_set_get_and_conditional_sets(r):
    assert r.get("missing") is None
    assert r.set("user:1:name", "ada") is True
    assert r.get("user:1:name") == b"ada"
    assert r.set("user:1:name", "grace") is True
    assert r.get("user:1:name") == b"grace"

    # NX only when absent, XX only when present; a refused SET replies nil.
    assert r.set("user:1:name", "x", nx=True) is None
    assert r.set("user:2:name", "linus", nx=True) is True
    assert r.set("user:3:name", "x", xx=True) is None
    assert r.exists("user:3:name") == 0
    assert r.set("user:2:name", "torvalds", xx=True) is True
    assert r.get("user:2:name") == b"torvalds"

    # SET … GET returns the old value.
    assert r.set("user:2:name", "new", get=True) == b"torvalds"
    assert r.set("fresh", "v", get=True) is None
    assert r.get("fresh") == b"v"

    assert r.setnx("user:1:name", "nope") is False
    assert r.setnx("user:4:name", "ken") is True
    assert r.getset("user:4:name", "thompson") == b"ken"
    assert r.getdel("user:4:name") == b"thompson"
    assert r.getdel("user:4:name") is None
    assert r.get("user:4:name") is None


def test_empty_string_value_is_a_value(r):
    assert r.set("empty", "") is True
    assert r.get("empty") == b""
    assert r.exists("empty") == 1
    assert r.strlen("empty") == 0
    assert r.type("empty") == b"string"


def test_append_strlen_getrange_setrange(r):
    assert r.append("log", "hello") == 5
    assert r.append("log", " world") == 11
    assert r.get("log") == b"hello world"
    assert r.strlen("log") == 11
    assert r.strlen("nothing") == 0
    assert r.getrange("log", 0, 4) == b"hello"
    assert r.getrange("log", -5, -1) == b"world"
    assert r.getrange("log", 6, 1000) == b"world"
    assert r.getrange("log", 5, 2) == b""
    assert r.getrange("nothing", 0, -1) == b""
    assert r.setrange("log", 6, "WORLD") == 11
    assert r.get("log") == b"hello WORLD"
    # Past the end: zero-padded.
    assert r.setrange("pad", 3, "x") == 4
    assert r.get("pad") == b"\x00\x00\x00x"


def test_mset_mget_msetnx(r):
    mapping = {f"cfg:{i}": f"value-{i}" for i in range(100)}
    assert r.mset(mapping) is True
    keys = list(mapping) + ["cfg:missing"]
    assert r.mget(keys) == [v.encode() for v in mapping.values()] + [None]
    assert r.mget("cfg:0", "cfg:missing", "cfg:99") == [b"value-0", None, b"value-99"]
    # MSETNX is all or nothing.
    assert r.msetnx({"cfg:0": "x", "cfg:new": "y"}) is False
    assert r.get("cfg:new") is None
    assert r.get("cfg:0") == b"value-0"
    assert r.msetnx({"cfg:new": "y", "cfg:new2": "z"}) is True
    assert r.mget("cfg:new", "cfg:new2") == [b"y", b"z"]


def test_counters(r):
    assert r.incr("hits") == 1
    assert r.incr("hits") == 2
    assert r.incrby("hits", 40) == 42
    assert r.decr("hits") == 41
    assert r.decrby("hits", 50) == -9
    assert r.get("hits") == b"-9"
    r.set("n", "100")
    assert r.incr("n") == 101
    assert r.incrby("n", -201) == -100
    assert r.decrby("fresh", 5) == -5

    assert r.incrbyfloat("price", 10.5) == 10.5
    assert r.incrbyfloat("price", 0.1) == pytest.approx(10.6)
    assert r.get("price") == b"10.6"
    assert r.incrbyfloat("price", -10.6) == 0
    assert r.get("price") == b"0"
    r.set("sci", "5.0e3")
    assert r.incrbyfloat("sci", 200) == 5200
    assert r.get("sci") == b"5200"

    # A counter many clients bump in turn ends exact.
    clients = [redis.Redis(connection_pool=r.connection_pool) for _ in range(4)]
    for _ in range(50):
        for c in clients:
            c.incr("shared")
    assert r.get("shared") == b"200"


def test_incrbyfloat_digits_are_redis_s(r):
    assert r.incrbyfloat("money", 0.1) == 0.1
    r.incrbyfloat("money", 0.2)
    assert r.get("money") == b"0.3"
    r.set("big", "5200")
    r.incrbyfloat("big", 1.5e-7)
    assert r.get("big") == b"5200.00000014999999998"


def test_strings_of_32_mib_and_more(r):
    big = b"w" * (32 << 20)
    assert r.set("weights", big) is True
    assert r.strlen("weights") == len(big)
    assert r.append("weights", b"!") == len(big) + 1
    assert r.get("weights") == big + b"!"


def test_counter_errors(r):
    r.set("word", "abc")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.incr("word")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.incrby("n", "1.5")
    with pytest.raises(redis.ResponseError, match="^value is not a valid float$"):
        r.incrbyfloat("word", 1)
    r.set("max", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="^increment or decrement would overflow$"):
        r.incr("max")
    assert r.get("max") == str(2**63 - 1).encode()
    r.set("spaced", " 1")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("spaced")
    # The failed commands left every value alone.
    assert r.get("word") == b"abc"
    assert r.get("spaced") == b" 1"
    assert r.exists("n") == 0


def test_binary_safe_keys_and_values(r):
    every_byte = bytes(range(256))
    value = every_byte * 4 + b"\r\n$-1\r\n*0\r\n"  # protocol-looking bytes too
    assert r.set(every_byte, value) is True
    assert r.get(every_byte) == value
    assert r.strlen(every_byte) == len(value)
    assert r.getrange(every_byte, 250, 260) == every_byte[250:] + every_byte[:5]
    assert every_byte in r.keys("*")
    assert r.append(every_byte, b"\x00\xff") == len(value) + 2
    assert r.get(every_byte)[-2:] == b"\x00\xff"
    r.mset({b"\x00": b"\xff\x00", b"\xff": b""})
    assert r.mget(b"\x00", b"\xff") == [b"\xff\x00", b""]
    # Bytes that are not UTF-8 must not be "fixed up" anywhere.
    assert r.set("latin1", "é".encode("latin-1")) is True
    assert r.get("latin1") == b"\xe9"


def test_ten_megabyte_value(r):
    big = os.urandom(10 << 20)
    assert r.set("model:weights", big) is True
    assert r.strlen("model:weights") == len(big)
    assert r.get("model:weights") == big
    mid = 5 << 20
    assert r.getrange("model:weights", mid, mid + 99) == big[mid : mid + 100]
    assert r.append("model:weights", b"!") == len(big) + 1
    # Read back in a pipeline next to small replies.
    p = r.pipeline(transaction=False)
    p.get("model:weights").set("after", "1").get("after")
    got, ok, after = p.execute()
    assert got == big + b"!"
    assert ok is True and after == b"1"
    assert r.delete("model:weights") == 1
    assert r.get("model:weights") is None
