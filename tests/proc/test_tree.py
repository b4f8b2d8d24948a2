"""proc.children and proc.kill_tree on real process trees."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import HERE, PY, RpcError, start_time, state, wait_for


def alive(pid):
    s = state(pid)
    return s is not None and s != "Z"


def test_children_direct_and_recursive(client, procs):
    p, nodes = procs.tree(depth=2, width=2)  # 1 + 2 + 4 processes
    root = nodes[0][0]
    assert root == p.pid
    direct = client.call("proc.children", {"pid": root})
    kids = {pid for pid, ppid in nodes if ppid == root}
    assert {c["pid"] for c in direct} == kids and len(kids) == 2
    for c in direct:
        assert c["ppid"] == root and c["start_time"] == start_time(c["pid"])
        assert c["start_time"] >= start_time(root) and c["create_time"] > 0
    every = client.call("proc.children", {"pid": root, "start_time": start_time(root),
                                          "recursive": True})
    assert sorted(c["pid"] for c in every) == sorted(pid for pid, _ in nodes[1:])


def test_children_identity_errors(client, procs):
    p = procs.spawn(["sleep", "1000"])
    with pytest.raises(RpcError) as e:
        client.call("proc.children", {"pid": p.pid, "start_time": start_time(p.pid) + 3})
    assert e.value.name == "PID_REUSED"
    q = procs.spawn(["true"])
    q.wait()
    with pytest.raises(RpcError) as e:
        client.call("proc.children", {"pid": q.pid})
    assert e.value.name == "NO_SUCH_PROCESS"
    assert client.call("proc.children", {"pid": p.pid}) == []


def test_kill_tree_terminates_every_level(client, procs):
    p, nodes = procs.tree(depth=3, width=2)  # 15 processes over 4 levels
    pids = [pid for pid, _ in nodes]
    res = client.call("proc.kill_tree", {"pid": p.pid, "start_time": start_time(p.pid),
                                         "grace_s": 5})
    assert sorted(res["signalled"]) == sorted(pids)
    assert res["killed"] == [] and res["denied"] == []
    # Every member has exited when the reply comes (zombies at most, awaiting a reaper).
    assert not [pid for pid in pids if alive(pid)]
    p.wait()
    assert p.returncode == -signal.SIGTERM


def test_kill_tree_sigkills_survivors_after_grace(client, procs):
    p, nodes = procs.tree(depth=1, width=2, ignore_term_leaves=True)
    leaves = sorted(pid for pid, ppid in nodes if ppid == p.pid)
    t0 = time.monotonic()
    res = client.call("proc.kill_tree", {"pid": p.pid, "signal": "SIGTERM", "grace_s": 0.5})
    waited = time.monotonic() - t0
    assert sorted(res["signalled"]) == sorted([p.pid] + leaves)
    assert sorted(res["killed"]) == leaves
    assert waited >= 0.5  # the grace period was honoured before SIGKILL
    assert not [pid for pid in leaves if alive(pid)]


def test_kill_tree_other_requests_keep_flowing(daemon, client, procs):
    """A kill_tree waits out its grace period without holding up the loop: a ping pipelined
    right behind it on the same connection, and requests on another connection, are answered
    while it is still waiting, before its own reply."""
    p, nodes = procs.tree(depth=1, width=1, ignore_term_leaves=True)
    kid = nodes[1][0]
    # Long enough that a few round trips fit in it even under sanitizers on a busy machine.
    grace = 8.0
    t0 = time.monotonic()
    kill, ping = client.send_many([
        ("proc.kill_tree", {"pid": p.pid, "grace_s": grace, "include_root": False}),
        ("ping", None)])
    assert client.reply(ping, timeout=grace / 2) == "pong"
    assert kill not in client.replies, "the kill_tree was answered before the ping behind it"
    with daemon.client() as other:
        assert other.call("ping", timeout=grace / 2) == "pong"
        st = other.call("proc.status", {"procs": [p.pid, kid]}, timeout=grace / 2)
    assert [e["alive"] for e in st] == [True, True]  # the kid ignores SIGTERM: still there
    # All of that was answered within the grace period, so while the kill_tree was pending
    # (its reply cannot come earlier: the kid survives until the SIGKILL at its end).
    assert time.monotonic() - t0 < grace
    res = client.reply(kill, timeout=grace + 10)
    assert time.monotonic() - t0 >= grace  # the survivor was given its grace period
    assert res["signalled"] == [kid] and res["killed"] == [kid]
    assert alive(p.pid)  # include_root: false spared the root


def test_kill_tree_signal_by_number_and_already_gone(client, procs):
    p = procs.spawn(["sleep", "1000"])
    res = client.call("proc.kill_tree", {"pid": p.pid, "signal": 9})
    assert res["signalled"] == [p.pid]
    p.wait()
    assert p.returncode == -9
    res = client.call("proc.kill_tree", {"pid": p.pid})
    assert res == {"signalled": [], "killed": [], "already_gone": [p.pid], "denied": []}


def test_kill_tree_refuses_a_reused_identity(client, procs):
    p = procs.spawn(["sleep", "1000"])
    with pytest.raises(RpcError) as e:
        client.call("proc.kill_tree", {"pid": p.pid, "start_time": start_time(p.pid) + 1})
    assert e.value.name == "PID_REUSED"
    assert alive(p.pid)


@pytest.mark.parametrize("sig", ["TERMINATE", "SIG", "", 0, 65, -1, "15"])
def test_kill_tree_bad_signal(client, procs, sig):
    p = procs.spawn(["sleep", "1000"])
    with pytest.raises(RpcError) as e:
        client.call("proc.kill_tree", {"pid": p.pid, "signal": sig})
    assert e.value.name == "INVALID_ARGUMENT"
    assert alive(p.pid)


@pytest.mark.parametrize("grace", [-1, 1e9, "10"])
def test_kill_tree_bad_grace(client, procs, grace):
    p = procs.spawn(["sleep", "1000"])
    with pytest.raises(RpcError) as e:
        client.call("proc.kill_tree", {"pid": p.pid, "grace_s": grace})
    assert e.value.name == "INVALID_ARGUMENT"
    assert alive(p.pid)


def test_kill_tree_stopped_process(client, procs):
    p = procs.spawn(["sleep", "1000"])
    os.kill(p.pid, signal.SIGSTOP)
    res = client.call("proc.kill_tree", {"pid": p.pid, "grace_s": 5})
    # SIGCONT after SIGTERM lets the stopped process act on it: no SIGKILL was needed.
    assert res["signalled"] == [p.pid] and res["killed"] == []
    p.wait()
    assert p.returncode == -signal.SIGTERM


def test_kill_tree_never_signals_the_daemon(daemon, client):
    with pytest.raises(RpcError) as err:
        client.call("proc.kill_tree", {"pid": daemon.pid, "signal": "KILL"})
    assert err.value.name == "PERMISSION_DENIED"
    assert client.call("ping") == "pong"


def test_kill_tree_does_not_wait_for_unreaped_zombies(client, procs):
    # A zombie cannot act on signals: it counts as gone at once, not after the grace period,
    # whether it was one already or became one on the signal (nobody reaps either here).
    zombie = procs.spawn(["sh", "-c", "exit 0"])
    wait_for(lambda: state(zombie.pid) == "Z", what="zombie")
    live = procs.spawn(["sleep", "1000"])
    t0 = time.monotonic()
    res = client.call("proc.kill_tree", {"pid": zombie.pid, "grace_s": 10})
    assert res == {"signalled": [], "killed": [], "already_gone": [zombie.pid], "denied": []}
    res = client.call("proc.kill_tree", {"pid": live.pid, "start_time": start_time(live.pid),
                                         "grace_s": 10})
    assert res == {"signalled": [live.pid], "killed": [], "already_gone": [], "denied": []}
    assert time.monotonic() - t0 < 5, "waited for a zombie's grace period"
    assert state(live.pid) == "Z"


def test_kill_tree_lists_each_process_once(client, procs):
    """A zombie child of a root that outlives its grace period is offered again by the walk
    that looks for children forked meanwhile: it is still listed once."""
    p = procs.spawn(["perl", "-e", '$SIG{TERM} = "IGNORE"; $| = 1; my $k = fork; '
                     'exit 3 unless $k; print "$k\\n"; sleep 100'], stdout=subprocess.PIPE,
                    text=True)
    kid = int(p.stdout.readline())
    wait_for(lambda: state(kid) == "Z", what="zombie child")
    res = client.call("proc.kill_tree", {"pid": p.pid, "grace_s": 0.3}, timeout=20)
    assert res == {"signalled": [p.pid], "killed": [p.pid], "already_gone": [kid],
                   "denied": []}, res


def test_kill_tree_without_root_takes_children_forked_during_grace(client, procs):
    """include_root: false spares the root, not what it forks while the tree is being
    killed: a child born in the grace period is SIGKILLed with the survivors."""
    # TERM is ignored before the fork, so the first child ignores it from its first moment.
    script = ('$| = 1; $SIG{TERM} = "IGNORE"; my $x = fork; if (!$x) { sleep 100; exit } '
              'print "$x\\n"; <STDIN>; my $y = fork; if (!$y) { sleep 100; exit } '
              'print "$y\\n"; sleep 100')
    p = procs.spawn(["perl", "-e", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    text=True)
    first = int(p.stdout.readline())
    wait_for(lambda: alive(first), what="first child")
    msgid, ping = client.send_many([("proc.kill_tree", {"pid": p.pid, "grace_s": 1.5,
                                                        "include_root": False}),
                                    ("ping", None)])
    # The tree was walked and signalled before the ping behind it was read: the first child
    # ignores TERM, so the grace period runs, and the root forks again only now.
    assert client.reply(ping) == "pong"
    p.stdin.write("\n")
    p.stdin.flush()
    second = int(p.stdout.readline())
    res = client.reply(msgid, timeout=30)
    assert res["signalled"] == [first], res
    assert sorted(res["killed"]) == sorted([first, second]), res
    assert not alive(first) and not alive(second) and alive(p.pid)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a pid namespace")
@pytest.mark.parametrize("mode", ["other", "init"])
def test_init_is_never_killed_nor_guarded_but_by_itself(mode):
    """In a pid namespace of its own, so that a regression could not reach the machine."""
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    script = [PY, os.path.join(HERE, "init_scenario.py"), mode]
    if mode == "other":  # a shell is init, the scenario its child
        script = ["sh", "-c", '"$@"; echo "exit=$?"', "sh"] + script
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc"] + script,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "OK", r.stdout + r.stderr
    if mode == "other":
        assert r.stdout.splitlines()[-1] == "exit=0", r.stdout + r.stderr
