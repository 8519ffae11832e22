"""The real redis-cli (Debian's redis-tools) against pmemkv-server: what it prints.

The literal checks run against pmemkv-server and a real Redis 7 (the `kind` parameter); the
side-by-side cases run each invocation on both and require the same output."""

import shutil
import subprocess

import pytest

REDIS_CLI = shutil.which("redis-cli")
pytestmark = pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli not installed (scripts/test.sh installs it)")


def cli(port, *args, stdin=None, check=True):
    """Runs redis-cli (stdout is a pipe, so its non-tty output) and returns stdout as bytes."""
    p = subprocess.run(
        [REDIS_CLI, "-p", str(port), *args],
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    if check:
        assert p.returncode == 0, f"redis-cli {args} exited {p.returncode}: {p.stderr!r}"
    return p.stdout


def text(port, *args, **kw):
    return cli(port, *args, **kw).decode()


def resp_command(*args) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def test_raw_output_when_not_a_tty(server):
    p = server.port
    assert text(p, "SET", "k", "v") == "OK\n"
    assert text(p, "GET", "k") == "v\n"
    assert text(p, "GET", "missing") == "\n"
    assert text(p, "INCR", "k") == "ERR value is not an integer or out of range\n\n"
    assert text(p, "INCR", "n") == "1\n"
    assert text(p, "MGET", "k", "missing", "n") == "v\n\n1\n"
    assert text(p, "DEL", "k", "missing") == "1\n"
    assert text(p, "EXISTS", "k") == "0\n"
    assert text(p, "TTL", "n") == "-1\n"
    assert text(p, "TYPE", "n") == "string\n"
    assert text(p, "KEYS", "*") == "n\n"
    assert text(p, "GET") == "ERR wrong number of arguments for 'get' command\n\n"
    assert text(p, "PING") == "PONG\n"
    assert text(p, "ECHO", "two words") == "two words\n"
    assert text(p, "DBSIZE") == "1\n"


def test_no_raw_output(server):
    p = server.port
    assert text(p, "--no-raw", "SET", "k", "v") == "OK\n"
    assert text(p, "--no-raw", "GET", "k") == '"v"\n'
    assert text(p, "--no-raw", "GET", "missing") == "(nil)\n"
    assert text(p, "--no-raw", "INCR", "n") == "(integer) 1\n"
    assert text(p, "--no-raw", "INCRBYFLOAT", "f", "1.5") == '"1.5"\n'
    assert text(p, "--no-raw", "MGET", "k", "missing", "n") == '1) "v"\n2) (nil)\n3) "1"\n'
    assert text(p, "--no-raw", "KEYS", "nothing*") == "(empty array)\n"
    assert text(p, "--no-raw", "TTL", "missing") == "(integer) -2\n"
    assert text(p, "--no-raw", "INCR", "k") == "(error) ERR value is not an integer or out of range\n"
    assert text(p, "--no-raw", "SET", "k", "v", "NX") == "(nil)\n"
    assert text(p, "--no-raw", "SET", "bin", "a\x01b\tc\"") == "OK\n"
    assert text(p, "--no-raw", "GET", "bin") == '"a\\x01b\\tc\\""\n'
    assert text(p, "--no-raw", "TYPE", "k") == "string\n"


def test_resp3_output(server):
    p = server.port
    assert text(p, "-3", "SET", "k", "v") == "OK\n"
    assert text(p, "-3", "--no-raw", "GET", "missing") == "(nil)\n"
    assert text(p, "-3", "--no-raw", "MGET", "k", "missing") == '1) "v"\n2) (nil)\n'
    assert text(p, "-3", "--no-raw", "INCRBYFLOAT", "f", "2.25") == '"2.25"\n'
    assert text(p, "-3", "--no-raw", "EXISTS", "k", "f") == "(integer) 2\n"
    hello = text(p, "-3", "--no-raw", "HELLO", "3").splitlines()
    assert hello[:4] == ['1# "server" => "redis"', '2# "version" => "7.0.15"', '3# "proto" => (integer) 3', hello[3]]
    assert hello[3].startswith('4# "id" => (integer) ')
    assert hello[4:] == ['5# "mode" => "standalone"', '6# "role" => "master"', '7# "modules" => (empty array)']
    info = text(p, "-3", "CLIENT", "INFO")
    assert info.startswith("id=") and " resp=3\n" in info


def test_commands_from_stdin(server):
    script = b"SET a 1\nINCR a\nGET a\nINCR nope-not-a-number-key\nSET s text\nINCR s\nMGET a s\n"
    assert cli(server.port, stdin=script) == b"OK\n2\n2\n1\nOK\nERR value is not an integer or out of range\n\n2\ntext\n"


def test_last_argument_from_stdin_is_binary_safe(server):
    blob = bytes(range(256)) * 3
    assert cli(server.port, "-x", "SET", "blob", stdin=blob) == b"OK\n"
    assert cli(server.port, "STRLEN", "blob") == b"768\n"
    assert cli(server.port, "--raw", "GET", "blob") == blob + b"\n"


def test_database_password_and_repeat_flags(start_target):
    srv = start_target("--requirepass", "pw")
    p = srv.port
    assert text(p, "SET", "k", "v") == "NOAUTH Authentication required.\n\n"
    bad = subprocess.run([REDIS_CLI, "-p", str(p), "-a", "wrong", "--no-auth-warning", "PING"], capture_output=True)
    assert bad.stderr.decode().startswith("AUTH failed: WRONGPASS invalid username-password pair")
    assert bad.stdout.decode() == "NOAUTH Authentication required.\n\n"
    auth = ("-a", "pw", "--no-auth-warning")
    assert text(p, *auth, "-n", "2", "SET", "k", "in-db-2") == "OK\n"
    assert text(p, *auth, "GET", "k") == "\n"
    assert text(p, *auth, "-n", "2", "GET", "k") == "in-db-2\n"
    assert text(p, *auth, "-r", "100", "INCR", "c").splitlines()[-1] == "100"
    assert text(p, *auth, "GET", "c") == "100\n"


def test_scan_mode(server):
    p = server.port
    keys = [f"user:{i}" for i in range(250)] + [f"other:{i}" for i in range(50)]
    args = [x for k in keys for x in (k, "v")]
    assert text(p, "MSET", *args) == "OK\n"
    got = text(p, "--scan", "--pattern", "user:*").split()
    assert sorted(got) == sorted(k for k in keys if k.startswith("user:"))
    assert len(text(p, "--scan").split()) == 300


def test_pipe_mode(server):
    n_set, n_incr = 3000, 1000
    data = b"".join(resp_command("SET", f"pipe:{i}", f"value-{i}") for i in range(n_set))
    data += b"".join(resp_command("INCR", "pipe:counter") for _ in range(n_incr))
    p = subprocess.run([REDIS_CLI, "-p", str(server.port), "--pipe"], input=data, capture_output=True, timeout=120)
    out = p.stdout.decode()
    assert p.returncode == 0, out + p.stderr.decode()
    assert out.splitlines()[-1] == f"errors: 0, replies: {n_set + n_incr}", out
    assert "Last reply received from server." in out
    assert text(server.port, "GET", "pipe:counter") == f"{n_incr}\n"
    assert text(server.port, "GET", f"pipe:{n_set - 1}") == f"value-{n_set - 1}\n"
    assert text(server.port, "DBSIZE") == f"{n_set + 1}\n"

    # Errors are counted (and printed), and the exit status says so.
    bad = resp_command("SET", "s", "x") + resp_command("INCR", "s") * 3 + resp_command("GET", "s")
    p = subprocess.run([REDIS_CLI, "-p", str(server.port), "--pipe"], input=bad, capture_output=True, timeout=60)
    assert p.returncode == 1
    assert p.stdout.decode().splitlines()[-1] == "errors: 3, replies: 5"


def test_shutdown_from_redis_cli_then_restart(start_server):
    srv = start_server()
    assert text(srv.port, "SET", "survives", "shutdown") == "OK\n"
    assert text(srv.port, "SHUTDOWN") == ""  # no reply: the connection just closes
    assert srv.proc.wait(timeout=30) == 0, srv.log_tail()
    again = start_server(data_dir=srv.dir)
    assert text(again.port, "GET", "survives") == "shutdown\n"


# ---- side by side with a real Redis 7 -----------------------------------------------------

# Each case: redis-cli invocations run in order on a flushed server; outputs must match Redis's.
CASES = {
    "set-options": [
        ["SET", "k", "v"],
        ["--no-raw", "SET", "k", "w", "NX"],
        ["--no-raw", "SET", "k", "w", "GET"],
        ["--no-raw", "SET", "k", "v", "NX", "XX"],
        ["--no-raw", "SET", "k", "v", "EX", "10", "PX", "10"],
        ["--no-raw", "SET", "k", "v", "EX", "0"],
        ["--no-raw", "SET", "k", "v", "EX", "abc"],
        ["--no-raw", "SET", "k", "v", "KEEPTTL", "EX", "5"],
        ["--no-raw", "SET", "k", "v", "PXAT", "1"],
        ["--no-raw", "GET", "k"],
        ["--no-raw", "SETEX", "k", "-5", "v"],
        ["--no-raw", "PSETEX", "k", "0", "v"],
        ["--no-raw", "SETNX", "k", "v"],
    ],
    "strings": [
        ["--no-raw", "APPEND", "s", "hello"],
        ["--no-raw", "SETRANGE", "s", "10", "x"],
        ["--no-raw", "GET", "s"],
        ["--no-raw", "SETRANGE", "s", "-1", "x"],
        ["--no-raw", "SETRANGE", "empty", "0", ""],
        ["--no-raw", "EXISTS", "empty"],
        ["--no-raw", "GETRANGE", "s", "-3", "-1"],
        ["--no-raw", "GETRANGE", "s", "-1", "-3"],
        ["--no-raw", "GETRANGE", "s", "x", "1"],
        ["--no-raw", "SUBSTR", "s", "0", "1"],
        ["--no-raw", "STRLEN", "s"],
        ["--no-raw", "GETDEL", "s"],
        ["--no-raw", "GETEX", "s"],
        ["--no-raw", "GETEX", "nope", "PERSIST", "EX", "1"],
        ["--no-raw", "MSETNX", "a", "1", "b"],
        ["--no-raw", "MSETNX", "a", "1", "b", "2"],
        ["--no-raw", "MGET", "a", "b", "c"],
    ],
    "counters": [
        ["--no-raw", "INCRBY", "n", "9223372036854775807"],
        ["--no-raw", "INCR", "n"],
        ["--no-raw", "DECRBY", "m", "-9223372036854775808"],
        ["--no-raw", "INCRBY", "m", "1.0"],
        ["--no-raw", "INCRBY", "m", "99999999999999999999"],
        ["--no-raw", "INCRBYFLOAT", "f", "1.5"],
        ["--no-raw", "INCRBYFLOAT", "f", "-0.5"],
        ["--no-raw", "INCRBYFLOAT", "f", "nan"],
        ["--no-raw", "INCRBYFLOAT", "f", "inf"],
        ["--no-raw", "INCRBYFLOAT", "f", "abc"],
        ["--no-raw", "INCRBYFLOAT", "g", "3.0000"],
        ["--no-raw", "GET", "g"],
        ["--no-raw", "INCRBYFLOAT", "g", "1e3"],
        ["--no-raw", "SET", "i", "007"],
        ["--no-raw", "INCR", "i"],
        ["--no-raw", "SET", "j", "-0"],
        ["--no-raw", "INCR", "j"],
    ],
    "incrbyfloat-precision": [
        ["--no-raw", "INCRBYFLOAT", "f", "1.1"],
        ["--no-raw", "INCRBYFLOAT", "f", "1e3"],
        ["--no-raw", "INCRBYFLOAT", "h", "0.1"],
        ["--no-raw", "INCRBYFLOAT", "h", "0.2"],
        ["--no-raw", "INCRBYFLOAT", "e", "5200"],
        ["--no-raw", "INCRBYFLOAT", "e", "1.5e-7"],
        ["--no-raw", "INCRBYFLOAT", "big", "1e400"],
        ["--no-raw", "HINCRBYFLOAT", "hf", "x", "10.5"],
        ["--no-raw", "HINCRBYFLOAT", "hf", "x", "0.1"],
    ],
    "object-encoding-after-setrange": [
        ["--no-raw", "SETRANGE", "k", "0", "abc"],
        ["--no-raw", "OBJECT", "ENCODING", "k"],
        ["--no-raw", "SET", "n", "12"],
        ["--no-raw", "SETRANGE", "n", "1", "3"],
        ["--no-raw", "OBJECT", "ENCODING", "n"],
        ["--no-raw", "SETRANGE", "n", "0", ""],
        ["--no-raw", "OBJECT", "ENCODING", "n"],
        ["--no-raw", "INCR", "n"],
        ["--no-raw", "OBJECT", "ENCODING", "n"],
        ["--no-raw", "APPEND", "new", "5"],
        ["--no-raw", "OBJECT", "ENCODING", "new"],
        ["--no-raw", "APPEND", "new", ""],
        ["--no-raw", "OBJECT", "ENCODING", "new"],
        ["--no-raw", "COPY", "new", "copied"],
        ["--no-raw", "OBJECT", "ENCODING", "copied"],
        ["--no-raw", "RENAME", "copied", "renamed"],
        ["--no-raw", "OBJECT", "ENCODING", "renamed"],
        ["--no-raw", "SET", "renamed", "x"],
        ["--no-raw", "OBJECT", "ENCODING", "renamed"],
        ["--no-raw", "GETEX", "k", "PERSIST"],
        ["--no-raw", "OBJECT", "ENCODING", "k"],
        ["--no-raw", "INCRBYFLOAT", "k2", "1.5"],
        ["--no-raw", "OBJECT", "ENCODING", "k2"],
        ["--no-raw", "INCRBYFLOAT", "k2", "1.5"],
        ["--no-raw", "OBJECT", "ENCODING", "k2"],
        ["--no-raw", "INCRBY", "k2", "1"],
        ["--no-raw", "OBJECT", "ENCODING", "k2"],
        ["--no-raw", "INCRBYFLOAT", "k3", "1e60"],
        ["--no-raw", "OBJECT", "ENCODING", "k3"],
    ],
    "keys": [
        ["--no-raw", "MSET", "a", "1", "b", "2"],
        ["--no-raw", "EXISTS", "a", "b", "nope", "a"],
        ["--no-raw", "DEL", "a", "nope", "a"],
        ["--no-raw", "TYPE", "nope"],
        ["--no-raw", "RENAME", "nope", "x"],
        ["--no-raw", "RENAME", "b", "b"],
        ["--no-raw", "RENAMENX", "b", "b"],
        ["--no-raw", "COPY", "b", "b"],
        ["--no-raw", "COPY", "b", "c", "DB", "99"],
        ["--no-raw", "COPY", "b", "c", "BOGUS"],
        ["--no-raw", "COPY", "b", "c"],
        ["--no-raw", "OBJECT", "ENCODING", "c"],
        ["--no-raw", "OBJECT", "ENCODING", "nope"],
        ["--no-raw", "OBJECT", "REFCOUNT", "c", "extra"],
        ["--no-raw", "OBJECT", "NOPE", "c"],
        ["--no-raw", "TOUCH", "b", "c", "nope"],
        ["--no-raw", "KEYS", "[bx]"],
        ["--no-raw", "SCAN", "0", "MATCH", "b*", "COUNT", "1000"],
        ["--no-raw", "SCAN", "abc"],
        ["--no-raw", "SCAN", "0", "COUNT", "0"],
        ["--no-raw", "SCAN", "0", "MATCH"],
        ["--no-raw", "SCAN", "0", "TYPE", "string", "MATCH", "c"],
        ["--no-raw", "FLUSHDB", "LAZY"],
        ["--no-raw", "FLUSHDB", "ASYNC"],
        ["--no-raw", "RANDOMKEY"],
        ["--no-raw", "DBSIZE"],
    ],
    "expiry": [
        ["SET", "k", "v"],
        ["--no-raw", "EXPIRE", "k", "abc"],
        ["--no-raw", "EXPIRE", "k", "100", "NX", "XX"],
        ["--no-raw", "EXPIRE", "k", "100", "GT", "LT"],
        ["--no-raw", "EXPIRE", "k", "100", "FOO"],
        ["--no-raw", "EXPIRE", "k", "100", "XX"],
        ["--no-raw", "EXPIRE", "k", "100", "GT"],
        ["--no-raw", "EXPIRE", "k", "100", "LT"],
        ["--no-raw", "TTL", "k"],
        ["--no-raw", "EXPIRE", "k", "9223372036854775807"],
        ["--no-raw", "PEXPIRE", "k", "9223372036854775807"],
        ["--no-raw", "EXPIREAT", "k", "4102444800"],
        ["--no-raw", "EXPIRETIME", "k"],
        ["--no-raw", "PEXPIRETIME", "k"],
        ["--no-raw", "PERSIST", "k"],
        ["--no-raw", "PERSIST", "k"],
        ["--no-raw", "EXPIRETIME", "k"],
        ["--no-raw", "PEXPIREAT", "k", "1"],
        ["--no-raw", "EXISTS", "k"],
        ["--no-raw", "TTL", "k"],
        ["--no-raw", "EXPIRE", "k", "100"],
    ],
    "connection": [
        ["--no-raw", "PING", "hello world"],
        ["--no-raw", "PING", "a", "b"],
        ["--no-raw", "ECHO"],
        ["--no-raw", "SELECT", "16"],
        ["--no-raw", "SELECT", "-1"],
        ["--no-raw", "HELLO", "4"],
        ["--no-raw", "HELLO", "abc"],
        ["--no-raw", "HELLO", "3", "FOO"],
        ["--no-raw", "AUTH", "pw"],
        ["--no-raw", "AUTH", "user", "pw"],
        ["--no-raw", "CLIENT", "SETNAME", "a b"],
        ["--no-raw", "CLIENT", "GETNAME"],
        ["--no-raw", "CLIENT", "SETNAME"],
        ["--no-raw", "CLIENT", "NO-EVICT", "maybe"],
        ["--no-raw", "CLIENT", "KILL", "127.0.0.1:1"],
        ["--no-raw", "CLIENT", "KILL", "ID", "abc"],
        ["--no-raw", "CLIENT", "LIST", "TYPE", "bogus"],
        ["--no-raw", "RESET"],
        ["--no-raw", "NOSUCH", "x", "y"],
        ["--no-raw", "GET"],
    ],
    # OBJECT ENCODING of sets and sorted sets by size and content (Redis 7.0: intset /
    # hashtable, listpack / skiplist).
    "collection-encodings": [
        ["--no-raw", "SADD", "ints", "1", "-2", "300"],
        ["--no-raw", "OBJECT", "ENCODING", "ints"],
        ["--no-raw", "SADD", "mixed", "1", "a"],
        ["--no-raw", "OBJECT", "ENCODING", "mixed"],
        ["--no-raw", "SADD", "lead0", "01"],
        ["--no-raw", "OBJECT", "ENCODING", "lead0"],
        ["--no-raw", "ZADD", "z", "1", "a", "2", "b"],
        ["--no-raw", "OBJECT", "ENCODING", "z"],
        ["--no-raw", "ZADD", "zlong", "1", "x" * 65],
        ["--no-raw", "OBJECT", "ENCODING", "zlong"],
        ["--no-raw", "ZADD", "zmax", "1", "x" * 64],
        ["--no-raw", "OBJECT", "ENCODING", "zmax"],
        ["--no-raw", "RPUSH", "l", "a"],
        ["--no-raw", "OBJECT", "ENCODING", "l"],
    ],
    # A time already past deletes the key at once (DBSIZE drops; found by test_differential.py).
    "expire-in-the-past": [
        ["--no-raw", "MSET", "a", "1", "b", "2", "c", "3", "d", "4"],
        ["--no-raw", "PEXPIREAT", "a", "1"],
        ["--no-raw", "DBSIZE"],
        ["--no-raw", "EXPIRE", "b", "-5", "GT"],
        ["--no-raw", "DBSIZE"],
        ["--no-raw", "EXPIRE", "b", "-5", "LT"],
        ["--no-raw", "DBSIZE"],
        ["--no-raw", "GETEX", "c", "EXAT", "1"],
        ["--no-raw", "DBSIZE"],
        ["--no-raw", "GETEX", "d", "PXAT", "1"],
        ["--no-raw", "EXISTS", "a", "b", "c", "d"],
        ["--no-raw", "DBSIZE"],
    ],
    # Which error wins when a command has several (found by test_differential.py).
    "error-order": [
        ["--no-raw", "RPUSH", "list", "a"],
        ["--no-raw", "SET", "str", "v"],
        ["--no-raw", "INCRBYFLOAT", "list", "x"],
        ["--no-raw", "INCRBYFLOAT", "str", "x"],
        ["--no-raw", "INCRBYFLOAT", "nope", "x"],
        ["--no-raw", "INCRBY", "list", "x"],
        ["--no-raw", "GETEX", "nope", "EX", "0"],
        ["--no-raw", "GETEX", "list", "EX", "0"],
        ["--no-raw", "GETEX", "str", "EX", "0"],
        ["--no-raw", "GETEX", "str", "EX", "x"],
        ["--no-raw", "GETEX", "list", "EX", "1", "PX", "1"],
        ["--no-raw", "EXPIREAT", "str", "1.5", "NX", "XX"],
        ["--no-raw", "EXPIRE", "str", "x", "GT", "LT"],
        ["--no-raw", "EXPIRE", "str", "x", "BOGUS"],
        ["--no-raw", "EXPIRE", "str", "x"],
        ["--no-raw", "XADD", "s", "x", "1-0", "f"],
        ["--no-raw", "XADD", "s", "1-0", "f"],
        ["--no-raw", "XADD", "s", "0-0", "f"],
        ["--no-raw", "XADD", "s", "0-0", "f", "v"],
        ["--no-raw", "XADD", "s", "MAXLEN", "x", "1-0", "f"],
    ],
    "resp3": [
        ["-3", "--no-raw", "MSET", "a", "1"],
        ["-3", "--no-raw", "MGET", "a", "nope"],
        ["-3", "--no-raw", "GET", "nope"],
        ["-3", "--no-raw", "SET", "a", "2", "GET"],
        ["-3", "--no-raw", "SET", "a", "3", "NX"],
        ["-3", "--no-raw", "INCRBYFLOAT", "f", "1"],
        ["-3", "--no-raw", "TTL", "nope"],
        ["-3", "--no-raw", "KEYS", "nope*"],
        ["-3", "--no-raw", "SCAN", "0", "MATCH", "a", "COUNT", "1000"],
        ["-3", "--no-raw", "OBJECT", "ENCODING", "nope"],
        ["-3", "--no-raw", "CLIENT", "GETNAME"],
        ["-3", "--no-raw", "INCR", "f"],
    ],
}

# Known pmemkv-server differences: these cases must fail until fixed.
CASE_BUGS = {}


@pytest.mark.parametrize(
    "case",
    [pytest.param(name, marks=[pytest.mark.xfail(reason=CASE_BUGS[name], strict=True)] if name in CASE_BUGS else [])
     for name in CASES],
)
def test_same_output_as_redis(pair, case):
    pm, rd = pair
    outputs = {}
    for srv in (pm, rd):
        cli(srv.port, "FLUSHALL")
        outputs[srv] = [cli(srv.port, *inv, check=False) for inv in CASES[case]]
    diffs = [
        f"redis-cli {' '.join(inv)}\n  pmemkv: {a!r}\n  redis:  {b!r}"
        for inv, a, b in zip(CASES[case], outputs[pm], outputs[rd])
        if a != b
    ]
    assert not diffs, "\n".join(diffs)
