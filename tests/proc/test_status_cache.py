"""proc.status 'fields', and the liveness cache that serves liveness-only requests.

A request whose fields leave out state, ppid and uid is answered from a daemon-wide cache of
pidfds kept in an epoll set: each such request first collects the members that exited, so a
process that exited (zombie included) is never reported alive, and a cached pid that now
belongs to another process is never confused with it. The cache only uses fds the watch
budget leaves and gives them back to proc.watch on demand.
"""
import errno
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import (HERE, PROTECTED, PY, RpcError, start_time, stat_fields, state,
                      wait_for)
from rpc import Daemon
from seccomp import refuse_pidfd_open
from test_scale import nofile, spawn_many, stop_many
from test_status import LEADER_EXITS

ALL = ["pid", "alive", "state", "start_time", "create_time", "ppid", "uid", "exit_code",
       "signal", "reason", "pidfd_ino"]
VOLATILE = ("state", "ppid", "uid")  # a request naming any of these reads /proc afresh
LIVE = ["pid", "alive", "start_time"]  # liveness-only: served by the cache
ZOMBIE_REASON = "exited; not yet reaped by its parent"
REUSED_REASON = "pid reused by another process"


def metrics(c):
    """The cache's metrics: {"entries", "hits", "misses"}."""
    text = c.call("daemon.metrics")
    out = {}
    for key, name in (("entries", "skyutild_status_cache_entries"),
                      ("hits", "skyutild_status_cache_hits_total"),
                      ("misses", "skyutild_status_cache_misses_total")):
        m = re.search(rf"^{name} (\d+)$", text, re.M)
        assert m, f"no {name} in daemon.metrics:\n{text}"
        out[key] = int(m.group(1))
    return out


def live(c, procs, fields=LIVE):
    return c.call("proc.status", {"procs": procs, "fields": fields})


def synced(c):
    """Metrics once exits are collected (an empty liveness-only request collects them)."""
    assert live(c, []) == []
    return metrics(c)


def sleeper(procs):
    """A process that stays asleep, so its state is the same in two requests."""
    p = procs.spawn(["sleep", "1000"])
    wait_for(lambda: state(p.pid) == "S", what="sleep")
    return p


# ---- fields ----

@pytest.mark.parametrize("field", ALL)
def test_single_field_gives_exactly_that_key(client, procs, field):
    p = sleeper(procs)
    [full] = client.call("proc.status", {"procs": [p.pid]})
    [e] = client.call("proc.status", {"procs": [p.pid], "fields": [field]})
    assert e == {field: full[field]}
    assert full["ppid"] == os.getpid() and full["start_time"] == start_time(p.pid)
    assert full["state"] == "sleeping" and isinstance(full["pidfd_ino"], int)


@pytest.mark.parametrize("subset", [
    ["pid", "alive"],
    ["alive", "state"],
    ["start_time", "create_time", "pidfd_ino"],
    ["uid", "ppid", "exit_code", "signal", "reason"],
    ["reason", "pid", "pid", "alive"],  # a repeated name still gives one key
])
def test_subset_gives_exactly_those_keys(client, procs, subset):
    p = sleeper(procs)
    [full] = client.call("proc.status", {"procs": [p.pid]})
    [e] = client.call("proc.status", {"procs": [p.pid], "fields": subset})
    assert set(e) == set(subset) and len(e) == len(set(subset))
    assert e == {k: full[k] for k in e}


def test_default_is_every_field(client, procs):
    p = sleeper(procs)
    gone = procs.spawn(["true"])
    gone.wait()
    default = client.call("proc.status", {"procs": [p.pid, gone.pid]})
    assert set(default[0]) == set(ALL)
    # pidfd_ino only when known: a gone process has none.
    assert set(default[1]) == set(ALL) - {"pidfd_ino"}
    assert default[0]["alive"] is True and default[1]["state"] == "gone"
    for same in (ALL, list(reversed(ALL)), None):  # nil means "not given"
        assert client.call("proc.status",
                           {"procs": [p.pid, gone.pid], "fields": same}) == default
    # A liveness-only request answers the same values as the full one.
    assert live(client, [p.pid, gone.pid], [f for f in ALL if f not in VOLATILE]) == [
        {k: v for k, v in e.items() if k not in VOLATILE} for e in default]
    # Asking only for what a gone process lacks gives an empty entry, not a nil.
    assert client.call("proc.status", {"procs": [gone.pid], "fields": ["pidfd_ino"]}) == [{}]


@pytest.mark.parametrize("fields,message", [
    ([], "fields: name at least one field"),
    (["x"], 'fields: no field named "x"'),
    (["pid", "nope"], 'fields: no field named "nope"'),
    (["PID"], 'fields: no field named "PID"'),
    ([""], 'fields: no field named ""'),
    (["b" * 40], 'fields: no field named "' + "b" * 40 + '"'),
    (["b" * 70], 'fields: no field named "' + "b" * 64 + '..."'),
    ([1], "fields: field names must be strings"),
    (["pid", None], "fields: field names must be strings"),
    ([b"pid"], "fields: field names must be strings"),
    ([["pid"]], "fields: field names must be strings"),
    ("pid", "argument 'fields' must be an array"),
    ({"pid": True}, "argument 'fields' must be an array"),
    (3, "argument 'fields' must be an array"),
])
def test_bad_fields_rejected_and_nothing_cached(daemon, client, procs, fields, message):
    p = sleeper(procs)
    before, pidfds = synced(client), daemon.npidfds()
    with pytest.raises(RpcError) as e:
        client.call("proc.status", {"procs": [p.pid], "fields": fields})
    assert (e.value.name, e.value.message) == ("INVALID_ARGUMENT", message)
    assert metrics(client) == before and daemon.npidfds() == pidfds
    assert client.call("ping") == "pong"


def test_bad_entry_in_a_liveness_request_caches_nothing(daemon, client, procs):
    p = sleeper(procs)
    before, pidfds = synced(client), daemon.npidfds()
    with pytest.raises(RpcError) as e:
        live(client, [p.pid, 0])
    assert e.value.name == "INVALID_ARGUMENT"
    assert metrics(client) == before and daemon.npidfds() == pidfds


def test_long_non_ascii_field_name_gives_a_decodable_error(daemon, procs):
    with daemon.client() as c:
        with pytest.raises(RpcError) as e:
            c.call("proc.status", {"procs": [1], "fields": ["a" + "é" * 20]})
        assert e.value.name == "INVALID_ARGUMENT"
        assert e.value.message.startswith('fields: no field named "a')
        assert c.call("ping") == "pong"


@pytest.mark.parametrize("name", ["a\nb\x1b[31m", "pid\x00x"])
def test_field_name_echo_is_sanitized(client, name):
    with pytest.raises(RpcError) as e:
        client.call("proc.status", {"procs": [1], "fields": [name]})
    assert e.value.name == "INVALID_ARGUMENT"
    assert e.value.message.isprintable(), repr(e.value.message)
    assert e.value.message != 'fields: no field named "pid"'  # "pid" is a field


# ---- the liveness cache ----

def test_cached_then_hit_then_zombie_then_gone(daemon, client, procs):
    p = sleeper(procs)
    st = start_time(p.pid)
    m0, pidfds = synced(client), daemon.npidfds()
    assert live(client, [p.pid]) == [{"pid": p.pid, "alive": True, "start_time": st}]
    m1 = metrics(client)
    assert daemon.npidfds() == pidfds + 1
    assert m1 == {"entries": m0["entries"] + 1, "hits": m0["hits"],
                  "misses": m0["misses"] + 1}
    out = live(client, [p.pid, {"pid": p.pid, "start_time": st}], LIVE + ["pidfd_ino"])
    assert out[0] == out[1] == {"pid": p.pid, "alive": True, "start_time": st,
                                "pidfd_ino": out[0]["pidfd_ino"]}
    assert out[0]["pidfd_ino"] == client.call("proc.status", {"procs": [p.pid]})[0]["pidfd_ino"]
    assert metrics(client) == {**m1, "hits": m1["hits"] + 2}
    assert daemon.npidfds() == pidfds + 1

    # Killed, not reaped: the very next request says so.
    os.kill(p.pid, signal.SIGKILL)
    wait_for(lambda: state(p.pid) == "Z", what="zombie")
    [e] = live(client, [{"pid": p.pid, "start_time": st}], LIVE + ["reason"])
    assert e == {"pid": p.pid, "alive": False, "start_time": st, "reason": ZOMBIE_REASON}
    # A zombie is not cached: asked twice in one request, it is read twice.
    m2 = metrics(client)
    assert m2["entries"] == m0["entries"] and daemon.npidfds() == pidfds
    assert live(client, [p.pid, p.pid], ["alive"]) == [{"alive": False}] * 2
    assert metrics(client) == {**m2, "misses": m2["misses"] + 2}

    p.wait()
    [e] = live(client, [{"pid": p.pid, "start_time": st}], LIVE + ["reason"])
    assert e == {"pid": p.pid, "alive": False, "start_time": st, "reason": "no such process"}
    assert daemon.npidfds() == pidfds


def test_request_queued_before_the_exit_is_answered_after_it(daemon, client, procs):
    """The request is queued before the exit and read after it, in the same loop turn as
    the exit's wake-up: it must not be answered from the stale entry."""
    p = sleeper(procs)
    assert live(client, [p.pid])[0]["alive"] is True
    m0 = metrics(client)
    os.kill(daemon.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: state(daemon.pid) == "T", what="daemon stopped")
        mid = client.send("proc.status", {"procs": [p.pid], "fields": ["alive", "reason"]})
        os.kill(p.pid, signal.SIGKILL)
        wait_for(lambda: state(p.pid) == "Z", what="zombie")
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
    assert client.reply(mid) == [{"alive": False, "reason": ZOMBIE_REASON}]
    m1 = metrics(client)
    assert m1["hits"] == m0["hits"] and m1["misses"] == m0["misses"] + 1
    assert m1["entries"] == m0["entries"] - 1


def cpu_ticks(pid):
    f = stat_fields(pid)
    return int(f[11]) + int(f[12])  # utime + stime


def test_batch_answered_at_once_collects_exits_first(daemon, procs):
    """With its share of batches in progress (4), a connection's next batch is answered at
    once, while the daemon reads: the exit of a cached process during a long batch, before
    the loop could poll for it, must still be seen by the request read after that batch."""
    p = sleeper(procs)
    me = os.getpid()
    with daemon.client() as c:
        assert live(c, [p.pid])[0]["alive"] is True
        reqs = [("proc.status", {"procs": [me] * 2000, "fields": ["state"]})] * 4
        reqs.append(("proc.status", {"procs": [me] * 50_000, "fields": ["state"]}))
        reqs.append(("proc.status", {"procs": [p.pid], "fields": ["alive", "reason"]}))
        busy = cpu_ticks(daemon.pid) + 5
        ids = c.send_many(reqs)
        # Well inside the long batch (it takes several times longer): stop it there.
        wait_for(lambda: cpu_ticks(daemon.pid) >= busy, what="daemon busy with the batch")
        os.kill(daemon.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: state(daemon.pid) == "T", what="daemon stopped")
            p.kill()
            wait_for(lambda: state(p.pid) == "Z", what="zombie")
        finally:
            os.kill(daemon.pid, signal.SIGCONT)
        assert c.reply(ids[5], timeout=60) == [{"alive": False, "reason": ZOMBIE_REASON}]
        for mid, n in zip(ids[:5], [2000] * 4 + [50_000]):
            assert len(c.reply(mid, timeout=60)) == n


def test_request_collects_many_exits_at_once(daemon, client):
    many, pids = spawn_many(150)
    try:
        pidfds = daemon.npidfds()
        assert all(e["alive"] for e in live(client, pids))
        assert daemon.npidfds() == pidfds + 150
        os.kill(daemon.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: state(daemon.pid) == "T", what="daemon stopped")
            mid = client.send("proc.status", {"procs": pids, "fields": ["alive"]})
            stop_many(many)  # kills and reaps them all
        finally:
            os.kill(daemon.pid, signal.SIGCONT)
        assert client.reply(mid) == [{"alive": False}] * 150
        wait_for(lambda: daemon.npidfds() == pidfds, what="pidfds released",
                 detail=daemon.fds)
    finally:
        if many.poll() is None:
            stop_many(many)


def test_loop_releases_the_pidfd_of_an_exit_nobody_asks_about(daemon, client, procs):
    p, q = sleeper(procs), sleeper(procs)
    m0, pidfds = synced(client), daemon.npidfds()
    assert [e["alive"] for e in live(client, [p.pid, q.pid])] == [True, True]
    assert daemon.npidfds() == pidfds + 2
    # A zombie's pidfd goes with no request at all (daemon.metrics collects nothing) ...
    os.kill(p.pid, signal.SIGKILL)
    wait_for(lambda: daemon.npidfds() == pidfds + 1, what="pidfd of the zombie released",
             detail=daemon.fds)
    assert state(p.pid) == "Z"
    assert metrics(client)["entries"] == m0["entries"] + 1
    # ... and so does a reaped process's.
    q.kill()
    q.wait()
    wait_for(lambda: daemon.npidfds() == pidfds, what="pidfd of the reaped process released",
             detail=daemon.fds)
    assert metrics(client)["entries"] == m0["entries"]
    p.wait()


def test_start_time_mismatch_on_a_cached_entry(daemon, client, procs):
    p = sleeper(procs)
    st = start_time(p.pid)
    assert live(client, [p.pid])[0]["alive"] is True
    m1, pidfds = metrics(client), daemon.npidfds()
    fields = LIVE + ["reason", "create_time"]
    later, earlier, bare, exact = live(client, [
        {"pid": p.pid, "start_time": st + 1}, {"pid": p.pid, "start_time": st - 1},
        p.pid, {"pid": p.pid, "start_time": st}], fields)
    for e, asked in ((later, st + 1), (earlier, st - 1)):
        assert {k: e[k] for k in LIVE + ["reason"]} == {
            "pid": p.pid, "alive": False, "start_time": asked, "reason": REUSED_REASON}
    assert bare == exact
    assert {k: bare[k] for k in LIVE + ["reason"]} == {
        "pid": p.pid, "alive": True, "start_time": st, "reason": None}
    assert metrics(client) == {**m1, "hits": m1["hits"] + 4}
    # The entry stays: the process it pins is alive.
    assert daemon.npidfds() == pidfds
    # The full status says the same.
    [full] = client.call("proc.status", {"procs": [{"pid": p.pid, "start_time": st + 1}]})
    assert full["state"] == "reused" and full["alive"] is False


def test_mismatch_on_a_miss_is_not_cached(daemon, client, procs):
    p = sleeper(procs)
    st = start_time(p.pid)
    m0, pidfds = synced(client), daemon.npidfds()
    [e] = live(client, [{"pid": p.pid, "start_time": st + 1}])
    assert e == {"pid": p.pid, "alive": False, "start_time": st + 1}
    assert metrics(client) == {**m0, "misses": m0["misses"] + 1}
    assert daemon.npidfds() == pidfds
    # The same pid twice in one request: a miss that fills the cache, then a hit.
    assert live(client, [p.pid, p.pid]) == [{"pid": p.pid, "alive": True, "start_time": st}] * 2
    assert metrics(client) == {"entries": m0["entries"] + 1, "hits": m0["hits"] + 1,
                               "misses": m0["misses"] + 2}


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="SYS_exit number")
def test_leader_thread_exited_is_alive_until_the_process_ends(daemon, client, procs):
    p = procs.spawn([PY, "-c", LEADER_EXITS], stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    wait_for(lambda: state(p.pid) == "Z", what="leader thread exit")
    pidfds = daemon.npidfds()
    assert live(client, [p.pid])[0]["alive"] is True
    assert daemon.npidfds() == pidfds + 1
    assert live(client, [p.pid])[0]["alive"] is True
    p.kill()
    wait_for(lambda: os.listdir(f"/proc/{p.pid}/task") == [str(p.pid)], what="threads gone")
    assert live(client, [p.pid], ["alive", "reason"]) == [
        {"alive": False, "reason": ZOMBIE_REASON}]
    assert daemon.npidfds() == pidfds


def test_cache_outlives_the_connection_not_the_processes(daemon, procs):
    ps = [sleeper(procs) for _ in range(3)]
    pids = [p.pid for p in ps]
    with daemon.client() as c:
        m0, pidfds = synced(c), daemon.npidfds()
        assert [e["alive"] for e in live(c, pids)] == [True] * 3
    daemon.settle()  # the daemon has closed the connection
    assert daemon.npidfds() == pidfds + 3
    with daemon.client() as c:
        m1 = metrics(c)
        assert m1["entries"] == m0["entries"] + 3
        assert live(c, pids) == [{"pid": p, "alive": True, "start_time": start_time(p)}
                                 for p in pids]
        assert metrics(c) == {**m1, "hits": m1["hits"] + 3}
        for p in ps:
            p.kill()
            p.wait()
        wait_for(lambda: daemon.npidfds() == pidfds, what="pidfds released",
                 detail=daemon.fds)
        assert metrics(c)["entries"] == m0["entries"]


def test_pipelined_replies_match_their_requests(client, procs):
    ps = [sleeper(procs) for _ in range(4)]
    gone = procs.spawn(["true"])
    gone.wait()
    sts = {p.pid: start_time(p.pid) for p in ps}
    reqs, expect = [], []
    for i in range(60):
        a, b = ps[i % 4].pid, ps[(i // 4) % 4].pid
        procs_arg = [a, {"pid": b, "start_time": sts[b] + (i % 2)}, gone.pid]
        fields = None if i % 5 == 0 else LIVE
        reqs.append(("proc.status", {"procs": procs_arg, "fields": fields}))
        expect.append([(a, True, sts[a]), (b, i % 2 == 0, sts[b] + (i % 2)),
                       (gone.pid, False, None)])
    # First, a batch big enough to be answered over several loop turns (about 2 ms each),
    # so the small ones after it are answered before it.
    big = [ps[0].pid] + [4_000_000 + i for i in range(50_000)] + [ps[1].pid]
    big_id, *ids = client.send_many([("proc.status", {"procs": big, "fields": ["alive"]})]
                                    + reqs)
    for mid, want in reversed(list(zip(ids, expect))):
        got = client.reply(mid)
        assert [(e["pid"], e["alive"], e["start_time"]) for e in got] == want, mid
    assert big_id not in client.replies, "the big batch was not answered in slices"
    got = client.reply(big_id, timeout=60)
    assert got == [{"alive": True}] + [{"alive": False}] * 50_000 + [{"alive": True}]


# ---- the fd budget ----

def test_cache_gives_its_fds_to_watches():
    many, pids = spawn_many(120)
    d = None
    try:
        # 100 fds, 4 connections: 50 fds for watches, which the cache may use meanwhile.
        # Without lingering (test_linger.py) the close below gives every fd back at once.
        d = Daemon(["--max-connections", "4", "--linger-timeout", "0"], preexec=nofile(100))
        PROTECTED.add(d.pid)
        m = re.search(r"watch budget (\d+)", d.logtext())
        assert m, d.logtext()
        budget = int(m.group(1))
        assert budget == 50
        base = d.settle()
        c = d.client()
        cached, watched = pids[:budget + 10], pids[budget + 10:2 * budget + 10]
        assert all(e["alive"] for e in live(c, cached))
        # The cache fills the budget, not more.
        assert metrics(c) == {"entries": budget, "hits": 0, "misses": budget + 10}
        assert d.npidfds() == budget
        # The first half is used again: the second half is the least recently used.
        assert all(e["alive"] for e in live(c, cached[:budget // 2]))
        assert metrics(c)["hits"] == budget // 2

        for k, pid in enumerate(watched):
            w = c.call("proc.watch", {"pid": pid})
            assert isinstance(w["watch_id"], int) and w["alive"] is True, (k, w)
            if k == 0 or k == budget // 2 - 1:
                assert metrics(c)["entries"] == budget - k - 1
                assert d.npidfds() == budget
            if k == budget // 2 - 1:
                # Only least recently used entries were shed.
                h = metrics(c)["hits"]
                assert all(e["alive"] for e in live(c, cached[:budget // 2]))
                assert metrics(c)["hits"] == h + budget // 2
        assert metrics(c)["entries"] == 0 and d.npidfds() == budget

        # Now the watches hold the budget: the next one is refused ...
        with pytest.raises(RpcError) as e:
            c.call("proc.watch", {"pid": pids[-1]})
        assert e.value.name == "RESOURCE_EXHAUSTED"
        # ... and liveness is still answered, without caching.
        out = live(c, cached)
        assert all(e["alive"] for e in out) and len(out) == budget + 10
        assert metrics(c)["entries"] == 0 and d.npidfds() == budget

        c.close()
        wait_for(lambda: d.nfds() == base, timeout=30, what="fds back to baseline",
                 detail=lambda: (base, d.fds()))
        # The budget is free again for the cache.
        with d.client() as c2:
            assert all(e["alive"] for e in live(c2, cached))
            assert metrics(c2)["entries"] == budget and d.npidfds() == budget
    finally:
        stop_many(many)
        if d:
            assert d.stop() == 0, d.logtext()
            PROTECTED.discard(d.pid)


# ---- no pidfds (kernel before 5.3, or a seccomp profile that refuses pidfd_open) ----

# The filter lives in seccomp.py, shared with test_old_kernel.py.


@pytest.mark.parametrize("err", [errno.ENOSYS, errno.EPERM])
def test_liveness_without_pidfds_is_read_from_proc(procs, err):
    p = sleeper(procs)
    d = Daemon(preexec=refuse_pidfd_open(err))
    PROTECTED.add(d.pid)
    try:
        with d.client() as c:
            [full] = c.call("proc.status", {"procs": [p.pid]})
            assert full["alive"] is True  # the full status does without a pidfd
            assert live(c, [p.pid]) == [{"pid": p.pid, "alive": True,
                                         "start_time": start_time(p.pid)}]
            # A watch needs a pidfd: a clear UNAVAILABLE, not an internal error.
            with pytest.raises(RpcError) as e:
                c.call("proc.watch", {"pid": p.pid})
            assert e.value.name == "UNAVAILABLE" and "no pidfds" in e.value.message
    finally:
        assert d.stop() == 0, d.logtext()
        PROTECTED.discard(d.pid)


THREADED = r"""
import sys, threading, time
def run():
    sys.stdout.write(f"{threading.get_native_id()}\n"); sys.stdout.flush()
    time.sleep(1000)
threading.Thread(target=run).start()
time.sleep(1000)
"""


@pytest.mark.parametrize("err", [None, errno.ENOSYS, errno.EPERM])
def test_a_thread_id_is_no_process_with_or_without_pidfds(client, procs, err):
    p = procs.spawn([PY, "-c", THREADED], stdout=subprocess.PIPE)
    tid = int(p.stdout.readline())
    # /proc/<tid> is there for a thread too, and names another thread group.
    assert tid != p.pid and os.path.exists(f"/proc/{tid}/stat")
    with open(f"/proc/{tid}/status") as f:
        assert f"\nTgid:\t{p.pid}\n" in f.read()
    tid_st = start_time(tid)
    d = None if err is None else Daemon(preexec=refuse_pidfd_open(err))
    if d:
        PROTECTED.add(d.pid)
    try:
        c = client if d is None else d.client()
        # pidfd_open refuses a thread that does not lead its group; without pidfds the
        # status's Tgid says the same: the tid names no process, with or without its start.
        for proc in (tid, {"pid": tid, "start_time": tid_st}):
            [e] = c.call("proc.status", {"procs": [proc]})
            assert e["alive"] is False and e["state"] == "gone", e
            assert e["reason"] == "no such process" and e["ppid"] is None, e
            [e] = live(c, [proc])
            assert e["alive"] is False, e
        # The process itself is alive, whoever answers.
        [e] = c.call("proc.status", {"procs": [p.pid]})
        assert e["alive"] is True and e["start_time"] == start_time(p.pid), e
        assert live(c, [p.pid]) == [{"pid": p.pid, "alive": True,
                                     "start_time": start_time(p.pid)}]
        with pytest.raises(RpcError) as e:
            c.call("proc.children", {"pid": tid})
        # Without pidfds the daemon lists no trees at all (it could not pin them).
        assert e.value.name == ("NO_SUCH_PROCESS" if d is None else "UNAVAILABLE"), e.value
        # A root that is gone is reported, as for any ended process; nothing is signalled.
        r = c.call("proc.kill_tree", {"pid": tid, "grace_s": 0})
        assert r["already_gone"] == [tid] and r["signalled"] == [] and r["killed"] == [], r
        assert p.poll() is None, "kill_tree of a thread id signalled its process"
        if d:
            c.close()
    finally:
        if d:
            assert d.stop() == 0, d.logtext()
            PROTECTED.discard(d.pid)


# ---- pid reuse, for real ----

REUSE_SCENARIO = r"""
import os, re, signal, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from rpc import Daemon

LIVE = ["pid", "alive", "start_time", "reason"]
REUSED = "pid reused by another process"


def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    return int(s[s.rindex(")") + 2:].split()[19])


def state(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()[0]


def metrics(c):
    text = c.call("daemon.metrics")
    return {k: int(re.search(rf"^skyutild_status_cache_{k} (\d+)$", text, re.M).group(1))
            for k in ("entries", "hits_total", "misses_total")}


def successor(pid):
    # The next process started gets pid.
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(pid - 1))
    p = subprocess.Popen(["sleep", "1000"])
    assert p.pid == pid, (p.pid, pid)
    return p


def main():
    assert os.getpid() == 1, "must run as pid 1 of a new pid namespace"
    d = Daemon()
    try:
        with d.client() as c:
            old = subprocess.Popen(["sleep", "1000"])
            P, old_st = old.pid, start_time(old.pid)
            [e] = c.call("proc.status", {"procs": [P], "fields": LIVE})
            assert e == {"pid": P, "alive": True, "start_time": old_st, "reason": None}, e
            assert metrics(c)["entries"] == 1
            time.sleep(0.05)  # the successor must start at least a clock tick later
            old.kill()
            old.wait()
            new = successor(P)
            new_st = start_time(P)
            assert new_st != old_st
            a, b = c.call("proc.status", {"procs": [{"pid": P, "start_time": old_st}, P],
                                          "fields": LIVE})
            assert a == {"pid": P, "alive": False, "start_time": old_st, "reason": REUSED}, a
            assert b == {"pid": P, "alive": True, "start_time": new_st, "reason": None}, b
            # The new process is cached under its own identity.
            m = metrics(c)
            assert m["entries"] == 1, m
            a, b = c.call("proc.status", {"procs": [{"pid": P, "start_time": old_st},
                                                    {"pid": P, "start_time": new_st}],
                                          "fields": LIVE})
            assert (a["alive"], b["alive"], b["start_time"]) == (False, True, new_st), (a, b)
            assert metrics(c) == {**m, "hits_total": m["hits_total"] + 2}

            # Again, with the request queued while the entry for P is still there: the daemon
            # reads the request before it sees the exit, the reuse happens in between.
            time.sleep(0.05)
            os.kill(d.pid, signal.SIGSTOP)
            try:
                while state(d.pid) != "T":
                    time.sleep(0.005)
                mid = c.send("proc.status", {"procs": [{"pid": P, "start_time": new_st}, P],
                                             "fields": LIVE})
                new.kill()
                new.wait()
                newer = successor(P)
                newer_st = start_time(P)
            finally:
                os.kill(d.pid, signal.SIGCONT)
            assert newer_st != new_st
            a, b = c.reply(mid)
            assert a == {"pid": P, "alive": False, "start_time": new_st, "reason": REUSED}, a
            assert b == {"pid": P, "alive": True, "start_time": newer_st, "reason": None}, b
            newer.kill()
            newer.wait()
            [e] = c.call("proc.status", {"procs": [P], "fields": ["alive"]})
            assert e == {"alive": False}, e
            assert metrics(c)["entries"] == 0
    finally:
        rc = d.stop()
    assert rc == 0, d.logtext()
    print("OK", flush=True)


main()
"""


def test_pid_reuse_with_a_cached_entry():
    if os.geteuid() != 0:
        pytest.skip("needs root for a pid namespace and ns_last_pid")
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", PY, "-c", REUSE_SCENARIO,
                        HERE], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout + r.stderr
