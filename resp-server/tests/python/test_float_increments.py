"""INCRBYFLOAT and HINCRBYFLOAT against a real Redis 7: random increments (decimal, exponent
and integer notation, huge and tiny values, infinities) on the same keys of both servers must
give the same replies and errors, digit for digit (Redis computes in the x87 long double and
prints 17 decimals)."""

import random

import redis


def increment(rng):
    k = rng.random()
    if k < 0.3:
        return repr(round(rng.uniform(-1000, 1000), rng.randint(0, 6)))
    if k < 0.5:
        return "%de%d" % (rng.randint(-99, 99), rng.randint(-25, 25))
    if k < 0.65:
        return rng.choice(["0.1", "0.2", "-0.1", "1e3", "1.1", "5200", "1.5e-7", "1e400", "-1e400",
                           "1e-4000", "9.999999999999999999", "0.30000000000000004", "inf", "-inf",
                           "1e5000", "abc", "1.2.3", ".5", "5.", "+7"])
    if k < 0.75:
        return str(rng.randint(-10**19, 10**19))
    return repr(rng.uniform(-1e6, 1e6))


def reply(fn):
    try:
        return repr(fn())
    except redis.ResponseError as e:
        return f"error: {e}"


def test_same_digits_and_errors_as_redis(pair):
    pm, rd = pair
    clients = [redis.Redis(port=s.port) for s in (pm, rd)]
    rng = random.Random(20261203)
    mismatches = []
    for i in range(600):
        key, by = f"k{rng.randint(0, 12)}", increment(rng)
        if rng.random() < 0.5:
            got = [reply(lambda c=c: c.incrbyfloat(key, by)) for c in clients]
        else:
            got = [reply(lambda c=c: c.hincrbyfloat("h", key, by)) for c in clients]
        if got[0] != got[1]:
            mismatches.append(f"#{i} {key} += {by}: pmemkv {got[0]}, redis {got[1]}")
    assert not mismatches, "\n".join(mismatches[:10])


HEX_CASES = ["0x10", "-0X1A", "+0x1p3", "0x1p-2", "0x1.8p1", "0x.8", "0x8.", "0x1P+3", "0xAbC.dEfp-5",
             "0x1p16383", "0x1p16384", "0x1p-16445", "0x1p-16446", "0x3p-16447", "0x1p-20000",
             "0x0", "0x0p99999", "0x1p99999999999999999999", "0x1p-99999999999999999999",
             "0xffffffffffffffffffp0", "0x1.00000000000000008p0", "0x1.00000000000000018p0",
             "0x", "0x.", "0x1p", "0x1p+", "0xg", "0x1.2.3", "0x1e3", " 0x1", "0x1 ", "--0x1", "0x-1"]


def test_hexadecimal_floats_as_redis_reads_them(pair):
    pm, rd = pair
    clients = [redis.Redis(port=s.port) for s in (pm, rd)]
    mismatches = []
    for i, by in enumerate(HEX_CASES):
        for c in clients:
            c.set(f"hex{i}", "0.5")
        got = [reply(lambda c=c: c.incrbyfloat(f"hex{i}", by)) for c in clients]
        if got[0] != got[1]:
            mismatches.append(f"{by}: pmemkv {got[0]}, redis {got[1]}")
    assert not mismatches, "\n".join(mismatches)
    # Random hexadecimal increments on one key of each server, chained.
    rng = random.Random(7)
    for i in range(300):
        digits = "".join(rng.choice("0123456789abcdef") for _ in range(rng.randint(1, 20)))
        point = rng.randint(0, len(digits))
        by = "%s0x%s.%sp%d" % (rng.choice(["", "-"]), digits[:point], digits[point:], rng.randint(-80, 80))
        got = [reply(lambda c=c: c.incrbyfloat("hexsum", by)) for c in clients]
        if got[0] != got[1]:
            mismatches.append(f"#{i} += {by}: pmemkv {got[0]}, redis {got[1]}")
    assert not mismatches, "\n".join(mismatches[:10])
