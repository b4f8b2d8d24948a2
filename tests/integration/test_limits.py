"""Resource limits: connection cap, unread output, slowloris, backpressure, fd exhaustion."""
import resource
import socket
import time

import msgpack

from conftest import Client, error_reply


def ping_ok(path):
    c = Client(path)
    try:
        return c.call("ping")[3] == "pong"
    finally:
        c.close()


def connect_admitted(path, timeout=5.0):
    """A connection that got past the limit. The start-up probe's connection (and any
    closed one) is released asynchronously, so a refusal right after a close is retried."""
    deadline = time.monotonic() + timeout
    while True:
        c = Client(path)
        try:
            c.send("ping", msgid=1)
            r = c.recv()
        except (BrokenPipeError, ConnectionResetError):
            r = None  # refused and closed before our request was even written
        if r is not None and r[1] == 1 and r[2] is None:
            return c
        c.close()
        assert time.monotonic() < deadline, "never admitted"
        time.sleep(0.05)


def test_connection_limit(make_daemon, connect):
    d = make_daemon(["--max-connections", "3"]).start()
    held = [connect_admitted(d.sock) for _ in range(3)]
    fourth = connect(d.sock)
    r = fourth.recv()
    error_reply(r, "RESOURCE_EXHAUSTED")
    assert r[1] == 0 and r[2]["message"] == "too many connections"
    assert fourth.recv() is None
    # The held clients are unaffected.
    assert held[0].result("ping") == "pong"
    # When load drops, the daemon serves again (the close is noticed asynchronously).
    held.pop().close()
    held.append(connect_admitted(d.sock))
    for c in held:
        assert c.result("ping") == "pong"
    text = held[0].result("daemon.metrics")
    for c in held:
        c.close()
    rejected = [l for l in text.splitlines() if l.startswith("skyutild_connections_rejected_total")]
    assert int(rejected[0].split()[1]) >= 1
    assert d.stop() == 0


def test_many_rejections_do_not_hurt(make_daemon, connect):
    d = make_daemon(["--max-connections", "1"]).start()
    keep = connect_admitted(d.sock)
    for _ in range(200):
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        s.close()
    assert keep.result("ping") == "pong"
    keep.close()
    assert d.stop() == 0


def test_client_that_never_reads_is_disconnected(make_daemon, connect):
    d = make_daemon(["--max-output", "65536"]).start()
    hog = connect(d.sock, timeout=10)
    hog.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    n = 60
    # Deferred replies come due all at once, whatever the client reads: 60 x 64 KiB.
    hog.send_raw(b"".join(msgpack.packb([0, i, "debug.sleep", [{"ms": 50, "pad": 65536}]])
                          for i in range(n)))
    time.sleep(0.5)
    other = connect(d.sock)
    assert other.result("ping") == "pong"
    msgs = hog.recv_all_until_eof()
    assert len(msgs) < n, "a client that does not read should have been cut off"
    assert "unread output, disconnecting" in d.log()
    assert other.result("ping") == "pong"
    assert d.stop() == 0


def test_slow_reader_gets_everything_thanks_to_backpressure(make_daemon, connect):
    d = make_daemon(["--max-output", "65536"]).start()
    c = connect(d.sock, timeout=10)
    n = 3000
    # Small requests (~40 KB in all, well within socket buffers) with large answers
    # (~750 KB): the client can finish writing before it starts reading.
    c.send_raw(b"".join(msgpack.packb([0, i, "hello", []]) for i in range(n)))
    time.sleep(0.5)  # replies (~1 MB) pile up: the daemon must pause, not disconnect
    got = set()
    while len(got) < n:
        m = c.recv()
        assert m is not None, "disconnected after %d replies" % len(got)
        got.add(m[1])
    assert got == set(range(n))
    assert c.result("ping") == "pong"
    log = d.log()
    assert "pausing input" in log and "resuming input" in log
    assert d.stop() == 0


def test_slowloris_partial_message_is_closed(make_daemon, connect):
    d = make_daemon(["--idle-timeout", "300"]).start()
    c = connect(d.sock, timeout=10)
    data = msgpack.packb([0, 1, "ping", []])
    t0 = time.monotonic()
    # One byte now and then keeps the message partial; the clock is not reset by bytes.
    try:
        for b in data[:-1]:
            c.send_raw(bytes([b]))
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert c.recv() is None
    assert time.monotonic() - t0 < 5
    assert "partial message" in d.log()
    assert ping_ok(d.sock)
    assert d.stop() == 0


def test_busy_client_ending_reads_mid_message_is_not_idle(make_daemon, connect):
    d = make_daemon(["--idle-timeout", "300"]).start()
    c = connect(d.sock)
    stream = b"".join(msgpack.packb([0, i, "ping", []]) for i in range(1, 41))
    # Chunks of 7 bytes never align with the 9-byte messages: after every write a partial
    # message waits, for 1.2 s in all, while complete messages keep coming.
    for i in range(0, len(stream), 7):
        c.send_raw(stream[i:i + 7])
        time.sleep(0.03)
    got = sorted(c.recv()[1] for _ in range(40))
    assert got == list(range(1, 41))
    assert d.stop() == 0


def test_idle_connection_without_partial_message_stays(make_daemon, connect):
    d = make_daemon(["--idle-timeout", "200"]).start()
    c = connect(d.sock)
    assert c.result("ping") == "pong"
    time.sleep(0.6)
    assert c.result("ping") == "pong"
    assert d.stop() == 0


def test_out_of_file_descriptors(make_daemon, connect):
    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))

    d = make_daemon(["--max-connections", "1000"])
    d.start(preexec_fn=low_nofile)
    socks = []
    for _ in range(60):
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        socks.append(s)
    time.sleep(0.3)
    # Connections beyond the fd limit were accepted and dropped, not left hanging forever.
    dropped = 0
    for s in socks:
        s.settimeout(0.5)
        try:
            s.sendall(msgpack.packb([0, 1, "ping", []]))
            if s.recv(100) == b"":
                dropped += 1
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            dropped += 1
    # libuv's reserve-fd trick accepts and closes them (uv__emfile_trick), silently.
    assert dropped > 0
    for s in socks:
        s.close()
    deadline = time.monotonic() + 5
    while not ping_ok(d.sock):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert d.proc.poll() is None
    assert d.stop() == 0
