"""Streams and consumer groups through redis-py: the event archive of training sessions read by
processor groups.

Each portable test runs against pmemkv-server and against a real Redis 7 (the `kind`
parameter), in RESP2 and RESP3; the crash test runs pmemkv-server only."""

import threading
import time

import pytest
import redis


def resp3(r) -> bool:
    return r.connection_pool.connection_kwargs.get("protocol") in (3, "3")


def test_xadd_xrange_xlen_xdel_xtrim(r):
    assert r.xadd("ev", {"step": "1"}, id="1-1") == b"1-1"
    assert r.xadd("ev", {"step": "2"}, id="1-*") == b"1-2"
    assert r.xadd("ev", {"step": "3", "loss": "0.5"}, id="2-0") == b"2-0"
    with pytest.raises(redis.ResponseError, match="equal or smaller than the target stream top item"):
        r.xadd("ev", {"x": "y"}, id="2-0")
    with pytest.raises(redis.ResponseError, match="must be greater than 0-0"):
        r.xadd("other", {"x": "y"}, id="0-0")
    with pytest.raises(redis.ResponseError, match="Invalid stream ID"):
        r.xadd("ev", {"x": "y"}, id="abc")
    assert r.xadd("nope", {"x": "y"}, nomkstream=True) is None
    assert r.exists("nope") == 0
    assert r.xlen("ev") == 3
    assert r.xrange("ev") == [
        (b"1-1", {b"step": b"1"}),
        (b"1-2", {b"step": b"2"}),
        (b"2-0", {b"step": b"3", b"loss": b"0.5"}),
    ]
    assert [e[0] for e in r.xrange("ev", "(1-1", "+", count=1)] == [b"1-2"]
    assert [e[0] for e in r.xrevrange("ev", "+", "-", count=2)] == [b"2-0", b"1-2"]
    assert r.xrange("missing") == []
    assert r.xdel("ev", "1-1", "9-9") == 1
    assert r.xtrim("ev", maxlen=1) == 0  # redis-py sends `~`: no whole node to drop
    assert r.xtrim("ev", maxlen=1, approximate=False) == 1
    assert [e[0] for e in r.xrange("ev")] == [b"2-0"]
    for i in range(3, 8):
        r.xadd("ev", {"step": str(i)}, id=f"{i}-0")
    assert r.xtrim("ev", minid="5-0", approximate=False) == 3
    assert r.xadd("ev", {"s": "8"}, id="8-0", maxlen=2, approximate=False) == b"8-0"
    assert [e[0] for e in r.xrange("ev")] == [b"7-0", b"8-0"]
    r.set("str", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.xlen("str")


def test_xread_and_blocking_xread(server, r):
    r.xadd("a", {"f": "1"}, id="1-0")
    r.xadd("b", {"g": "1"}, id="1-0")
    res = r.xread({"a": "0", "b": "0", "missing": "0"})
    if resp3(r):
        # A RESP3 map of key -> entries (redis-py wraps each value in a list).
        assert res == {b"a": [[(b"1-0", {b"f": b"1"})]], b"b": [[(b"1-0", {b"g": b"1"})]]}
    else:
        assert res == [[b"a", [(b"1-0", {b"f": b"1"})]], [b"b", [(b"1-0", {b"g": b"1"})]]]
    assert r.xread({"a": "$"}) == ({} if resp3(r) else [])

    # BLOCK with `$`: only what arrives after the reader blocked.
    got = {}

    def reader():
        with server.client() as c:
            got["r"] = c.xread({"a": "$"}, block=10_000)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.3)
    r.xadd("a", {"f": "2"}, id="2-0")
    t.join(10)
    assert got["r"] == [[b"a", [(b"2-0", {b"f": b"2"})]]]
    # Timeout: nothing.
    start = time.monotonic()
    assert r.xread({"a": "$"}, block=200) in ([], {}, None)
    assert time.monotonic() - start >= 0.18


def test_consumer_group_lifecycle(r):
    for i in range(1, 5):
        r.xadd("ev", {"n": str(i)}, id=f"{i}-0")
    assert r.xgroup_create("ev", "proc", id="0") is True
    with pytest.raises(redis.ResponseError, match="BUSYGROUP Consumer Group name already exists"):
        r.xgroup_create("ev", "proc", id="0")
    with pytest.raises(redis.ResponseError, match="requires the key to exist"):
        r.xgroup_create("missing", "proc", id="$")
    assert r.xgroup_create("fresh", "proc", id="$", mkstream=True) is True
    assert r.xlen("fresh") == 0

    res = r.xreadgroup("proc", "w1", {"ev": ">"}, count=2)
    entries = res[b"ev"][0] if resp3(r) and isinstance(res, dict) else res[0][1]
    assert [e[0] for e in entries] == [b"1-0", b"2-0"]
    r.xreadgroup("proc", "w2", {"ev": ">"})
    assert r.xreadgroup("proc", "w2", {"ev": ">"}) in ([], {}, None)
    with pytest.raises(redis.ResponseError, match="NOGROUP No such key 'ev' or consumer group 'nog'"):
        r.xreadgroup("nog", "w1", {"ev": ">"})

    summary = r.xpending("ev", "proc")
    assert summary["pending"] == 4
    assert summary["min"] == b"1-0" and summary["max"] == b"4-0"
    assert sorted((c["name"], int(c["pending"])) for c in summary["consumers"]) == [(b"w1", 2), (b"w2", 2)]
    rows = r.xpending_range("ev", "proc", "-", "+", 10, consumername="w2")
    assert [(row["message_id"], row["consumer"], row["times_delivered"]) for row in rows] == [
        (b"3-0", b"w2", 1),
        (b"4-0", b"w2", 1),
    ]

    assert r.xack("ev", "proc", "1-0", "3-0", "9-9") == 2
    assert r.xack("ev", "nog", "1-0") == 0
    claimed = r.xclaim("ev", "proc", "w3", 0, ["2-0"], justid=True)
    assert claimed == [b"2-0"]
    auto = r.xautoclaim("ev", "proc", "w4", 0, "0-0")
    assert auto[0] == b"0-0"
    assert [e[0] for e in auto[1]] == [b"2-0", b"4-0"]
    assert auto[2] == []

    groups = r.xinfo_groups("ev")
    assert len(groups) == 1
    g = groups[0]
    assert (g["name"], g["consumers"], g["pending"], g["last-delivered-id"]) == (b"proc", 4, 2, b"4-0")
    assert g["entries-read"] == 4 and g["lag"] == 0
    consumers = r.xinfo_consumers("ev", "proc")
    assert [(c["name"], c["pending"]) for c in consumers] == [(b"w1", 0), (b"w2", 0), (b"w3", 0), (b"w4", 2)]
    assert r.xgroup_delconsumer("ev", "proc", "w4") == 2
    assert r.xgroup_createconsumer("ev", "proc", "w5") == 1
    assert r.xgroup_setid("ev", "proc", "0") is True
    assert r.xgroup_destroy("ev", "proc") == 1
    assert r.xgroup_destroy("ev", "proc") == 0
    assert r.xinfo_groups("ev") == []


def test_xinfo_stream(r):
    r.xadd("ev", {"a": "1"}, id="1-0")
    r.xadd("ev", {"b": "2"}, id="2-0")
    r.xgroup_create("ev", "g", id="0")
    info = r.xinfo_stream("ev")
    assert info["length"] == 2
    assert info["last-generated-id"] == b"2-0"
    assert info["entries-added"] == 2
    assert info["groups"] == 1
    assert info["first-entry"] == (b"1-0", {b"a": b"1"})
    assert info["last-entry"] == (b"2-0", {b"b": b"2"})
    full = r.xinfo_stream("ev", full=True)
    assert full["length"] == 2
    assert len(full["groups"]) == 1
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.xinfo_stream("missing")


def test_pending_entries_survive_sigkill(start_server):
    s = start_server("--appendfsync", "always")
    c = s.client()
    for i in range(1, 5):
        c.xadd("ev", {"n": str(i)}, id=f"{i}-0")
    c.xgroup_create("ev", "proc", id="0")
    c.xreadgroup("proc", "a", {"ev": ">"}, count=2)
    c.xreadgroup("proc", "b", {"ev": ">"}, count=2)
    assert c.xack("ev", "proc", "3-0", "4-0", "1-0") == 3
    c.close()
    s.kill()

    s2 = start_server("--appendfsync", "always", data_dir=s.dir)
    c = s2.client()
    summary = c.xpending("ev", "proc")
    assert summary["pending"] == 1
    assert [(x["name"], int(x["pending"])) for x in summary["consumers"]] == [(b"a", 1)]
    auto = c.xautoclaim("ev", "proc", "b", 0, "0-0")
    assert [e[0] for e in auto[1]] == [b"2-0"]
    assert c.xack("ev", "proc", "2-0") == 1
    assert c.xpending("ev", "proc")["pending"] == 0
    c.close()


@pytest.mark.parametrize("bad", [
    ["XGROUP", "SETID", "s", "g"],          # too few arguments for the subcommand
    ["XGROUP", "NOSUCH", "s", "g"],         # unknown subcommand
    ["XINFO", "GROUPS", "s", "extra"],
    ["CONFIG", "GET"],
    ["CONFIG", "BOGUS"],
    ["OBJECT", "ENCODING"],
])
def test_subcommand_errors_abort_a_transaction_when_queued(r, bad):
    """A container command's subcommand is checked when MULTI queues it, as Redis does: the
    error is the queued command's reply and EXEC fails with EXECABORT, running nothing (found
    by test_differential.py: pmemkv queued it and failed only that command at EXEC)."""
    r.delete("s", "after")
    p = r.pipeline(transaction=True)
    p.execute_command(*bad)
    p.set("after", "1")
    with pytest.raises(redis.ResponseError) as e:
        p.execute()
    assert "Command # 1" in str(e.value)
    assert r.exists("after") == 0
