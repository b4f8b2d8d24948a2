#!/usr/bin/python3
"""Cache, subscriptions and argument checking of the facts methods, on a fixture tree that
the test edits while the daemon (--sysroot) runs.

Covers both change paths: a write into a cgroup directory (inotify, pushed at once and seen by
the very next facts.get) and changes no directory watch can see (a process's rlimits, its
cgroup membership), found by the one-second re-check while someone subscribes.
"""
import os
import re
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402
import rpc  # noqa: E402

MI2 = "30 25 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n"


def put(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # replace atomically: a cgroup file never reads half-written, but a truncated regular
    # file would, and the daemon would rightly report that state
    with open(path + ".new", "w") as f:
        f.write(text)
    os.rename(path + ".new", path)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(client, name, method, **args):
    try:
        client.call(method, **args)
    except rpc.RpcError as e:
        expect(e.name == name, "%s %r: expected %s, got %s" % (method, args, name, e.name))
        return
    raise AssertionError("%s %r: expected %s, got a result" % (method, args, name))


def metric(client, name):
    text = client.call("daemon.metrics")
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    expect(m is not None, "metric %s present" % name)
    return int(m.group(1))


def main():
    tmp = tempfile.mkdtemp(prefix="facts-sub-")
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    fixture.materialize({"entries": []}, root)
    put(root, "proc/self/mountinfo", MI2)
    put(root, "proc/100/cgroup", "0::/job\n")
    put(root, "sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n")
    put(root, "sys/fs/cgroup/job/cpu.max", "200000 100000\n")
    put(root, "sys/fs/cgroup/job/memory.max", "1073741824\n")
    put(root, "sys/fs/cgroup/job/memory.current", "1000\n")
    put(root, "sys/fs/cgroup/app/cpu.max", "100000 100000\n")

    d = rpc.Daemon(tmp, "--sysroot", root)
    try:
        a, b = d.client(), d.client()

        # arguments
        expect_error(a, "INVALID_ARGUMENT", "facts.get", pid="100")
        expect_error(a, "INVALID_ARGUMENT", "facts.get", pid=-1)
        expect_error(a, "INVALID_ARGUMENT", "facts.get", pid=1 << 40)
        expect_error(a, "INVALID_ARGUMENT", "facts.get", pid=100, extra=1)
        expect_error(a, "INVALID_ARGUMENT", "facts.max_workers_for_file_mounts", fds_per_source=0)
        expect_error(a, "INVALID_ARGUMENT", "facts.max_workers_for_file_mounts")
        expect_error(a, "INVALID_ARGUMENT", "facts.unsubscribe", subscription_id=12345)
        expect_error(a, "INVALID_ARGUMENT", "facts.unsubscribe")
        # without pid the caller is asked about, and the test process is not in the fixture
        expect_error(a, "NO_SUCH_PROCESS", "facts.get")
        expect_error(a, "NO_SUCH_PROCESS", "facts.parallel_threads")
        expect_error(a, "NO_SUCH_PROCESS", "facts.subscribe", pid=4242)

        first = a.call("facts.get", pid=100)
        expect(first["cpu_count"] == 2 and first["mem_limit_bytes"] == 1073741824, "initial facts")
        expect(a.call("facts.get", pid=100)["generation"] == first["generation"],
               "generation is stable while nothing changes")

        sub = a.call("facts.subscribe", pid=100)
        sid = sub["subscription_id"]
        expect(sub["facts"]["generation"] == first["generation"], "subscribe: same generation")
        expect(metric(b, "skyutild_subscriptions") == 1, "one subscription")

        # usage moves, limits do not: no notification
        put(root, "sys/fs/cgroup/job/memory.current", "2000\n")
        expect(a.wait_notification("facts.changed", 1.5) is None,
               "no facts.changed when only usage changed")

        # read-your-writes: a limit written just before facts.get is already in the answer
        gens = metric(b, "skyutild_facts_generations_total")
        put(root, "sys/fs/cgroup/job/memory.max", "536870912\n")
        now = b.call("facts.get", pid=100)
        expect(now["mem_limit_bytes"] == 536870912, "facts.get sees the write at once")
        expect(now["generation"] > first["generation"], "generation increased")
        expect(metric(b, "skyutild_facts_generations_total") > gens, "generations counted")
        n = a.wait_notification("facts.changed", 2.0)
        expect(n is not None and n["subscription_id"] == sid, "the subscriber was told")
        expect(n["facts"]["mem_limit_bytes"] == 536870912, "with the new limit")
        expect(n["generation"] == now["generation"], "and the same generation")

        # a cgroup write pushed without anyone asking
        put(root, "sys/fs/cgroup/job/cpu.max", "300000 100000\n")
        n = a.wait_notification("facts.changed", 2.0)
        expect(n is not None and n["facts"]["cpu_count"] == 3, "cpu.max write pushed: %r" % (n,))
        last = n["generation"]

        # per-process values: only the periodic re-check sees them
        put(root, "proc/100/limits", "Limit Soft Limit Hard Limit Units\n"
            "Max open files            4096                 8192                 files\n")
        n = a.wait_notification("facts.changed", 3.0)
        expect(n is not None and n["facts"]["nofile_soft"] == 4096, "rlimit change pushed")
        expect(n["generation"] > last, "generation increased")
        last = n["generation"]

        # the process moves to another cgroup
        put(root, "proc/100/cgroup", "0::/app\n")
        n = a.wait_notification("facts.changed", 3.0)
        expect(n is not None and n["facts"]["cgroup_path"] == "/app", "move pushed")
        expect(n["facts"]["cpu_count"] == 1, "with the new cgroup's quota")
        expect(n["generation"] > last, "generation increased")

        # two subscriptions on b, then b goes away: both end with the connection
        b.call("facts.subscribe", pid=100)
        b.call("facts.subscribe", pid=100)
        expect(metric(a, "skyutild_subscriptions") == 3, "three subscriptions")
        b.close()
        deadline = time.monotonic() + 5
        while metric(a, "skyutild_subscriptions") != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        expect(metric(a, "skyutild_subscriptions") == 1, "closing b ended its subscriptions")

        expect(a.call("facts.unsubscribe", subscription_id=sid) is True, "unsubscribe")
        expect(metric(a, "skyutild_subscriptions") == 0, "no subscriptions left")
        put(root, "sys/fs/cgroup/app/cpu.max", "400000 100000\n")
        expect(a.wait_notification("facts.changed", 1.5) is None, "nothing after unsubscribe")
        expect(a.call("facts.get", pid=100)["cpu_count"] == 4, "but facts.get is current")
        a.close()
        print("PASS")
        return 0
    except Exception:
        print(d.output())
        raise
    finally:
        d.stop()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
