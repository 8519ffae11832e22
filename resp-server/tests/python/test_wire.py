"""Byte-for-byte replies on a raw socket, pmemkv-server next to a real Redis 7.

The same scenarios as the redis-cli side-by-side cases, sent pipelined as RESP2 and as RESP3
(after HELLO 3), plus inline commands: the reply bytes must be identical."""

import re
import socket

import pytest

from test_redis_cli import CASE_BUGS, CASES, resp_command

END = b"__end_of_case__"


def exchange(port, payload: bytes) -> bytes:
    """Sends `payload` then a PING marker; returns every reply byte before the marker's."""
    marker = b"$%d\r\n%s\r\n" % (len(END), END)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(payload + resp_command("PING", END))
        buf = b""
        while not buf.endswith(marker):
            chunk = s.recv(1 << 16)
            assert chunk, f"connection closed early; got {buf[-200:]!r}"
            buf += chunk
    return buf[: -len(marker)]


def normalize(replies: bytes) -> bytes:
    # HELLO's client id differs between any two servers.
    return re.sub(rb"(\$2\r\nid\r\n:)\d+", rb"\1<id>", replies)


def scenario(case: str, proto: int) -> bytes:
    payload = resp_command("SELECT", 0) + resp_command("FLUSHALL")
    if proto == 3:
        payload += resp_command("HELLO", 3)
    for inv in CASES[case]:
        args = [a for a in inv if a not in ("-3", "--no-raw")]
        payload += resp_command(*args)
    return payload


def split_replies(b: bytes):
    """Splits a reply stream at top-level reply boundaries (enough for readable diffs)."""
    return [x for x in re.split(rb"\r\n(?=[-+:$*%_#,=~>!(|])", b)]


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize(
    "case",
    [
        pytest.param(name, marks=[pytest.mark.xfail(reason=CASE_BUGS[name], strict=True)] if name in CASE_BUGS else [])
        for name in CASES
    ],
)
def test_same_bytes_as_redis(pair, case, proto):
    pm, rd = pair
    payload = scenario(case, proto)
    got, want = normalize(exchange(pm.port, payload)), normalize(exchange(rd.port, payload))
    if got != want:
        g, w = split_replies(got), split_replies(want)
        diffs = [f"#{i}: pmemkv {a!r}\n    redis  {b!r}" for i, (a, b) in enumerate(zip(g, w)) if a != b]
        if len(g) != len(w):
            diffs.append(f"{len(g)} reply pieces vs {len(w)}")
        pytest.fail("replies differ:\n" + "\n".join(diffs[:20]))


def test_inline_commands(pair):
    pm, rd = pair
    payload = (
        b"FLUSHALL\r\nSET greeting hello\r\nGET greeting\r\n"
        b'SET "two words" "a b"\r\nGET "two words"\r\nEXISTS greeting "two words" nope\r\n'
        b"PING\r\n\r\nINCR greeting\r\nMGET greeting nope\r\nECHO 'single quoted'\r\n"
        b'SET "x\\x41y" "\\t"\r\nSTRLEN xAy\r\n'
    )
    got, want = exchange(pm.port, payload), exchange(rd.port, payload)
    assert got == want
    assert got.startswith(b"+OK\r\n+OK\r\n$5\r\nhello\r\n")
