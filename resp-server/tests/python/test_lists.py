"""Lists through redis-py: LPOS, LINSERT, LREM, LMOVE, RPOPLPUSH, LMPOP and the blocking
BLMOVE, BRPOPLPUSH, BLMPOP, BLPOP, with Redis 7.0's replies and error texts.

Each test runs against pmemkv-server and against a real Redis 7 (the `kind` parameter), so
every expectation here is Redis's own."""

import threading
import time

import pytest
import redis


def errtext(fn, *args, **kw):
    with pytest.raises(redis.ResponseError) as e:
        fn(*args, **kw)
    return str(e.value)


def blocked_clients(c) -> int:
    return int(c.info("clients")["blocked_clients"])


def wait_blocked(c, n: int):
    deadline = time.monotonic() + 10
    while blocked_clients(c) != n:
        assert time.monotonic() < deadline, f"expected {n} blocked clients, have {blocked_clients(c)}"
        time.sleep(0.01)


class Call(threading.Thread):
    """Runs one blocking command on its own connection; `.result` or `.error` after join."""

    def __init__(self, server, *args):
        super().__init__(daemon=True)
        self.server, self.args, self.result, self.error = server, args, None, None

    def run(self):
        with self.server.client() as c:
            try:
                self.result = c.execute_command(*self.args)
            except redis.ResponseError as e:
                self.error = str(e)

    def done(self):
        self.join(10)
        assert not self.is_alive(), f"{self.args} still blocked"
        return self


def test_lpos(r):
    r.rpush("l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert r.lpos("l", "c") == 2
    assert r.lpos("l", "c", rank=2) == 6
    assert r.lpos("l", "c", rank=-1) == 7
    assert r.lpos("l", "c", count=0) == [2, 6, 7]
    assert r.lpos("l", "c", count=2, rank=-1) == [7, 6]
    assert r.lpos("l", "c", maxlen=2) is None
    assert r.lpos("l", "c", maxlen=3, count=0) == [2]
    assert r.lpos("l", "zz") is None
    assert r.lpos("l", "zz", count=0) == []
    assert r.lpos("missing", "c") is None
    assert r.lpos("missing", "c", count=1) == []
    assert errtext(r.lpos, "l", "c", rank=0) == (
        "RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
        "or use negative to start from the end of the list"
    )
    assert errtext(r.lpos, "l", "c", count=-1) == "COUNT can't be negative"
    assert errtext(r.lpos, "l", "c", maxlen=-1) == "MAXLEN can't be negative"
    assert errtext(r.execute_command, "LPOS", "l", "c", "RANK") == "syntax error"
    assert errtext(r.execute_command, "LPOS", "l", "c", "RANK", "x") == "value is not an integer or out of range"
    # Options are checked before the key.
    r.set("s", "x")
    assert errtext(r.lpos, "s", "x", rank=0).startswith("RANK can't be zero")
    assert errtext(r.lpos, "s", "x").startswith("WRONGTYPE")


def test_linsert_and_lrem(r):
    r.rpush("l", "a", "b", "c", "b")
    assert r.linsert("l", "BEFORE", "b", "x") == 5
    assert r.linsert("l", "after", "b", "y") == 6
    assert r.linsert("l", "after", "nope", "z") == -1
    assert r.linsert("missing", "before", "a", "z") == 0
    assert r.exists("missing") == 0
    assert r.lrange("l", 0, -1) == [b"a", b"x", b"b", b"y", b"c", b"b"]
    assert errtext(r.execute_command, "LINSERT", "l", "middle", "a", "z") == "syntax error"
    r.rpush("r", "x", "a", "x", "b", "x", "c", "x")
    assert r.lrem("r", 2, "x") == 2
    assert r.lrem("r", -1, "x") == 1
    assert r.lrange("r", 0, -1) == [b"a", b"b", b"x", b"c"]
    assert r.lrem("r", 0, "x") == 1
    assert r.lrem("r", 0, "nope") == 0
    assert r.lrem("missing", 0, "x") == 0
    assert errtext(r.lrem, "r", "many", "x") == "value is not an integer or out of range"
    r.rpush("one", "x")
    assert r.lrem("one", 0, "x") == 1
    assert r.exists("one") == 0
    r.set("s", "v")
    assert errtext(r.linsert, "s", "before", "a", "b").startswith("WRONGTYPE")
    assert errtext(r.lrem, "s", 0, "a").startswith("WRONGTYPE")


def test_lset_lindex_argument_order(r):
    r.set("s", "v")
    r.rpush("l", "a", "b")
    # The key is looked up before the index is parsed.
    assert r.execute_command("LINDEX", "missing", "notanumber") is None
    assert errtext(r.execute_command, "LINDEX", "s", "notanumber").startswith("WRONGTYPE")
    assert errtext(r.execute_command, "LSET", "missing", "notanumber", "x") == "no such key"
    assert errtext(r.execute_command, "LSET", "s", "notanumber", "x").startswith("WRONGTYPE")
    assert errtext(r.execute_command, "LSET", "l", "notanumber", "x") == "value is not an integer or out of range"
    assert errtext(r.lset, "l", 2, "x") == "index out of range"
    assert errtext(r.lset, "l", -3, "x") == "index out of range"
    assert r.lset("l", -1, "z") is True
    assert r.lindex("l", -1) == b"z"
    assert r.lindex("l", 2) is None


def test_lmove_and_rpoplpush(r):
    r.rpush("src", "1", "2", "3")
    assert r.lmove("src", "dst", "RIGHT", "LEFT") == b"3"
    assert r.lmove("src", "dst", "LEFT", "RIGHT") == b"1"
    assert r.lrange("dst", 0, -1) == [b"3", b"1"]
    assert r.rpoplpush("src", "dst") == b"2"
    assert r.exists("src") == 0
    assert r.lrange("dst", 0, -1) == [b"2", b"3", b"1"]
    assert r.lmove("missing", "dst") is None
    assert r.rpoplpush("missing", "dst") is None
    # Rotation.
    assert r.lmove("dst", "dst", "LEFT", "RIGHT") == b"2"
    assert r.lrange("dst", 0, -1) == [b"3", b"1", b"2"]
    assert r.rpoplpush("dst", "dst") == b"2"
    assert r.lrange("dst", 0, -1) == [b"2", b"3", b"1"]
    r.set("s", "v")
    assert errtext(r.lmove, "dst", "s").startswith("WRONGTYPE")
    assert r.lrange("dst", 0, -1) == [b"2", b"3", b"1"], "nothing popped"
    assert errtext(r.rpoplpush, "s", "dst").startswith("WRONGTYPE")
    assert r.lmove("missing", "s") is None
    assert errtext(r.execute_command, "LMOVE", "dst", "x", "UP", "LEFT") == "syntax error"


def test_lmpop(r):
    r.rpush("b", "1", "2", "3")
    assert r.lmpop(2, "a", "b", direction="LEFT") == [b"b", [b"1"]]
    assert r.lmpop(2, "a", "b", direction="RIGHT", count=5) == [b"b", [b"3", b"2"]]
    assert r.exists("b") == 0
    assert r.lmpop(2, "a", "b", direction="LEFT") is None
    assert errtext(r.execute_command, "LMPOP", "0", "a", "LEFT") == "numkeys should be greater than 0"
    assert errtext(r.execute_command, "LMPOP", "x", "a", "LEFT") == "numkeys should be greater than 0"
    assert errtext(r.execute_command, "LMPOP", "3", "a", "LEFT") == "syntax error"
    assert errtext(r.execute_command, "LMPOP", "1", "a", "UP") == "syntax error"
    assert errtext(r.execute_command, "LMPOP", "1", "a", "LEFT", "COUNT", "0") == "count should be greater than 0"
    assert errtext(r.execute_command, "LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "2") == "syntax error"
    r.set("s", "v")
    r.rpush("l", "x")
    assert errtext(r.lmpop, 2, "s", "l", direction="LEFT").startswith("WRONGTYPE")
    assert r.lmpop(2, "l", "s", direction="LEFT") == [b"l", [b"x"]]
    assert errtext(r.execute_command, "BLMPOP", "0", "1", "a", "LEFT", "COUNT", "-1") == "count should be greater than 0"
    assert errtext(r.execute_command, "BLMPOP", "x", "1", "a", "LEFT") == "timeout is not a float or out of range"


def test_blocking_variants_time_out_with_none(r):
    assert r.blmove("nothing", "dst", 0.05, "LEFT", "RIGHT") is None
    assert r.brpoplpush("nothing", "dst", 0.05) is None
    assert r.blmpop(0.05, 2, "n1", "n2", direction="LEFT") is None
    assert r.exists("dst") == 0
    # Data already there: no blocking.
    r.rpush("q", "a", "b", "c")
    assert r.blmove("q", "dst", 0, "LEFT", "RIGHT") == b"a"
    assert r.brpoplpush("q", "dst", 0) == b"c"
    assert r.blmpop(0, 2, "n1", "q", direction="LEFT", count=5) == [b"q", [b"b"]]
    assert r.lrange("dst", 0, -1) == [b"c", b"a"]


def test_blocking_inside_multi_does_not_block(r):
    p = r.pipeline(transaction=True)
    p.blmove("nothing", "dst", 0, "LEFT", "RIGHT")
    p.brpoplpush("nothing", "dst", 0)
    p.blmpop(0, 1, "nothing", direction="LEFT")
    p.blpop("nothing", 0)
    assert p.execute() == [None, None, None, None]


def test_blmove_chain_wakes_the_client_blocked_on_the_destination(server):
    with server.client() as c:
        mover = Call(server, "BLMOVE", "jobs", "work", "LEFT", "RIGHT", "0")
        mover.start()
        wait_blocked(c, 1)
        popper = Call(server, "BLPOP", "work", "0")
        popper.start()
        wait_blocked(c, 2)
        assert c.rpush("jobs", "j1") == 1
        assert mover.done().result == b"j1"
        assert list(popper.done().result) == [b"work", b"j1"]
        assert c.exists("jobs", "work") == 0
        wait_blocked(c, 0)


def test_blocked_clients_are_served_in_order_across_variants(server):
    with server.client() as c:
        calls = [
            Call(server, "BRPOPLPUSH", "q", "d", "0"),
            Call(server, "BLMPOP", "0", "2", "other", "q", "LEFT", "COUNT", "2"),
            Call(server, "BLPOP", "q", "0"),
        ]
        for i, t in enumerate(calls):
            t.start()
            wait_blocked(c, i + 1)
        # One push of three: the first waiter takes the tail, the second two from the head.
        c.rpush("q", "a", "b", "c")
        assert calls[0].done().result == b"c"
        assert calls[1].done().result == [b"q", [b"a", b"b"]]
        assert blocked_clients(c) == 1
        c.lpush("q", "z")
        assert list(calls[2].done().result) == [b"q", b"z"]
        assert c.lrange("d", 0, -1) == [b"c"]


def test_blmove_whose_destination_became_a_string_gets_wrongtype(server):
    with server.client() as c:
        mover = Call(server, "BLMOVE", "src", "dst", "LEFT", "LEFT", "0")
        mover.start()
        wait_blocked(c, 1)
        c.set("dst", "now a string")
        c.rpush("src", "x")
        assert mover.done().error.startswith("WRONGTYPE")
        assert c.lrange("src", 0, -1) == [b"x"], "nothing was moved"


def test_a_blocked_pop_skips_a_key_that_became_a_string(server):
    with server.client() as c:
        popper = Call(server, "BLPOP", "a", "b", "0")
        popper.start()
        wait_blocked(c, 1)
        c.set("a", "string")
        c.rpush("b", "x")
        assert list(popper.done().result) == [b"b", b"x"]


def test_a_waiter_is_served_from_the_key_that_became_ready_first(server):
    with server.client() as c:
        popper = Call(server, "BLPOP", "a", "b", "0")
        popper.start()
        wait_blocked(c, 1)
        p = c.pipeline(transaction=True)
        p.rpush("b", "from-b")
        p.rpush("a", "from-a")
        p.execute()
        assert list(popper.done().result) == [b"b", b"from-b"]


def test_watch_sees_lmpop_and_lmove(server):
    with server.client() as c, server.client() as other:
        for change in (
            lambda: other.lmpop(1, "w", direction="LEFT"),
            lambda: other.lmove("src", "w"),
            lambda: other.linsert("w", "before", "a", "x"),
            lambda: other.lrem("w", 0, "a"),
        ):
            c.delete("w", "src")
            c.rpush("w", "a", "b")
            c.rpush("src", "s")
            with c.pipeline(transaction=True) as p:
                p.watch("w")
                change()
                p.multi()
                p.rpush("w", "mine")
                with pytest.raises(redis.WatchError):
                    p.execute()
        # LMPOP on other keys does not touch the watched one.
        c.delete("w")
        c.rpush("w", "a")
        c.rpush("x", "1")
        with c.pipeline(transaction=True) as p:
            p.watch("w")
            other.lmpop(2, "x", "w", direction="LEFT")
            p.multi()
            p.rpush("w", "mine")
            assert p.execute() == [2]


# Byte-for-byte: the audit scenario pipelined on a raw socket, RESP2 and RESP3.
WIRE_SCENARIO = """
rpush l a b c 1 2 3 c c
set s x
lpos l c
lpos l c RANK -2 COUNT 0 MAXLEN 7
lpos l c rank -9223372036854775808
lpos l c rank 0
lpos l c count -1
lpos l c maxlen x
lpos l c rank
lpos missing c
lpos missing c count 1
lpos s c
linsert l before c x
linsert l after nope x
linsert l middle c x
linsert missing before c x
linsert s before c x
lrem l -1 c
lrem l x c
lrem s 0 c
lindex missing x
lindex s x
lindex l x
lset missing x v
lset s x v
lset l 100 v
lrange l 0 -1
lmove l d left right
lmove l d up right
lmove missing s left right
lmove l s left right
rpoplpush l l
rpoplpush missing d
lmpop 2 missing l right count 3
lmpop 1 missing left
lmpop 0 l left
lmpop 3 l left
lmpop 1 l left count 0
lmpop 1 l left count 1 count 1
lmpop 2 s l left
blmpop 0.01 1 missing left
blmpop x 0 l left
blmove missing d left right 0.01
blmove l s left right 0
blmove missing d left right -1
brpoplpush missing d 0.01
brpoplpush l d x
blpop missing inf
multi
blmove missing d left left 0
brpoplpush missing d 0
blmpop 0 1 missing left
blpop missing 0
lpos l a count 0
exec
lrange d 0 -1
ltrim l 0 0
lrange l 0 -1
lpop missing 2
lpop l 0
"""


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
def test_same_bytes_as_redis(start_server, real_redis, proto):
    from test_redis_cli import resp_command
    from test_wire import exchange, normalize, split_replies

    payload = resp_command("FLUSHALL")
    if proto == 3:
        payload += resp_command("HELLO", 3)
    for line in WIRE_SCENARIO.strip().splitlines():
        payload += resp_command(*line.split())
    pm = start_server()
    got, want = normalize(exchange(pm.port, payload)), normalize(exchange(real_redis.port, payload))
    if got != want:
        g, w = split_replies(got), split_replies(want)
        diffs = [f"#{i}: pmemkv {a!r}\n    redis  {b!r}" for i, (a, b) in enumerate(zip(g, w)) if a != b]
        pytest.fail("replies differ:\n" + "\n".join(diffs[:20]))
