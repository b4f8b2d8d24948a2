"""proc.status batches are answered in time slices: a big one never holds up the daemon.

A fresh /proc read costs several microseconds per pid, so 100 000 of them take most of a
second. Other clients, pipelined requests and shutdown must not wait for that.
"""
import os
import select
import signal
import time

from conftest import RpcError
from rpc import Daemon

BIG = 100_000


def big_batch():
    return {"procs": [os.getpid()] * BIG}


def readable(client):
    return bool(select.select([client.sock], [], [], 0)[0]) or bool(client.replies)


def test_other_clients_are_served_during_a_big_batch(daemon):
    with daemon.client() as big, daemon.client() as other:
        msgid = big.send("proc.status", big_batch())
        # Each ping is answered while the batch is still being worked on: its reply (which
        # is sent whole, once complete) has not even begun to arrive.
        for _ in range(5):
            assert other.call("ping") == "pong"
        assert not readable(big), "the big batch finished before a ping: not sliced?"
        entries = big.reply(msgid, timeout=120)
    assert len(entries) == BIG
    assert all(e["pid"] == os.getpid() and e["alive"] for e in entries)


def test_pipelined_ping_overtakes_a_big_batch(daemon):
    with daemon.client() as c:
        status_id, ping_id = c.send_many([("proc.status", big_batch()), ("ping", None)])
        assert c.reply(ping_id, timeout=60) == "pong"
        assert status_id not in c.replies
        assert len(c.reply(status_id, timeout=120)) == BIG


def test_many_pipelined_batches_each_get_their_own_answer(daemon):
    """More batches than may be deferred per connection: the surplus waits its turn; every
    reply still matches its request."""
    me = os.getpid()
    reqs = []
    for i in range(10):
        fields = ["alive"] if i % 2 else ["pid", "state"]
        reqs.append(("proc.status", {"procs": [me] * (5000 + i), "fields": fields}))
    with daemon.client() as c:
        ids = c.send_many(reqs)
        for i, msgid in enumerate(ids):
            entries = c.reply(msgid, timeout=120)
            assert len(entries) == 5000 + i
            if i % 2:
                assert entries[0] == {"alive": True}
            else:
                assert entries[-1]["pid"] == me and entries[-1]["state"] in ("running",
                                                                             "sleeping")


def test_a_connection_past_its_share_of_batches_waits_its_turn(daemon):
    """A connection with 4 batches in progress is read no further until one is done, so a
    client pipelining many big batches cannot make the daemon answer the surplus in one go
    (holding the loop for all of them): the first reply is to one of the first four, the
    ping behind all eight is read only once five have finished, and another client is served
    all the while."""
    me = os.getpid()
    reqs = [("proc.status", {"procs": [me] * (20_000 + i), "fields": ["pid", "state"]})
            for i in range(8)]
    with daemon.client() as c, daemon.client() as other:
        ids = c.send_many(reqs + [("ping", None)])
        for _ in range(3):
            assert other.call("ping") == "pong"
        deadline = time.monotonic() + 240
        while not all(i in c.replies for i in ids):
            c._pump(deadline)  # pylint: disable=protected-access
        order = list(c.replies)  # in the order they arrived
        assert order[0] in ids[:4], order
        assert order.index(ids[-1]) >= 5, order
        assert c.reply(ids[-1]) == "pong"
        for i, msgid in enumerate(ids[:-1]):
            entries = c.reply(msgid)
            assert len(entries) == 20_000 + i
            assert entries[-1] == {"pid": me, "state": entries[-1]["state"]}
        assert other.call("ping") == "pong"


def test_client_leaving_mid_batch(daemon):
    baseline = daemon.settle()
    c = daemon.client()
    c.send("proc.status", big_batch())
    c.close()
    assert daemon.settle() == baseline
    with daemon.client() as other:
        assert other.call("ping") == "pong"
    assert daemon.proc.poll() is None


def test_stop_during_a_big_batch():
    """SIGTERM while batches run: each caller gets its whole answer or UNAVAILABLE, never a
    cut reply, and the daemon exits cleanly."""
    d = Daemon()
    try:
        c = d.client()
        ids = c.send_many([("proc.status", big_batch())] * 3)
        assert c.call("ping") == "pong"  # the batches are under way
        d.proc.send_signal(signal.SIGTERM)
        for msgid in ids:
            try:
                assert len(c.reply(msgid, timeout=60)) == BIG
            except RpcError as e:
                assert e.name == "UNAVAILABLE", e
            except ConnectionError:
                pass  # cut off after the grace period: no partial reply was read
        assert d.proc.wait(30) == 0
    finally:
        assert d.stop() in (0, -15), d.logtext()
