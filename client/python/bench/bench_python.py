#!/usr/bin/python3
"""Side-by-side latency of SkyPilot's helpers and skyutil's, in one run.

Baselines are SkyPilot upstream's implementations (copied below, psutil
included); the skyutil side uses the daemon-backed cached helpers.  Every
row reports per-call median and p99 and the median ratio (baseline /
skyutil).

  /usr/bin/python3 client/python/bench/bench_python.py [--quick] [--json F]

A daemon must answer: the default socket, else one started from
``$SKYUTILD_BIN`` (default /work/main/build/daemon/skyutild) on a private
socket.  ``--allow-fake`` falls back to tests/fake_skyutild.py, which is
Python: fine for the cached rows (no round trip), not for the batch row.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

# pylint: disable=wrong-import-position
import daemons  # noqa: E402

import skyutil  # noqa: E402
from skyutil import _backend  # noqa: E402

# ------------------------------------------------ upstream baselines
# sky/utils/common_utils.py and subprocess_utils.py, verbatim in logic.


def _is_cgroup_v2() -> bool:
    return os.path.isfile('/sys/fs/cgroup/cgroup.controllers')


def _get_cgroup_cpu_limit() -> Optional[float]:
    try:
        if _is_cgroup_v2():
            with open('/sys/fs/cgroup/cpu.max', 'r', encoding='utf-8') as f:
                quota_str, period_str = f.read().strip().split()
                if quota_str == 'max':
                    return None
                quota = float(quota_str)
                period = float(period_str)
                return quota / period if quota > 0 else None
        else:
            with open('/sys/fs/cgroup/cpu/cpu.cfs_quota_us', 'r',
                      encoding='utf-8') as f:
                quota = float(f.read().strip())
            with open('/sys/fs/cgroup/cpu/cpu.cfs_period_us', 'r',
                      encoding='utf-8') as f:
                period = float(f.read().strip())
            return quota / period if (quota > 0 and period > 0) else None
    except (OSError, ValueError):
        return None


def _get_cgroup_memory_limit() -> Optional[int]:
    try:
        path = ('/sys/fs/cgroup/memory.max' if _is_cgroup_v2() else
                '/sys/fs/cgroup/memory/memory.limit_in_bytes')
        with open(path, 'r', encoding='utf-8') as f:
            value = f.read().strip()
            if value == 'max' or not value:
                return None
            limit = int(value)
            return limit if limit > 0 else None
    except (OSError, ValueError):
        return None


def upstream_get_cpu_count() -> int:
    cpu_count = os.getenv('SKYPILOT_POD_CPU_CORE_LIMIT')
    if cpu_count is not None:
        return int(float(cpu_count))
    cpu = psutil.cpu_count()
    if hasattr(os, 'sched_getaffinity'):
        cpu = min(cpu, len(os.sched_getaffinity(0)))
    cgroup_cpu = _get_cgroup_cpu_limit()
    if cgroup_cpu is not None:
        cpu = min(cpu, int(cgroup_cpu))
    return cpu


def upstream_get_mem_size_gb() -> float:
    mem_size = os.getenv('SKYPILOT_POD_MEMORY_GB_LIMIT')
    if mem_size is not None:
        return float(mem_size)
    mem_size = os.getenv('SKYPILOT_POD_MEMORY_BYTES_LIMIT')
    if mem_size is not None:
        return float(mem_size) / (1024**3)
    mem = psutil.virtual_memory().total
    cgroup_mem = _get_cgroup_memory_limit()
    if cgroup_mem is not None:
        mem = min(mem, cgroup_mem)
    return mem / (1024**3)


def upstream_get_parallel_threads(cloud_str: Optional[str] = None) -> int:
    cpu_count = os.cpu_count()
    if cpu_count is None:
        cpu_count = 1
    multiplier = 4 if cloud_str and cloud_str.lower() == 'kubernetes' else 1
    return max(4, cpu_count - 1) * multiplier


def psutil_alive(pid: int, create_time: float) -> bool:
    """SkyPilot's controller_process_alive check, minus the cmdline test."""
    try:
        return psutil.Process(pid).create_time() == create_time
    except psutil.Error:
        return False


def psutil_batch(items) -> List[bool]:
    return [psutil_alive(pid, ct) for pid, ct in items]


# --------------------------------------------------------- measuring


def _timer_overhead() -> int:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(2000):
        t0 = clock()
        samples.append(clock() - t0)
    return int(statistics.median(samples))


def per_call(fn: Callable[[], object], samples: int,
             overhead: int) -> List[float]:
    """Times ``samples`` single calls (ns, timer overhead removed)."""
    clock = time.perf_counter_ns
    for _ in range(min(200, samples)):
        fn()
    out = []
    for _ in range(samples):
        t0 = clock()
        fn()
        out.append(max(0, clock() - t0 - overhead))
    return out


def summary(values: List[float]) -> Dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {'p50': statistics.median(ordered), 'p99': p99, 'n': len(ordered)}


_REAPER = r'''
import os, sys, time
for line in sys.stdin:
    if line.strip() != 'go':
        break
    pid = os.fork()
    if pid == 0:
        time.sleep(0.03)
        os._exit(3)
    print(pid, flush=True)
    # Wait for the exit without reaping, stamp, then reap: the stamp
    # precedes the reap, so no waiter can return "before" it.
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    stamp = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    os.waitpid(pid, 0)
    print(stamp, flush=True)
'''


def reap_latency(wait: Callable[[int], object], rounds: int) -> List[float]:
    """ns from a non-child's reap (by its parent) until ``wait`` returns."""
    reaper = subprocess.Popen([sys.executable, '-c', _REAPER],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    out = []
    try:
        for _ in range(rounds):
            reaper.stdin.write('go\n')
            reaper.stdin.flush()
            pid = int(reaper.stdout.readline())
            wait(pid)
            returned = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            reaped = int(reaper.stdout.readline())
            out.append(returned - reaped)
    finally:
        reaper.stdin.close()
        reaper.wait()
    return out


def psutil_wait(pid: int) -> None:
    try:
        psutil.Process(pid).wait(timeout=10)
    except psutil.NoSuchProcess:
        pass


# ------------------------------------------------------------- daemon


def ensure_daemon(allow_fake: bool) -> Optional[daemons.DaemonProcess]:
    """Makes the helpers' backend talk to a daemon; returns one we started."""
    path = skyutil.resolve_socket_path()
    if daemons.socket_answers(path):
        return None
    started = daemons.real_daemon()
    if started is None:
        if not allow_fake:
            sys.exit(f'no daemon answers at {path} and no binary at '
                     f'$SKYUTILD_BIN / {daemons.DEFAULT_BIN}; build it or '
                     'pass --allow-fake')
        started = daemons.fake_daemon()
    started.start()
    os.environ['SKYUTILD_SOCKET'] = started.path
    return started


def fmt(ns: float) -> str:
    if ns >= 1e6:
        return f'{ns / 1e6:.2f} ms'
    if ns >= 1e3:
        return f'{ns / 1e3:.2f} us'
    return f'{ns:.0f} ns'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='fewer samples (a few seconds)')
    parser.add_argument('--json', metavar='FILE', help='also write results')
    parser.add_argument('--allow-fake', action='store_true',
                        help='use the Python fake daemon if none is built')
    args = parser.parse_args()
    fast_n, batch_n, wait_n = ((3000, 5, 10) if args.quick else
                               (30000, 30, 60))

    started = ensure_daemon(args.allow_fake)
    try:
        _backend.reset()
        info = skyutil.backend_info()
        if info['backend'] != 'daemon':
            sys.exit(f'helpers are not daemon-backed: {info["reason"]}')
        rows = run(fast_n, batch_n, wait_n)
        report(rows, info, started, args.json)
    finally:
        _backend.reset()
        if started is not None:
            started.cleanup()


def run(fast_n: int, batch_n: int, wait_n: int) -> List[Dict]:
    overhead = _timer_overhead()
    me = os.getpid()
    created = psutil.Process(me).create_time()
    assert skyutil.is_process_alive(me, created)
    deadline = time.monotonic() + 2
    while me not in _backend._state.link.watched:  # pylint: disable=protected-access
        assert time.monotonic() < deadline, 'watch never registered'
        time.sleep(0.001)

    live = [(p.pid, p.create_time()) for p in psutil.process_iter()]
    batch = [live[i % len(live)] if i % 2 else (4_000_000 - i, 1.0)
             for i in range(10_000)]
    assert skyutil.are_processes_alive(batch) == psutil_batch(batch)

    pairs = [
        ('get_cpu_count()', upstream_get_cpu_count, skyutil.get_cpu_count,
         fast_n),
        ('get_mem_size_gb()', upstream_get_mem_size_gb,
         skyutil.get_mem_size_gb, fast_n),
        ('get_parallel_threads()', upstream_get_parallel_threads,
         skyutil.get_parallel_threads, fast_n),
        ('is_process_alive(pid, ct), watched', lambda: psutil_alive(me, created),
         lambda: skyutil.is_process_alive(me, created), fast_n),
        ('10 000 pids alive?', lambda: psutil_batch(batch),
         lambda: skyutil.are_processes_alive(batch), batch_n),
    ]
    rows = []
    for name, base, ours, n in pairs:
        rows.append({'name': name,
                     'baseline': summary(per_call(base, n, overhead)),
                     'skyutil': summary(per_call(ours, n, overhead))})
    baseline_wait = summary(reap_latency(psutil_wait, wait_n))
    rows.append({'name': 'wait_for_exit: reap -> return',
                 'baseline': baseline_wait,
                 'skyutil': summary(reap_latency(skyutil.wait_for_exit,
                                                 wait_n))})
    with skyutil.Client() as client:
        rows.append({'name': '  daemon proc.watch -> proc.exited',
                     'baseline': baseline_wait,
                     'skyutil': summary(reap_latency(
                         lambda pid: client.watch(pid).wait(10), wait_n))})
    for row in rows:
        # None when skyutil's median is below timer resolution.
        row['ratio'] = (row['baseline']['p50'] / row['skyutil']['p50']
                        if row['skyutil']['p50'] else None)
    return rows


def report(rows: List[Dict], info: Dict, started, json_path) -> None:
    daemon = info['daemon'] or {}
    source = ('started ' + started.name if started else 'already running')
    print(f'python {platform.python_version()}  psutil {psutil.__version__}  '
          f'skyutil {skyutil.__version__}')
    print(f'daemon {daemon.get("version")} pid {daemon.get("pid")} '
          f'({source}) at {info["socket_path"]}')
    print(f'cpus {os.cpu_count()} (cgroup-aware {skyutil.get_cpu_count()})  '
          f'load {os.getloadavg()[0]:.1f}  '
          f'nofile {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}')
    print()
    header = (f'{"operation":38} {"upstream p50":>13} {"p99":>10} '
              f'{"skyutil p50":>12} {"p99":>10} {"ratio":>8}')
    print(header)
    print('-' * len(header))
    for row in rows:
        base, ours = row['baseline'], row['skyutil']
        ratio = '-' if row['ratio'] is None else f'{row["ratio"]:.1f}x'
        print(f'{row["name"]:38} {fmt(base["p50"]):>13} {fmt(base["p99"]):>10} '
              f'{fmt(ours["p50"]):>12} {fmt(ours["p99"]):>10} {ratio:>8}')
    print()
    print('Baselines: SkyPilot upstream get_cpu_count/get_mem_size_gb/'
          'get_parallel_threads; psutil.Process(pid).create_time() == ct;')
    print('psutil.Process(pid).wait() for a non-child.  Per-call timings, '
          'timer overhead removed; wait rows: monotonic ns from just')
    print("before the parent's waitpid() reaps to the wait returning "
          '(wait_for_exit uses a local pidfd; the second wait row is the')
    print("daemon's exit notification, for comparison).")
    if json_path:
        with open(json_path, 'w', encoding='utf-8') as f:
            json.dump({'rows': rows, 'backend': info,
                       'loadavg': os.getloadavg()}, f, indent=1)


if __name__ == '__main__':
    main()
