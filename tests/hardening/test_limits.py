"""Resource limits under hostile load: the connection limit, the fd limit, a client that never
reads, a client that trickles bytes (slowloris). Each ends with the daemon serving again."""
import os
import socket
import time

import msgpack
import pytest

import hz


def test_connection_limit_refuses_clearly_and_recovers(base):
    d = hz.Daemon(base, "--max-connections", "8")
    try:
        held = []
        deadline = time.monotonic() + 10
        while len(held) < 8:
            # The readiness probe's connection may not be reaped yet: retry a refusal.
            c = d.client()
            try:
                assert c.call("ping") == "pong"
                held.append(c)
            except (EOFError, OSError, hz.RpcError):
                c.close()
                assert time.monotonic() < deadline, "fewer than 8 clients admitted"
                time.sleep(0.05)
        for _ in range(3):
            with d.client() as extra:
                msg = extra.read()
                assert msg is not None, "refused without a word"
                assert msg[0] == 1 and msg[2]["name"] == "RESOURCE_EXHAUSTED", msg
                assert "connections" in msg[2]["message"]
                assert extra.read() is None  # and hung up
        for c in held[:4]:
            c.close()
        # Closing is asynchronous on the daemon side: new clients get in once it is noticed.
        deadline = time.monotonic() + 10
        while True:
            with d.client() as c:
                try:
                    if c.call("ping") == "pong":
                        break
                except (EOFError, OSError, hz.RpcError):  # refused: EPIPE/ECONNRESET too
                    pass
            assert time.monotonic() < deadline, "the daemon never took clients again"
            time.sleep(0.05)
        for c in held[4:]:
            assert c.call("ping") == "pong"  # the survivors were never disturbed
            c.close()
    finally:
        d.stop()


def test_fd_limit_gives_clear_errors_and_recovers(base):
    d = hz.Daemon(base, nofile=48)
    try:
        clients, outcomes = [], {"pong": 0, "refused": 0}
        for _ in range(80):
            try:
                c = d.client(timeout=5)
            except OSError:
                outcomes["refused"] += 1
                continue
            clients.append(c)
            try:
                if c.call("ping") == "pong":
                    outcomes["pong"] += 1
            except (EOFError, OSError):
                outcomes["refused"] += 1  # accepted and closed at once (libuv's reserve fd)
            except hz.RpcError as e:
                assert e.name == "RESOURCE_EXHAUSTED", e
                outcomes["refused"] += 1
        assert outcomes["pong"] > 0 and outcomes["refused"] > 0, outcomes
        assert d.alive()
        for c in clients:
            c.close()
        d.wait_ready(timeout=15)  # recovered: a new client is answered
        assert d.nfds() < 48
    finally:
        d.stop()


def test_watches_past_the_fd_limit_are_refused_and_recover(base):
    d = hz.Daemon(base, nofile=40)
    kids = [hz.spawn_as(None, ["sleep", "60"]) for _ in range(50)]
    try:
        with d.client() as c:
            ids, refused = [], 0
            for k in kids:
                try:
                    w = c.call("proc.watch", {"pid": k.pid})
                    ids.append(w["watch_id"])
                except hz.RpcError as e:
                    assert e.name == "RESOURCE_EXHAUSTED", e
                    refused += 1
            assert refused > 0 and ids, (refused, len(ids))
            assert c.call("ping") == "pong"
            for wid in ids:
                assert c.call("proc.unwatch", {"watch_id": wid}) is True
            w = c.call("proc.watch", {"pid": kids[-1].pid})
            assert w["watch_id"] is not None
    finally:
        for k in kids:
            k.kill()
            k.wait()
        d.stop()


def test_client_that_never_reads_is_cut_at_its_output_limit(base):
    """Deferred replies pile up for a client that does not read: it is disconnected once its
    queue passes --max-output, the daemon's memory stays bounded and others are served."""
    d = hz.Daemon(base, "--max-output", "262144", "--enable-debug-methods")
    try:
        rss = d.rss_kb()
        with d.client() as hog:
            hog.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            n = 200
            for i in range(n):
                hog.request("debug.sleep", {"ms": 300, "pad": 60000})
            time.sleep(1.5)  # every reply is due: 12 MB if nothing were dropped
            with d.client() as other:
                assert other.call("ping") == "pong"
            d.rss_grew_kb(rss, 48 * 1024)
            got = 0
            while True:
                msg = hog.read()
                if msg is None:
                    break
                got += 1
            assert got < n, "a client that never read got every reply"
        assert "unread output" in d.text()
    finally:
        d.stop()


def test_pipelining_without_reading_pauses_instead_of_buffering(base):
    """Requests sent by a client that never reads its answers are not answered into an
    unbounded queue: the daemon stops reading it, its memory stays bounded."""
    d = hz.Daemon(base, "--max-output", "262144")
    try:
        rss = d.rss_kb()
        req = b"".join(msgpack.packb([0, i, "daemon.metrics", []]) for i in range(1, 1001))
        with d.client() as hog:
            hog.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            hog.sock.setblocking(False)
            sent, deadline = 0, time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    sent += hog.sock.send(req * 10)
                except BlockingIOError:
                    time.sleep(0.05)
            # The daemon stopped reading: the hog could not push 5 s of requests through.
            assert sent < 500 * len(req), sent
            with d.client() as other:
                assert other.call("ping") == "pong"
            d.rss_grew_kb(rss, 48 * 1024)
    finally:
        d.stop()


def test_slowloris_partial_message_is_timed_out(base):
    d = hz.Daemon(base, "--idle-timeout", "1500")
    try:
        data = msgpack.packb([0, 1, "hello", [{"client": "slow"}]])
        with d.client() as c:
            closed = False
            for i, b in enumerate(data):
                try:
                    c.send(bytes([b]))
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                time.sleep(1.0)  # one byte per second
                if i >= 4:
                    break
            assert closed or c.closed_by_peer(timeout=10), "a trickling client kept its slot"
        with d.client() as c:
            assert c.call("ping") == "pong"
            # Idle between whole messages is not a partial message: the connection stays.
            time.sleep(2.0)
            assert c.call("ping") == "pong"
    finally:
        d.stop()
