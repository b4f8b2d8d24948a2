#!/usr/bin/python3
"""The Python side of the benchmark: skyutil against what SkyPilot runs today.

    bench_python.py facts --socket S [--quick]
    bench_python.py alive --socket S --pids-file F [--quick]
    bench_python.py wait --socket S [--quick]
    bench_python.py helpers --helpers-bin B [--quick]

Each prints one JSON object.  Times are nanoseconds per call.  Mostly a
sample is the mean of a batch of calls (the per-call cost of the fast paths
is near the clock's resolution), and both sides of a comparison use the same
batch; get_parallel_threads() is timed call by call with the timer's own
cost removed, and the waits from a reap to the waiter's return.  The
baselines are SkyPilot's upstream code (skypilot_baseline.py).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, 'helpers'))

import skypilot_baseline as upstream  # noqa: E402


def samples(fn: Callable[[], object], rounds: int, batch: int) -> List[float]:
    """rounds samples of the mean ns per call over batch calls (after one warm call)."""
    fn()
    out = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        t0 = clock()
        for _ in range(batch):
            fn()
        out.append((clock() - t0) / batch)
    return out


def stats(values: List[float]) -> Dict[str, float]:
    ordered = sorted(values)
    rank = max(1, -(-99 * len(ordered) // 100))
    return {'n': len(ordered), 'median_ns': statistics.median(ordered),
            'p99_ns': ordered[rank - 1], 'mean_ns': statistics.fmean(ordered),
            'min_ns': ordered[0], 'max_ns': ordered[-1]}


def timer_overhead() -> int:
    """Median ns between two back-to-back clock reads."""
    clock = time.perf_counter_ns
    out = []
    for _ in range(2000):
        t0 = clock()
        out.append(clock() - t0)
    return int(statistics.median(out))


def per_call(fn: Callable[[], object], n: int, overhead: int) -> List[float]:
    """n single calls (after up to 200 warm ones), ns each with the timer's cost removed."""
    clock = time.perf_counter_ns
    for _ in range(min(200, n)):
        fn()
    out = []
    for _ in range(n):
        t0 = clock()
        fn()
        out.append(max(0, clock() - t0 - overhead))
    return out


def interleave(cases: Dict[str, Tuple[Callable[[], object], int]],
               rounds: int) -> Dict[str, Dict[str, float]]:
    """Runs the cases in alternation, one sample each per round, so drift hits all alike."""
    got: Dict[str, List[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (fn, batch) in cases.items():
            got[name] += samples(fn, 1, batch)
    return {name: stats(v) for name, v in got.items()}


def fallback_cached(rounds: int) -> Dict:
    """The helpers as shipped with no daemon: the pure-Python answer, kept 1 s.

    A second comparison for rows 3g-3i: that cache is up to a second stale
    (a cgroup change is seen within a second, as with the daemon), so it is
    what the daemon's pushed cache replaces when one runs.
    """
    import skyutil
    from skyutil import _backend
    os.environ['SKYUTIL_DISABLE_DAEMON'] = '1'
    _backend.reset()
    try:
        assert skyutil.backend_info()['backend'] == 'python'
        got = interleave({
            'fallback_cpu_count': (skyutil.get_cpu_count, 1000),
            'fallback_mem_size_gb': (skyutil.get_mem_size_gb, 1000),
            'fallback_parallel_threads': (skyutil.get_parallel_threads, 1000),
        }, rounds)
    finally:
        del os.environ['SKYUTIL_DISABLE_DAEMON']
        _backend.reset()
    assert skyutil.backend_info()['backend'] == 'daemon'
    return got


def cmd_facts(opts) -> Dict:
    os.environ['SKYUTILD_SOCKET'] = opts.socket
    import skyutil
    info = skyutil.backend_info()
    if info['backend'] != 'daemon':
        raise SystemExit(f'skyutil does not use the daemon: {info["reason"]}')
    from skyutil import _facts_py, helpers
    client = skyutil.Client(opts.socket)
    rounds = 30 if opts.quick else 200

    # skyutil's own pure-Python path, what a call costs with no daemon when
    # the answer must be current: the same cgroup-aware walk the fallback
    # runs (it keeps the result 1 s, timed below as fallback_*).
    def pure_cpu_count():
        return _facts_py.compute_facts()['cpu_count_floor']

    def pure_mem_size_gb():
        return _facts_py.compute_facts()['mem_effective_bytes'] / 2**30

    def pure_parallel_threads():
        return helpers.parallel_threads_for(pure_cpu_count(), None)

    res = interleave({
        'skyutil_cpu_count': (skyutil.get_cpu_count, 1000),
        'skyutil_mem_size_gb': (skyutil.get_mem_size_gb, 1000),
        'client_facts_get': (client.facts, 10),
        'upstream_cpu_count': (upstream.get_cpu_count, 100),
        'upstream_mem_size_gb': (upstream.get_mem_size_gb, 100),
        'pure_cpu_count': (pure_cpu_count, 5),
        'pure_mem_size_gb': (pure_mem_size_gb, 5),
        'pure_parallel_threads': (pure_parallel_threads, 5),
    }, rounds)
    client.close()
    # Single calls, the two sides one after the other, as client/python's
    # benchmark did before it joined this suite.
    n = 3000 if opts.quick else 30000
    overhead = timer_overhead()
    res['skyutil_parallel_threads'] = stats(per_call(skyutil.get_parallel_threads, n,
                                                     overhead))
    res['upstream_parallel_threads'] = stats(per_call(upstream.get_parallel_threads, n,
                                                      overhead))
    res['timer_overhead_ns'] = overhead
    res.update(fallback_cached(rounds))
    res['values'] = {
        'pure_cpu_count': pure_cpu_count(),
        'pure_mem_size_gb': pure_mem_size_gb(),
        'pure_parallel_threads': pure_parallel_threads(),
        'skyutil_cpu_count': skyutil.get_cpu_count(),
        'upstream_cpu_count': upstream.get_cpu_count(),
        'skyutil_mem_size_gb': skyutil.get_mem_size_gb(),
        'upstream_mem_size_gb': upstream.get_mem_size_gb(),
        'skyutil_parallel_threads': skyutil.get_parallel_threads(),
        'upstream_parallel_threads': upstream.get_parallel_threads(),
    }
    return res


def cmd_alive(opts) -> Dict:
    import psutil
    os.environ['SKYUTILD_SOCKET'] = opts.socket
    import skyutil
    with open(opts.pids_file, encoding='ascii') as f:
        pids = [int(line) for line in f if line.strip()]
    procs = [(pid, psutil.Process(pid).create_time()) for pid in pids]
    pid, ctime = procs[0]
    # The first call reads /proc and starts a watch in the background; wait until the
    # answer comes from the watched-pid cache, the state being measured.
    deadline = time.monotonic() + 5
    while True:
        assert skyutil.is_process_alive(pid, ctime)
        link = skyutil._backend._state.link  # pylint: disable=protected-access
        if link is not None and pid in link.watched:
            break
        if time.monotonic() > deadline:
            raise SystemExit('skyutil never watched the pid: is the daemon up?')
        time.sleep(0.01)
    assert upstream.psutil_process_alive(pid, ctime)
    assert all(skyutil.are_processes_alive(procs))
    assert all(upstream.psutil_process_alive(p, c) for p, c in procs)
    rounds = 20 if opts.quick else 100
    single = interleave({
        'skyutil_watched': (lambda: skyutil.is_process_alive(pid, ctime), 1000),
        'psutil_create_time': (lambda: upstream.psutil_process_alive(pid, ctime), 100),
    }, rounds)
    batch_rounds = 3 if opts.quick else 7
    batch = interleave({
        'skyutil_batch': (lambda: skyutil.are_processes_alive(procs), 1),
        'psutil_loop': (lambda: [upstream.psutil_process_alive(p, c) for p, c in procs], 1),
    }, batch_rounds)
    return {'pids': len(procs), **single, **batch}


# A parent that forks a child per 'go', waits for its exit without reaping,
# stamps CLOCK_MONOTONIC, then reaps: the stamp precedes the reap, so no
# waiter woken by the reap can return "before" it.  The child is not ours
# (it is the reaper's), as for SkyPilot waiting on a controller or job.
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
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    stamp = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    os.waitpid(pid, 0)
    print(stamp, flush=True)
'''


def reap_latency(wait: Callable[[int], object], rounds: int) -> List[float]:
    """ns from a non-child's reap (by its parent) until wait(pid) returns."""
    reaper = subprocess.Popen([sys.executable, '-c', _REAPER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
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


def cmd_wait(opts) -> Dict:
    os.environ['SKYUTILD_SOCKET'] = opts.socket
    import skyutil
    rounds = 10 if opts.quick else 60
    res = {
        'psutil_wait': stats(reap_latency(upstream.psutil_wait, rounds)),
        'skyutil_wait_for_exit': stats(reap_latency(skyutil.wait_for_exit, rounds)),
    }
    with skyutil.Client(opts.socket) as client:
        res['client_watch'] = stats(reap_latency(lambda pid: client.watch(pid).wait(10),
                                                 rounds))
    return res


HELPER_CASES = [
    # name, upstream call, skyutil call, bench-helpers op, args, batch (quick, full)
    ('base36_encode 32 hex digits', 'base36_encode', ('f' * 32,), 'base36', ('f' * 32,),
     (1000, 20000)),
    ('format_float 1234.5678, 2', 'format_float', (1234.5678, 2), 'format_float',
     ('1234.5678', '2'), (1000, 20000)),
    ('truncate_long_string 176 chars, 35', 'truncate_long_string',
     ('the quick brown fox jumps over the lazy dog ' * 4, 35), 'truncate',
     ('the quick brown fox jumps over the lazy dog ' * 4, '35', '0'), (1000, 20000)),
]


def cmd_helpers(opts) -> Dict:
    import bench_helpers as bh  # bench/helpers/bench_helpers.py: upstream code + C driver
    import skyutil
    rows = []
    size = (8 << 20) if opts.quick else (256 << 20)
    repeat = 3 if opts.quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, 'bench.log')
        bh.make_log(log, size)
        label = f'{size >> 20} MiB'
        io_cases = [
            (f'hash_file sha256, {label}', lambda: bh.hash_file(log, 'sha256').hexdigest(),
             lambda: skyutil.hash_file(log, 'sha256').hexdigest(),
             ('hash', 1, log, 'sha256')),
            (f'read_last_n_lines 1000, {label}', lambda: bh.read_last_n_lines(log, 1000),
             lambda: skyutil.read_last_n_lines(log, 1000), ('tail', 20, log, '1000')),
        ]
        assert io_cases[1][1]() == io_cases[1][2]()
        for name, up_fn, sky_fn, (op, batch, *args) in io_cases:
            rows.append(_helper_row(bh, opts.helpers_bin, name, up_fn, sky_fn, op, batch,
                                    args, repeat))
    for name, fn_name, py_args, op, c_args, batches in HELPER_CASES:
        up_fn = getattr(bh, fn_name)
        sky_fn = getattr(skyutil, fn_name)
        assert up_fn(*py_args) == sky_fn(*py_args), name
        batch = batches[0] if opts.quick else batches[1]
        rows.append(_helper_row(bh, opts.helpers_bin, name,
                                lambda f=up_fn, a=py_args: f(*a),
                                lambda f=sky_fn, a=py_args: f(*a), op, batch, c_args,
                                repeat))
    return {'rows': rows}


def _helper_row(bh, binary, name, up_fn, sky_fn, op, batch, args, repeat) -> Dict:
    return {
        'name': name,
        'upstream': stats(bh.time_python(up_fn, repeat, batch)),
        'skyutil_python': stats(bh.time_python(sky_fn, repeat, batch)),
        'c': stats(bh.time_c(binary, op, repeat, batch, *args)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('what', choices=('facts', 'alive', 'wait', 'helpers'))
    parser.add_argument('--socket')
    parser.add_argument('--pids-file')
    parser.add_argument('--helpers-bin')
    parser.add_argument('--quick', action='store_true')
    opts = parser.parse_args()
    result = {'facts': cmd_facts, 'alive': cmd_alive, 'wait': cmd_wait,
              'helpers': cmd_helpers}[opts.what](opts)
    print(json.dumps({'mode': f'python-{opts.what}', **result}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
