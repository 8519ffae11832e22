"""Pub/sub with redis-py: channel and pattern subscriptions, RESP2 and RESP3, the message
thread helper, PUBSUB introspection and the subscribed-mode rules. Every test also runs
against a real Redis 7 (the `server` fixture), so the expectations are Redis's own."""

import threading
import time

import pytest
import redis


def get_message(p, timeout=5.0):
    """The next non-subscription message, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if m is not None:
            return m
    pytest.fail("no message arrived")


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_channels_and_patterns(server, protocol):
    with server.client(protocol=protocol) as sub_client, server.client() as pub:
        p = sub_client.pubsub()
        p.subscribe("training.events")
        p.psubscribe("model.*.promoted")
        # Subscription confirmations carry the running count.
        confirms = [p.get_message(timeout=5) for _ in range(2)]
        assert [(m["type"], m["channel"], m["data"]) for m in confirms] == [
            ("subscribe", b"training.events", 1),
            ("psubscribe", b"model.*.promoted", 2),
        ]
        assert pub.publish("training.events", "epoch 1 done") == 1
        assert pub.publish("model.resnet.promoted", "gen 7") == 1
        assert pub.publish("model.resnet.demoted", "gen 6") == 0
        m = get_message(p)
        assert (m["type"], m["channel"], m["data"]) == ("message", b"training.events", b"epoch 1 done")
        m = get_message(p)
        assert (m["type"], m["pattern"], m["channel"], m["data"]) == (
            "pmessage",
            b"model.*.promoted",
            b"model.resnet.promoted",
            b"gen 7",
        )
        assert pub.pubsub_channels() == [b"training.events"]
        assert pub.pubsub_numsub("training.events", "nobody") == [(b"training.events", 1), (b"nobody", 0)]
        assert pub.pubsub_numpat() == 1
        p.unsubscribe("training.events")
        p.punsubscribe()
        # Drain the unsubscribe confirmations; then nothing is delivered any more.
        for _ in range(2):
            assert p.get_message(timeout=5)["type"] in ("unsubscribe", "punsubscribe")
        assert pub.publish("training.events", "late") == 0
        assert pub.pubsub_numpat() == 0
        p.close()


def test_message_handlers_in_a_thread(server):
    got = []
    done = threading.Event()

    def on_message(m):
        got.append(m["data"])
        if len(got) == 3:
            done.set()

    with server.client() as sub_client, server.client() as pub:
        p = sub_client.pubsub(ignore_subscribe_messages=True)
        p.subscribe(**{"jobs.done": on_message})
        thread = p.run_in_thread(sleep_time=0.01)
        try:
            deadline = time.monotonic() + 5
            while pub.pubsub_numsub("jobs.done")[0][1] != 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            for i in range(3):
                pub.publish("jobs.done", f"job-{i}")
            assert done.wait(5), got
        finally:
            thread.stop()
            thread.join(5)
            p.close()
    assert got == [b"job-0", b"job-1", b"job-2"]


def test_resp2_subscribed_mode_allows_only_pubsub_commands(server):
    with server.client(protocol=2, single_connection_client=True) as c:
        c.execute_command("SUBSCRIBE", "ch")
        with pytest.raises(redis.ResponseError, match="^Can't execute 'get': only \\(P\\|S\\)SUBSCRIBE"):
            c.execute_command("GET", "k")


def test_resp3_subscriber_can_run_commands_and_gets_push_messages(server):
    with server.client(protocol=3) as c, server.client() as pub:
        p = c.pubsub()
        p.subscribe("ch")
        assert p.get_message(timeout=5)["type"] == "subscribe"
        # The same RESP3 connection still serves ordinary commands.
        assert p.connection.send_command("SET", "k", "v") is None
        assert p.connection.read_response() in (b"OK", "OK", True)
        pub.publish("ch", "hello")
        m = get_message(p)
        assert (m["type"], m["data"]) == ("message", b"hello")
        p.close()
