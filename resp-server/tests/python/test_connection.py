"""Connections through redis-py: pipelines, RESP3, decoded responses, error classes,
passwords, client names.

Each test runs against pmemkv-server and against a real Redis 7 (the `kind` parameter)."""

import pytest
import redis


def test_pipeline_many_commands_in_order(r):
    n = 5000
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set(f"p:{i}", i)
        p.incr("p:counter")
        p.get(f"p:{i}")
    results = p.execute()
    assert len(results) == 3 * n
    for i in range(n):
        assert results[3 * i] is True
        assert results[3 * i + 1] == i + 1
        assert results[3 * i + 2] == str(i).encode()
    assert r.get("p:counter") == str(n).encode()
    assert r.dbsize() == n + 1

    # A second pipeline on the same connection: reads of what the first wrote.
    p = r.pipeline(transaction=False)
    for i in range(0, n, 7):
        p.get(f"p:{i}")
    p.mget([f"p:{i}" for i in range(10)])
    p.delete(*[f"p:{i}" for i in range(n)])
    p.dbsize()
    out = p.execute()
    assert out[:-3] == [str(i).encode() for i in range(0, n, 7)]
    assert out[-3] == [str(i).encode() for i in range(10)]
    assert out[-2:] == [n, 1]


def test_pipeline_errors_stay_in_place(r):
    r.set("text", "abc")
    p = r.pipeline(transaction=False)
    p.set("a", "1")
    p.incr("text")
    p.get("a")
    p.execute_command("NOSUCHCOMMAND", "x")
    p.incr("a")
    out = p.execute(raise_on_error=False)
    assert out[0] is True
    assert isinstance(out[1], redis.ResponseError) and "not an integer" in str(out[1])
    assert out[2] == b"1"
    assert isinstance(out[3], redis.ResponseError) and "unknown command" in str(out[3])
    assert out[4] == 2
    # By default the first error is raised, after every command ran.
    p = r.pipeline(transaction=False)
    p.incr("text").set("after-error", "ran")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        p.execute()
    assert r.get("after-error") == b"ran"


def test_resp3(server):
    with server.client(protocol=3) as c:
        hello = c.execute_command("HELLO", 3)
        assert hello[b"proto"] == 3
        assert hello[b"server"] == b"redis"
        assert hello[b"version"].startswith(b"7.")
        assert hello[b"role"] == b"master"
        assert hello[b"modules"] == []
        assert c.set("k", "v") is True
        assert c.get("k") == b"v"
        assert c.get("missing") is None
        assert c.mget("k", "missing") == [b"v", None]
        assert c.set("k", "w", get=True) == b"v"
        assert c.set("k", "x", nx=True) is None
        assert c.incr("n") == 1
        assert c.incrbyfloat("f", 1.5) == 1.5
        assert c.ttl("k") == -1
        assert c.expire("k", 100) is True
        assert 99 <= c.ttl("k") <= 100
        assert c.exists("k", "n") == 2
        assert c.type("k") in (b"string", "string")
        assert set(c.scan_iter(match="*")) == {b"k", b"n", b"f"}
        assert sorted(c.keys("*")) == [b"f", b"k", b"n"]
        assert c.client_setname("resp3-client") is True
        me = c.client_info()
        assert me["name"] == "resp3-client"
        assert me["resp"] == "3"
        assert c.execute_command("TIME")[0] > 0
        with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'get' command$"):
            c.execute_command("GET")
        # Back to RESP2 on the same connection.
        hello2 = c.execute_command("HELLO", 2)
        assert dict(zip(hello2[::2], hello2[1::2]))[b"proto"] == 2


def test_decode_responses(server):
    with server.client(decode_responses=True) as c:
        assert c.set("naïve:ключ", "日本語 ✓") is True
        assert c.get("naïve:ключ") == "日本語 ✓"
        assert c.strlen("naïve:ключ") == len("日本語 ✓".encode())
        assert c.keys("naïve:*") == ["naïve:ключ"]
        assert list(c.scan_iter(match="naïve*")) == ["naïve:ключ"]
        c.mset({"a": "1", "b": "2"})
        assert c.mget("a", "b", "c") == ["1", "2", None]
        assert c.incr("a") == 2
        assert c.incrbyfloat("b", 0.5) == 2.5
        assert c.type("a") == "string"
        assert c.getrange("naïve:ключ", 0, 2) == "日"
        assert c.client_setname("decoder") is True
        assert c.client_getname() == "decoder"
        assert any(e["name"] == "decoder" for e in c.client_list())
        assert c.echo("hi") == "hi"
        assert c.ping() is True
    with server.client(decode_responses=True, protocol=3) as c3:
        assert c3.get("a") == "2"
        assert c3.execute_command("HELLO")["proto"] == 3


def test_error_classes(r):
    with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'get' command$"):
        r.execute_command("GET")
    with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'set' command$"):
        r.execute_command("SET", "k")
    with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'mset' command$"):
        r.execute_command("MSET", "a", "1", "b")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SET", "k", "v", "BOGUS")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SET", "k", "v", "NX", "XX")
    with pytest.raises(redis.ResponseError, match="^unknown command 'NOSUCH', with args beginning with: 'a' 'b' $"):
        r.execute_command("NOSUCH", "a", "b")
    with pytest.raises(redis.ResponseError, match="^unknown subcommand 'NOPE'. Try CLIENT HELP.$"):
        r.execute_command("CLIENT", "NOPE")
    # None of that left anything behind, and the connection still works.
    assert r.exists("k") == 0
    assert r.ping() is True


def test_wrongtype_is_a_response_error(r):
    # Needs a key that is not a string; hashes are the simplest. pmemkv-server does not have
    # HSET yet: until it does, this test is skipped there (and runs against Redis).
    try:
        r.execute_command("HSET", "h", "f", "v")
    except redis.ResponseError as e:
        if "unknown command" in str(e):
            pytest.skip("HSET not implemented yet")
        raise
    wrongtype = "^WRONGTYPE Operation against a key holding the wrong kind of value$"
    with pytest.raises(redis.ResponseError, match=wrongtype):
        r.get("h")
    with pytest.raises(redis.ResponseError, match=wrongtype):
        r.incr("h")
    with pytest.raises(redis.ResponseError, match=wrongtype):
        r.append("h", "x")
    assert r.mget("h") == [None]
    assert r.type("h") == b"hash"
    assert r.set("h", "now a string") is True
    assert r.get("h") == b"now a string"


def test_requirepass(start_target):
    srv = start_target("--requirepass", "s3cret")
    with srv.client() as anon:
        with pytest.raises(redis.AuthenticationError, match="Authentication required"):
            anon.get("k")
        with pytest.raises(redis.AuthenticationError):
            anon.set("k", "v")
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
        srv.client(password="wrong").ping()
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
        srv.client(username="nobody", password="s3cret").ping()
    with pytest.raises(redis.AuthenticationError):
        srv.client(password="wrong", protocol=3).ping()
    with srv.client(password="s3cret") as ok:
        assert ok.set("k", "v") is True
    with srv.client(username="default", password="s3cret", protocol=3) as ok3:
        assert ok3.get("k") == b"v"
    # AUTH on an open connection, and RESET forgetting it. (driver_info=None: no CLIENT
    # SETINFO at connect, see test_connect_then_auth_with_redis_py_defaults.)
    with srv.client(single_connection_client=True, driver_info=None) as c:
        with pytest.raises(redis.AuthenticationError):
            c.get("k")
        assert c.execute_command("AUTH", "s3cret") in (True, b"OK")
        assert c.get("k") == b"v"
        assert c.execute_command("RESET") in (b"RESET", "RESET")
        with pytest.raises(redis.AuthenticationError):
            c.get("k")


def test_connect_then_auth_with_redis_py_defaults(start_target):
    srv = start_target("--requirepass", "s3cret")
    # redis-py's default driver_info: it sends CLIENT SETINFO LIB-NAME/LIB-VER right after connecting.
    with srv.client(single_connection_client=True) as c:
        assert c.execute_command("AUTH", "s3cret") in (True, b"OK")
        assert c.set("k", "v") is True


def test_hello_before_auth_is_refused_with_redis_7_0_text(start_target):
    srv = start_target("--requirepass", "s3cret")
    with srv.client(single_connection_client=True) as c:
        with pytest.raises(redis.AuthenticationError) as e:
            c.execute_command("HELLO", 3)
        assert str(e.value) == (
            "HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> "
            "option can be used to authenticate the client and select the RESP protocol version at the same time"
        )
        # Without a password redis-py's RESP3 handshake fails the same way.
    with pytest.raises(redis.AuthenticationError, match="^HELLO must be called with the client already authenticated"):
        srv.client(protocol=3).ping()


def test_auth_without_a_password_configured(r):
    # redis-py maps this ERR to its AuthenticationError (a ConnectionError).
    with pytest.raises(redis.AuthenticationError, match="called without any password configured"):
        r.execute_command("AUTH", "whatever")


def test_client_names_and_list(server):
    with server.client(single_connection_client=True) as a, server.client(single_connection_client=True) as b:
        assert a.client_getname() is None
        assert a.client_setname("worker-a") is True
        assert b.client_setname("worker-b") is True
        assert a.client_getname() in (b"worker-a", "worker-a")
        ida, idb = a.client_id(), b.client_id()
        assert ida != idb
        b.execute_command("SELECT", 3)
        b.ping()

        listing = {int(e["id"]): e for e in a.client_list()}
        assert listing[ida]["name"] == "worker-a"
        assert listing[idb]["name"] == "worker-b"
        assert listing[idb]["db"] == "3"
        assert listing[idb]["cmd"] == "ping"
        assert listing[ida]["addr"].startswith("127.0.0.1:")
        assert {int(e["id"]) for e in a.client_list(_type="normal")} >= {ida, idb}
        assert [int(e["id"]) for e in a.client_list(client_id=[idb])] == [idb]

        info = b.client_info()
        assert (int(info["id"]), info["name"], str(info["db"])) == (idb, "worker-b", "3")

        with pytest.raises(redis.ResponseError, match="^Client names cannot contain spaces, newlines or special"):
            a.client_setname("has space")
        assert a.client_getname() in (b"worker-a", "worker-a")
        # An empty name clears it.
        assert a.client_setname("") is True
        assert a.client_getname() is None

        # Kill b by id; it disappears from the list.
        assert a.client_kill_filter(_id=idb) == 1
        ids = {int(e["id"]) for e in a.client_list()}
        for _ in range(100):
            if idb not in ids:
                break
            ids = {int(e["id"]) for e in a.client_list()}
        assert idb not in ids
        assert ida in ids


def test_client_list_names_subcommands(server):
    with server.client(single_connection_client=True) as a:
        me = a.client_id()
        assert {int(e["id"]): e for e in a.client_list()}[me]["cmd"] == "client|list"
        assert a.client_info()["cmd"] == "client|info"
