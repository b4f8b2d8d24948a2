"""The hostile-input catalogue: each malformed or malicious request gets the documented error,
touches nothing it must not, and leaves the daemon serving everyone else."""
import os
import struct
import subprocess
import time

import msgpack
import pytest

import hz

MIB = 1024 * 1024


def packreq(msgid, method, params):
    return msgpack.packb([0, msgid, method, params], use_bin_type=True)


def expect_fatal(d, data, name, msgid=0):
    """data gets one error reply `name` for msgid, then the daemon hangs up; others are
    still served afterwards."""
    with d.client() as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused from its head while the rest was still being sent
        msg = c.read()
        assert msg is not None, "no error reply before the hang-up"
        assert msg[0] == 1 and msg[3] is None, msg
        assert msg[2]["name"] == name, msg
        assert msg[2]["code"] == hz.ERR[name]
        assert msg[1] == msgid, msg
        assert c.closed_by_peer(), "connection left open after %s" % name
    assert_serving(d)


def assert_serving(d):
    assert d.alive(), d.text()[-3000:]
    with d.client() as c:
        assert c.call("ping") == "pong"


# ---------------------------------------------------------------- framing and types

def test_truncated_messages_are_never_answered(daemon):
    whole = packreq(7, "ping", [])
    for cut in range(1, len(whole)):
        with daemon.client() as c:
            c.send(whole[:cut])
            c.sock.shutdown(1)  # EOF mid-message
            assert c.read() is None, "answered a message cut at %d" % cut
    assert_serving(daemon)


def test_truncated_message_then_silence_hits_the_idle_timeout(daemon):
    with daemon.client() as c:
        c.send(packreq(1, "hello", [{"client": "x" * 100}])[:20])
        assert c.closed_by_peer(timeout=15), "a partial message was kept forever"
    assert_serving(daemon)


WRONG = [None, True, 1.5, "str", b"bin", [1], {"a": 1}, -1, msgpack.ExtType(5, b"x")]


@pytest.mark.parametrize("pos", [0, 1, 2, 3])
def test_wrong_type_in_every_position(daemon, pos):
    good = [0, 9, "ping", []]
    for wrong in WRONG:
        if pos == 2 and wrong == "str":
            continue  # a fine method name
        msg = list(good)
        msg[pos] = wrong
        data = msgpack.packb(msg, use_bin_type=True)
        # The msgid is echoed only when it was read: after a valid type, as a uint32.
        expect_fatal(daemon, data, "BAD_REQUEST", msgid=0 if pos in (0, 1) else 9)


def test_wrong_argument_types_keep_the_connection(daemon):
    cases = [
        ("facts.get", {"pid": "1"}), ("facts.get", {"pid": 1.0}), ("facts.get", {"pid": [1]}),
        ("facts.get", {"bogus": 1}), ("facts.parallel_threads", {"cloud": 5}),
        ("facts.max_workers_for_file_mounts", {}),
        ("facts.max_workers_for_file_mounts", {"fds_per_source": "5"}),
        ("proc.status", {"procs": 5}), ("proc.status", {"procs": [{"pid": "x"}]}),
        ("proc.status", {"procs": [None]}), ("proc.status", {"procs": [[1]]}),
        ("proc.watch", {}), ("proc.watch", {"pid": True}),
        ("proc.kill_tree", {"pid": 1, "grace_s": "soon"}),
        ("proc.kill_tree", {"pid": 1, "signal": 1.5}),
        ("proc.guard", {"watch": 1, "target": {"pid": 1}}),
        ("proc.unwatch", {"watch_id": "w"}), ("hello", {"proto": "1"}),
    ]
    with daemon.client() as c:
        for method, args in cases:
            assert c.call_err(method, args) == "INVALID_ARGUMENT", (method, args)
        assert c.call("ping") == "pong"


def test_params_other_than_empty_or_one_map(daemon):
    for params in ([1], [{}, {}], {"pid": 1}, None, "x"):
        expect_fatal(daemon, packreq(3, "ping", params), "BAD_REQUEST", msgid=3)


@pytest.mark.parametrize("msgid", [2 ** 32, 2 ** 64 - 1, -1, -2 ** 31])
def test_msgid_out_of_range(daemon, msgid):
    expect_fatal(daemon, packreq(msgid, "ping", []), "BAD_REQUEST", msgid=0)


def test_msgid_at_the_top_of_the_range(daemon):
    with daemon.client() as c:
        c.request("ping", msgid=2 ** 32 - 1)
        msg = c.reply(2 ** 32 - 1)
        assert msg[3] == "pong"


@pytest.mark.parametrize("head", [b"\xdd", b"\xdf", b"\xdb", b"\xc6", b"\xc9"])
@pytest.mark.parametrize("where", ["message", "params"])
def test_2p32_element_declarations_are_refused_unallocated(daemon, head, where):
    rss = daemon.rss_kb()
    huge = head + b"\xff\xff\xff\xff" + (b"\x05" if head == b"\xc9" else b"")
    if where == "message":
        data = huge
    else:  # [0, 1, "ping", [<huge>]]
        data = b"\x94\x00\x01\xa4ping\x91" + huge
    expect_fatal(daemon, data, "TOO_LARGE")
    # A 4 GiB (times the element size) allocation would show; allow noise.
    daemon.rss_grew_kb(rss, 64 * 1024)


def nested(depth):
    """A request whose params map nests depth levels in all (the request array counts)."""
    inner = 1
    for _ in range(depth - 3):
        inner = [inner]
    return packreq(5, "ping", [{"x": inner}])


def test_nesting_at_the_limit_is_decoded(daemon):
    with daemon.client() as c:
        c.send(nested(16))
        msg = c.reply(5)
        # Decoded, then refused by the method's argument rules, connection kept.
        assert msg[2]["name"] == "INVALID_ARGUMENT"
        assert c.call("ping") == "pong"


@pytest.mark.parametrize("depth", [17, 100, 100000])
def test_deep_nesting_is_refused(daemon, depth):
    data = nested(depth) if depth < 1000 else b"\x91" * depth
    expect_fatal(daemon, data, "BAD_REQUEST")


def padded(total):
    """A ping whose params carry a bin so the whole message is exactly total bytes."""
    head = packreq(6, "ping", [{"pad": b""}])
    # the empty bin is 2 bytes (c4 00); a bin32 header is 5
    n = total - (len(head) - 2) - 5
    data = head[:len(head) - 2] + b"\xc6" + struct.pack(">I", n) + b"\0" * n
    assert len(data) == total
    return data


def test_message_of_exactly_max_message_is_read(daemon):
    with daemon.client() as c:
        c.send(padded(MIB))
        msg = c.reply(6)
        assert msg[2]["name"] == "INVALID_ARGUMENT"  # ping takes no "pad": decoded, answered
        assert c.call("ping") == "pong"


def test_message_of_max_message_plus_one_is_too_large(daemon):
    expect_fatal(daemon, padded(MIB + 1), "TOO_LARGE")


@pytest.mark.parametrize("method", [b"\xff\xfe", b"pi\xc3\x28ng", b"\xed\xa0\x80",
                                    b"\xc0\xaf", b"ping\x00", b"", b"x" * 256])
def test_invalid_method_names(daemon, method):
    # method packed as a str with raw bytes
    if len(method) < 32:
        m = bytes([0xa0 | len(method)]) + method
    else:
        m = b"\xda" + struct.pack(">H", len(method)) + method
    data = b"\x94\x00\x04" + m + b"\x90"
    expect_fatal(daemon, data, "BAD_REQUEST", msgid=4)


def test_unknown_but_valid_method_keeps_the_connection(daemon):
    with daemon.client() as c:
        assert c.call_err("caf\u00e9.\U0001F600") == "UNKNOWN_METHOD"
        assert c.call("ping") == "pong"


def test_client_responses_are_refused(daemon):
    expect_fatal(daemon, msgpack.packb([1, 8, None, True]), "BAD_REQUEST", msgid=8)


def test_client_notifications_are_ignored(daemon):
    with daemon.client() as c:
        c.send(msgpack.packb([2, "proc.exited", [{"watch_id": 1}]]))
        assert c.call("ping") == "pong"


# ---------------------------------------------------------------- pids and signals
# These run against a daemon that is not root, in a session of its own: a daemon fooled into
# signalling pid 0, -1 or its own group could only hurt the throwaway user's processes.

@pytest.fixture
def user_daemon(base, root_only):
    d = hz.Daemon(base, "--socket-mode", "0600", user=hz.NOBODY)
    yield d
    d.stop()


@pytest.fixture
def victim():
    p = hz.spawn_as(hz.NOBODY, ["sleep", "60"])
    yield p
    p.kill()
    p.wait()


def as_peer(d):
    """A connection whose peer is the daemon's own user (the connect runs with that euid)."""
    os.seteuid(hz.NOBODY)
    try:
        return d.client()
    finally:
        os.seteuid(0)


BAD_PIDS = [0, -1, -2, -(2 ** 31), 2 ** 31, 2 ** 32 + 1, 2 ** 63 - 1, 2 ** 64 - 1]


@pytest.mark.parametrize("pid", BAD_PIDS)
def test_bad_pids_are_refused_everywhere(user_daemon, victim, pid):
    with as_peer(user_daemon) as c:
        for method, args in [("proc.kill_tree", {"pid": pid, "grace_s": 0}),
                             ("proc.watch", {"pid": pid}),
                             ("proc.children", {"pid": pid}),
                             ("facts.get", {"pid": pid}),
                             ("proc.guard", {"watch": {"pid": pid}, "target": {"pid": victim.pid}}),
                             ("proc.guard", {"watch": {"pid": victim.pid}, "target": {"pid": pid}})]:
            name = c.call_err(method, args)
            assert name in ("INVALID_ARGUMENT", "NO_SUCH_PROCESS"), (method, pid, name)
        try:
            res = c.call("proc.status", {"procs": [pid]})
            assert res[0]["alive"] is False and res[0]["state"] == "gone", res
        except hz.RpcError as e:
            assert e.name == "INVALID_ARGUMENT", e
    assert victim.poll() is None, "pid %d reached the victim" % pid
    assert user_daemon.alive()


def test_pid_1(user_daemon):
    with as_peer(user_daemon) as c:
        assert c.call_err("proc.kill_tree", {"pid": 1, "grace_s": 0}) == "PERMISSION_DENIED"
        st = c.call("proc.status", {"procs": [1]})[0]
        assert st["alive"] is True and st["uid"] == 0
        w = c.call("proc.watch", {"pid": 1})
        assert w["alive"] is True and w["watch_id"] is not None
        assert c.call("proc.unwatch", {"watch_id": w["watch_id"]}) is True


def test_the_daemons_own_pid(user_daemon):
    """Its own user may ask about the daemon, but not kill or guard it to death."""
    me = user_daemon.pid
    with as_peer(user_daemon) as c:
        assert c.call("facts.get", {"pid": me})["pid"] == me
        assert c.call("proc.status", {"procs": [me]})[0]["alive"] is True
        name = c.call_err("proc.kill_tree", {"pid": me, "signal": "KILL", "grace_s": 0})
        assert name in ("PERMISSION_DENIED", "INVALID_ARGUMENT"), name
    time.sleep(0.2)
    assert user_daemon.alive(), "a client killed the daemon:\n" + user_daemon.text()[-2000:]
    with as_peer(user_daemon) as c:
        p = hz.spawn_as(hz.NOBODY, ["sleep", "60"])
        try:
            name = c.call_err("proc.guard", {"watch": {"pid": p.pid},
                                              "target": {"pid": me}, "signal": "KILL"})
            assert name in ("PERMISSION_DENIED", "INVALID_ARGUMENT"), name
        finally:
            p.kill()
            p.wait()
    time.sleep(0.3)
    assert user_daemon.alive(), "a guard killed the daemon:\n" + user_daemon.text()[-2000:]


def test_start_time_mismatch(user_daemon, victim):
    st = hz.start_time(victim.pid)
    with as_peer(user_daemon) as c:
        res = c.call("proc.status", {"procs": [{"pid": victim.pid, "start_time": st + 1}]})
        assert res[0]["state"] == "reused" and res[0]["alive"] is False, res
        w = c.call("proc.watch", {"pid": victim.pid, "start_time": st + 1})
        assert w["alive"] is False and w["watch_id"] is None, w
        assert c.call_err("proc.kill_tree", {"pid": victim.pid, "start_time": st + 1,
                                             "grace_s": 0}) == "PID_REUSED"
        assert c.call_err("proc.children", {"pid": victim.pid,
                                            "start_time": st - 1}) == "PID_REUSED"
        for bad in (-1, 2 ** 64 - 1):
            name = c.call_err("proc.kill_tree", {"pid": victim.pid, "start_time": bad})
            assert name in ("INVALID_ARGUMENT", "PID_REUSED"), name
        assert victim.poll() is None
        # and the right start_time works: this test can fail
        res = c.call("proc.status", {"procs": [{"pid": victim.pid, "start_time": st}]})
        assert res[0]["alive"] is True


@pytest.mark.parametrize("sig", [0, -1, 65, 1000, 2 ** 40, "", "SIGFOO", "RTMIN+99", "TERM\0",
                                 "SIG", "-9"])
def test_signal_out_of_range(user_daemon, victim, sig):
    with as_peer(user_daemon) as c:
        assert c.call_err("proc.kill_tree", {"pid": victim.pid, "signal": sig,
                                             "grace_s": 0}) == "INVALID_ARGUMENT"
        assert c.call_err("proc.guard", {"watch": {"pid": victim.pid},
                                         "target": {"pid": victim.pid},
                                         "signal": sig}) == "INVALID_ARGUMENT"
    assert victim.poll() is None


def test_signal_in_range_does_signal(user_daemon, victim):
    """The control for the catalogue above: a valid request by the owner works."""
    with as_peer(user_daemon) as c:
        res = c.call("proc.kill_tree", {"pid": victim.pid, "signal": "KILL", "grace_s": 0})
        assert victim.pid in res["signalled"] + res["killed"], res
    assert hz.wait_gone(victim.pid) or victim.poll() is not None


# ---------------------------------------------------------------- --sysroot

@pytest.mark.parametrize("root", ["/tmp/../etc", "/..", "relative/dir", "/tmp/x/..",
                                  "/nonexistent-skyutil-root"])
def test_sysroot_with_dotdot_or_bad_is_refused(base, root):
    r = subprocess.run([hz.SKYUTILD, "--socket", os.path.join(base, "s.sock"), "--sysroot",
                        root], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    assert r.returncode == 2, (root, r.returncode, r.stderr)
    assert b"sysroot" in r.stderr
    assert not os.path.exists(os.path.join(base, "s.sock"))


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


TRAP = 12345 * 4096


@pytest.mark.parametrize("cgroup, point", [
    ("0::/../../../../trap\n", "/sys/fs/cgroup"),
    ("0::/\n", "/sys/fs/cgroup/../../../../trap"),
    ("4:memory:/../../../../trap\n", None),
])
def test_dotdot_in_fixture_paths_stays_inside_the_sysroot(base, cgroup, point):
    """A cgroup path or mount point with .. must not lead the daemon outside --sysroot: a
    trap directory next to the sysroot holds a limit that must never be reported."""
    root = os.path.join(base, "root")
    write(os.path.join(root, "sys/devices/system/cpu/online"), "0-3\n")
    write(os.path.join(root, "proc/meminfo"), "MemTotal:       67108864 kB\n")
    write(os.path.join(root, "proc/100/status"), "Name:\tw\nPid:\t100\nCpus_allowed_list:\t0-3\n")
    write(os.path.join(root, "proc/100/cgroup"), cgroup)
    if point is None:
        write(os.path.join(root, "proc/self/mountinfo"),
              "30 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
        write(os.path.join(root, "sys/fs/cgroup/memory/memory.limit_in_bytes"),
              "9223372036854771712\n")
    else:
        write(os.path.join(root, "proc/self/mountinfo"),
              "30 25 0:27 / %s rw - cgroup2 cgroup2 rw\n" % point)
        write(os.path.join(root, "sys/fs/cgroup/cgroup.controllers"), "cpu memory pids\n")
        write(os.path.join(root, "sys/fs/cgroup/memory.max"), "max\n")
    for trap in (os.path.join(base, "trap"), os.path.join(root, "trap")):
        write(os.path.join(trap, "memory.max"), "%d\n" % TRAP)
        write(os.path.join(trap, "memory.limit_in_bytes"), "%d\n" % TRAP)
        write(os.path.join(trap, "cgroup.controllers"), "cpu memory pids\n")
    d = hz.Daemon(base, "--sysroot", root)
    try:
        with d.client() as c:
            try:
                facts = c.call("facts.get", {"pid": 100})
            except hz.RpcError as e:
                facts = {"error": e.name}
        assert facts.get("mem_limit_bytes") != TRAP, facts
        assert facts.get("mem_effective_bytes") != TRAP, facts
    finally:
        d.stop()
