"""A real cgroup limit change, seen by the drop-in helpers within one second.

A client process (its own interpreter, so its cgroup can be changed without
moving pytest) is put into fresh cgroup v1 ``cpu`` and ``memory`` groups,
children of its own, and calls ``skyutil.get_cpu_count()`` /
``get_mem_size_gb()`` in a loop while the test writes the limits.  The new
answer must show within one second of the write, and the calls must be served
from the client's cache (kept coherent by ``facts.changed``), not by a round
trip each: the daemon's own request counters say how many facts requests it
answered.

Needs root and writable v1 ``cpu``/``memory`` hierarchies (our machines:
hybrid); skipped with the reason printed otherwise.
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest

import skyutil

CG = '/sys/fs/cgroup'
PKG = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')

# Reads one command per line: "cpu N" / "mem GB" polls the helper until it
# answers that value (or 3 s pass) and prints when, and how many calls it took.
CHILD = r'''
import json, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import skyutil
def out(obj):
    sys.stdout.write(json.dumps(obj) + '\n'); sys.stdout.flush()
sys.stdin.readline()                        # "go": we are in the cgroups
out({'cpu': skyutil.get_cpu_count(), 'mem': skyutil.get_mem_size_gb(),
     'backend': skyutil.backend_info()['functions']['get_cpu_count']['backend']})
for line in sys.stdin:
    what, value = line.split()
    fn = skyutil.get_cpu_count if what == 'cpu' else skyutil.get_mem_size_gb
    want = float(value)
    out({'ready': True})
    calls, end = 0, time.monotonic() + 3
    while time.monotonic() < end:
        calls += 1
        got = fn()
        if abs(got - want) < 1e-9:
            break
        time.sleep(0.0005)
    out({'got': got, 'at': time.monotonic(), 'calls': calls})
'''


def _own_cgroup(controller):
    with open('/proc/self/cgroup', encoding='ascii') as f:
        for line in f:
            _, ctrls, path = line.rstrip('\n').split(':', 2)
            if controller in ctrls.split(','):
                return os.path.join(CG, controller) + path.rstrip('/')
    return None


def _write(path, value):
    with open(path, 'w', encoding='ascii') as f:
        f.write(str(value))


def _facts_requests(client):
    text = client.call('daemon.metrics')
    return sum(int(n) for n in re.findall(
        r'skyutild_requests_total\{method="facts\.[a-z_.]+"\} (\d+)', text))


@pytest.fixture
def cgroups():
    if os.geteuid() != 0:
        reason = 'needs root to create cgroups'
        print(reason)
        pytest.skip(reason)
    made = {}
    try:
        for ctrl in ('cpu', 'memory'):
            parent = _own_cgroup(ctrl)
            if parent is None or not os.path.isdir(parent):
                raise OSError(f'no cgroup v1 {ctrl} hierarchy at {CG}/{ctrl}')
            path = os.path.join(parent, f'skyutil-pytest-{os.getpid()}')
            os.mkdir(path)
            made[ctrl] = path
    except OSError as exc:
        for path in made.values():
            os.rmdir(path)
        reason = f'cgroup v1 cpu/memory not writable here: {exc}'
        print(reason)
        pytest.skip(reason)
    yield made
    for path in made.values():
        for _ in range(100):
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.02)  # the child's exit is still being accounted


def _change(child, what, value, path, data):
    """Writes ``data`` to ``path`` once the child polls; returns its report
    and the delay from the write to the child's first new answer."""
    child.stdin.write(f'{what} {value}\n')
    child.stdin.flush()
    assert json.loads(child.stdout.readline()) == {'ready': True}
    time.sleep(0.05)  # the child is calling the helper in a loop now
    written = time.monotonic()
    _write(path, data)
    report = json.loads(child.stdout.readline())
    return report, report['at'] - written


def test_limit_change_is_seen_within_one_second(real_daemon, cgroups):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip('needs two CPUs to see a 1-CPU quota')
    env = dict(os.environ, SKYUTILD_SOCKET=real_daemon.path)
    env.pop('SKYUTIL_DISABLE_DAEMON', None)
    child = subprocess.Popen([sys.executable, '-c', CHILD, PKG], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        for path in cgroups.values():
            _write(os.path.join(path, 'cgroup.procs'), child.pid)
        child.stdin.write('go\n')
        child.stdin.flush()
        first = json.loads(child.stdout.readline())
        assert first['backend'] == 'daemon'
        cpus = first['cpu']
        assert cpus >= 2
        with skyutil.Client(real_daemon.path) as observer:
            asked = _facts_requests(observer)

            report, delay = _change(child, 'cpu', 1,
                                    os.path.join(cgroups['cpu'],
                                                 'cpu.cfs_quota_us'),
                                    100000)  # period 100 ms: 1 CPU
            print(f'cpu quota seen after {delay * 1000:.1f} ms, '
                  f'{report["calls"]} calls')
            assert report['got'] == 1
            assert delay < 1.0

            mem = os.path.join(cgroups['memory'], 'memory.limit_in_bytes')
            report, delay = _change(child, 'mem', 0.25, mem, 256 << 20)
            print(f'memory limit seen after {delay * 1000:.1f} ms, '
                  f'{report["calls"]} calls')
            assert report['got'] == 0.25
            assert delay < 1.0

            report, delay = _change(child, 'cpu', cpus,
                                    os.path.join(cgroups['cpu'],
                                                 'cpu.cfs_quota_us'), -1)
            assert report['got'] == cpus
            assert delay < 1.0
            calls = report['calls']
            # Coherence without a round trip per call: the pushes cost no
            # request at all; allow a few for a reconnect.
            assert _facts_requests(observer) - asked <= 3, (
                f'{calls} helper calls made facts requests')
    finally:
        child.stdin.close()
        child.kill()
        child.wait()
