#!/usr/bin/python3
"""Real cgroups, through the real daemon (needs root and writable cgroup v1 controllers).

A client process is moved into fresh cpu, cpuset and memory cgroups (children of the test's
own, so any enclosing limits still apply) with a 1.5-CPU quota, a 1-CPU cpuset and a 256 MiB
limit; its own facts.get (no pid: the daemon uses the socket's peer credentials) must report
them, as must the sizing methods. The client then subscribes; the quota is changed and the
facts.changed notification must arrive within one second of the write. Finally the client
is moved back out, which must also be pushed. The cgroups are removed afterwards.

Exit status 77 (skip) with a reason where cgroups cannot be written.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rpc  # noqa: E402

SKIP = 77
CG = "/sys/fs/cgroup"

CHILD = r"""
import json, os, resource, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[2])
import rpc
resource.setrlimit(resource.RLIMIT_NOFILE, (200, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n"); sys.stdout.flush()
sys.stdin.readline()                      # "go": we have been moved into the cgroups
c = rpc.Client(sys.argv[1])
out({"get": c.call("facts.get"),
     "threads": c.call("facts.parallel_threads"),
     "threads_k8s": c.call("facts.parallel_threads", cloud="Kubernetes"),
     "workers": c.call("facts.max_workers_for_file_mounts", fds_per_source=50),
     "sub": c.call("facts.subscribe")})
for line in sys.stdin:                    # one notification per request line
    n = c.wait_notification("facts.changed", float(line))
    out({"note": n, "at": time.monotonic()})
"""


def my_cgroups():
    paths = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(","):
                paths[c] = path
    return paths


def write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def read(path):
    with open(path) as f:
        return f.read().strip()


def setup_cgroups(name):
    """Create the test cgroups; returns {controller: dir} or raises OSError."""
    mine = my_cgroups()
    dirs = {}
    for ctrl in ("cpu", "cpuset", "memory"):
        base = os.path.join(CG, ctrl)
        if not os.path.isdir(base) or ctrl not in mine:
            raise OSError("no v1 %s hierarchy mounted at %s" % (ctrl, base))
        parent = base + mine[ctrl].rstrip("/")
        d = os.path.join(parent, name)
        os.mkdir(d)
        dirs[ctrl] = d
        if ctrl == "cpuset":
            write(os.path.join(d, "cpuset.mems"), read(os.path.join(parent, "cpuset.mems")))
            first = read(os.path.join(parent, "cpuset.effective_cpus")).split(",")[0].split("-")[0]
            write(os.path.join(d, "cpuset.cpus"), first)
    write(os.path.join(dirs["cpu"], "cpu.cfs_period_us"), 100000)
    write(os.path.join(dirs["cpu"], "cpu.cfs_quota_us"), 150000)
    write(os.path.join(dirs["memory"], "memory.limit_in_bytes"), 256 * 1024 * 1024)
    return dirs


def move(pid, dirs):
    for d in dirs.values():
        write(os.path.join(d, "cgroup.procs"), pid)


def cleanup(dirs):
    for d in dirs.values():
        for _ in range(100):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)  # the child's exit is still being accounted
        else:
            print("warning: could not remove %s" % d)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root to create cgroups")
        return SKIP
    name = "skyutil-facts-test-%d" % os.getpid()
    dirs = {}
    try:
        dirs = setup_cgroups(name)
    except OSError as e:
        cleanup(dirs)
        print("SKIP: cgroup v1 cpu/cpuset/memory not writable here: %s" % e)
        return SKIP
    parents = {c: os.path.dirname(d) for c, d in dirs.items()}
    tmp = tempfile.mkdtemp(prefix="facts-real-")
    daemon = child = None
    try:
        daemon = rpc.Daemon(tmp)
        child = subprocess.Popen([sys.executable, "-c", CHILD, daemon.path,
                                  os.path.dirname(os.path.abspath(__file__))],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        move(child.pid, dirs)
        child.stdin.write("go\n")
        child.stdin.flush()
        first = json.loads(child.stdout.readline())
        facts = first["get"]
        print("client facts: %s" % json.dumps(facts, sort_keys=True))
        expect(facts["pid"] == child.pid, "facts are the caller's (pid %d)" % child.pid)
        expect(abs(facts["cpu_quota"] - 1.5) < 1e-9, "cpu_quota 1.5")
        expect(facts["cpuset_cpus"] == 1, "cpuset_cpus 1")
        expect(facts["cpu_affinity"] == 1, "the kernel narrowed the client's affinity to 1")
        expect(facts["cpu_count"] == 1, "cpu_count = min(ceil 1.5, cpuset 1)")
        expect(facts["cpu_count_floor"] == 1, "cpu_count_floor 1")
        expect(facts["mem_limit_bytes"] == 256 * 1024 * 1024, "mem_limit_bytes 256 MiB")
        expect(facts["mem_effective_bytes"] == 256 * 1024 * 1024, "mem_effective_bytes")
        expect(facts["mem_used_bytes"] is not None and facts["mem_used_bytes"] > 0, "usage")
        expect(facts["nofile_soft"] == 200, "the client's own RLIMIT_NOFILE, not the daemon's")
        expect(facts["cgroup_version"] in (1, "hybrid"), "v1 controllers")
        expect(facts["cgroup_path"].endswith("/" + name), "cgroup_path names the test cgroup")
        expect(facts["source"]["memory"].startswith("cgroup1:"), "memory from cgroup v1")
        expect(first["threads"] == 4, "parallel_threads = max(4, 1 - 1)")
        expect(first["threads_k8s"] == 16, "parallel_threads x4 for kubernetes")
        expect(first["workers"] == 2, "max_workers = min((200 - 100) // 50, 4)")
        sub = first["sub"]
        expect(sub["facts"]["cpu_quota"] == facts["cpu_quota"], "subscribe returns the facts")

        # another connection may ask about that pid explicitly and sees the same cgroup
        c = daemon.client()
        other = c.call("facts.get", pid=child.pid)
        expect(other["cpu_quota"] == facts["cpu_quota"] and other["cgroup_path"] == facts["cgroup_path"],
               "facts.get {pid} agrees")
        s2 = c.call("facts.subscribe", pid=child.pid)
        expect(c.call("facts.unsubscribe", subscription_id=s2["subscription_id"]) is True,
               "unsubscribe")
        try:
            c.call("facts.unsubscribe", subscription_id=s2["subscription_id"])
            expect(False, "a second unsubscribe fails")
        except rpc.RpcError as e:
            expect(e.name == "INVALID_ARGUMENT", "unknown subscription: INVALID_ARGUMENT")
        try:
            c.call("facts.get", pid=0x3ffffff0)
            expect(False, "a missing pid fails")
        except rpc.RpcError as e:
            expect(e.name == "NO_SUCH_PROCESS", "missing pid: NO_SUCH_PROCESS")
        c.close()

        # a limit write is pushed within one second
        child.stdin.write("5\n")
        child.stdin.flush()
        time.sleep(0.2)  # let the child block in its wait first
        t0 = time.monotonic()
        write(os.path.join(dirs["cpu"], "cpu.cfs_quota_us"), 50000)
        note = json.loads(child.stdout.readline())
        expect(note["note"] is not None, "facts.changed arrived")
        delay = note["at"] - t0
        print("quota change pushed after %.3f s" % delay)
        n = note["note"]
        expect(n["subscription_id"] == sub["subscription_id"], "the client's subscription")
        expect(abs(n["facts"]["cpu_quota"] - 0.5) < 1e-9, "new cpu_quota 0.5")
        expect(n["generation"] > sub["facts"]["generation"], "generation increased")
        expect(n["facts"]["generation"] == n["generation"], "generation in the facts too")
        expect(delay < 1.0, "pushed within one second (took %.3f s)" % delay)

        # moving the process out (one controller at a time: intermediate states may be
        # pushed too) ends with the facts of the old cgroups
        child.stdin.write("5\n")
        child.stdin.flush()
        time.sleep(0.2)
        move(child.pid, parents)
        for _ in range(len(parents) + 1):
            note = json.loads(child.stdout.readline())
            expect(note["note"] is not None, "facts.changed after the move arrived")
            moved = note["note"]["facts"]
            if moved["mem_limit_bytes"] != 256 * 1024 * 1024 and moved["cpuset_cpus"] != 1:
                break
            child.stdin.write("5\n")
            child.stdin.flush()
        expect(not moved["cgroup_path"].endswith("/" + name), "the new cgroup is reported")
        expect(moved["mem_limit_bytes"] != 256 * 1024 * 1024, "the old memory limit is gone")
        expect(note["note"]["generation"] > n["generation"], "generation increased again")
        print("move pushed: cgroup_path %s" % moved["cgroup_path"])
        print("PASS")
        return 0
    finally:
        if child:
            child.stdin.close()
            child.kill()
            child.wait()
        if daemon:
            daemon.stop()
        cleanup(dirs)
        subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    sys.exit(main())
