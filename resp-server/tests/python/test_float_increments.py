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
