#!/usr/bin/python3
"""Run every benchmark of skyutild in one go and report it as one table.

    run_bench.py --build-dir BUILD [--quick] [--out DIR]

Starts its own daemon on a temporary socket, runs the C programs (bench-rpc,
bench-client, bench-helpers) and the Python ones (bench_python.py) against
it, counts the daemon's instructions per request under callgrind, and
writes DIR/results.json and DIR/results.md (DIR defaults to BUILD/bench).
Every comparison is measured in the same run as the figure it is compared
with.  Ratios read "higher is better": the comparison's time over ours, or
our rate over the comparison's.  Nothing here asserts a speed; --quick is
the short mode CI runs to check that everything still works.
"""

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterator, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import report  # noqa: E402

# (quick, full) parameters.
PARAMS = {
    'rtt_rounds': (3, 10), 'rtt_per_round': (300, 2000),
    'pipe_ms': (150, 1000), 'pipe_rounds': (2, 5),
    'facts_rounds': (3, 10), 'facts_per_round': (200, 2000),
    'status_pids': (500, 10000), 'status_rounds': (3, 10),
    'exit_n': (100, 1000),
    # Row 6: watch_n watches over at most watch_procs processes (fewer when the daemon's fd
    # budget holds fewer: it keeps one pidfd per process, shared by all its watches).
    'watch_n': (1000, 50000), 'watch_procs': (400, 50000), 'watch_k': (20, 200),
    'idle_ms': (500, 5000),
    'cg_n': (200, 5000),
}
PIPE_CONFIGS = [(1, 256), (16, 32), (256, 4)]  # connections, requests in flight on each
PID_MAX_WIDE = 4194304
# Descriptors skyutild keeps out of its watch budget: 64 + --max-connections (1024) for
# connections and its own files, and half as many again for kill trees (daemon/proc/proc.c).
DAEMON_FD_RESERVE = (64 + 1024) * 3 // 2


def run_json(cmd: List[str], timeout: float, env: Optional[Dict[str, str]] = None) -> Dict:
    """Runs a benchmark program and returns the JSON object it printed last."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd[:3])} failed ({proc.returncode}):\n'
                           f'{proc.stderr.strip()}')
    lines = [line for line in proc.stdout.splitlines() if line.startswith('{')]
    if not lines:
        raise RuntimeError(f'{" ".join(cmd[:3])} printed no result:\n{proc.stdout}')
    return json.loads(lines[-1])


def wait_for_socket(path: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f'daemon exited with {proc.returncode} before listening')
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(path)
                return
            except OSError:
                time.sleep(0.02)
    raise RuntimeError(f'no daemon listening on {path} after {timeout} s')


def raise_nofile(want: int) -> int:
    """Raise our NOFILE limit (inherited by the daemon) towards want; returns the soft limit.

    Raising the hard limit needs CAP_SYS_RESOURCE, which containers often drop: then the
    hard limit is what the daemon gets, and fewer watches fit (one pidfd each).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (OSError, ValueError):
            pass
    soft = hard if hard == resource.RLIM_INFINITY else max(soft, min(hard, want))
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


@contextlib.contextmanager
def daemon(cmd: List[str], sock: str, log_path: str,
           start_timeout: float = 10) -> Iterator[subprocess.Popen]:
    with open(log_path, 'ab') as log:
        proc = subprocess.Popen(cmd + ['--socket', sock], stdout=log, stderr=log)
    try:
        wait_for_socket(sock, proc, start_timeout)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def spawned(binary: str, n: int) -> Iterator[List[int]]:
    """n idle processes (bench-client spawn); killed and reaped on exit."""
    proc = subprocess.Popen([binary, 'spawn', str(n)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    pids: List[int] = []
    try:
        for line in proc.stdout:
            line = line.strip()
            if line == 'ready':
                break
            if line == 'failed':
                raise RuntimeError(f'could not fork {n} processes')
            pids.append(int(line))
        yield pids
    finally:
        proc.stdin.close()
        proc.wait(timeout=120)


@contextlib.contextmanager
def pid_room(needed: int, notes: List[str]) -> Iterator[None]:
    """Widen kernel.pid_max for the duration when it cannot hold `needed` more processes."""
    path = '/proc/sys/kernel/pid_max'
    with open(path, encoding='ascii') as f:
        old = int(f.read())
    if old >= needed + 8192 or os.geteuid() != 0:
        yield
        return
    with open(path, 'w', encoding='ascii') as f:
        f.write(str(PID_MAX_WIDE))
    notes.append(f'kernel.pid_max raised from {old} to {PID_MAX_WIDE} for the '
                 f'{needed}-watch run, then restored')
    try:
        yield
    finally:
        with open(path, 'w', encoding='ascii') as f:
            f.write(str(old))


def task_cpu_ns(pid: int) -> int:
    total = 0
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/schedstat', encoding='ascii') as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def machine() -> Dict[str, Any]:
    model = ''
    with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
        for line in f:
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    with open('/proc/meminfo', encoding='ascii') as f:
        mem_kib = int(f.readline().split()[1])
    return {
        'nproc': os.cpu_count(),
        'affinity': len(os.sched_getaffinity(0)),
        'kernel': platform.release(),
        'cpu_model': model,
        'mem_gib': round(mem_kib / 1024**2, 1),
        'python': platform.python_version(),
        'virtualized': os.path.exists('/sys/hypervisor') or 'hypervisor' in open(
            '/proc/cpuinfo', encoding='utf-8', errors='replace').read(),
    }


class Runner:
    def __init__(self, opts) -> None:
        self.opts = opts
        self.quick = opts.quick
        b = opts.build_dir
        self.daemon_bin = os.path.join(b, 'daemon', 'skyutild')
        self.rpc = os.path.join(b, 'bench', 'bench-rpc')
        self.client = os.path.join(b, 'bench', 'bench-client')
        self.helpers = os.path.join(b, 'bench', 'helpers', 'bench-helpers')
        self.tmp = tempfile.mkdtemp(prefix='skyutil-bench-')
        self.sock = os.path.join(self.tmp, 'skyutild.sock')
        self.log = os.path.join(opts.out, 'daemon.log')
        self.notes: List[str] = []
        self.raw: Dict[str, Any] = {}
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [os.path.join(SRCDIR, 'client', 'python')] +
            ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
        env.pop('SKYUTIL_DISABLE_DAEMON', None)
        for var in ('SKYPILOT_POD_CPU_CORE_LIMIT', 'SKYPILOT_POD_MEMORY_GB_LIMIT',
                    'SKYPILOT_POD_MEMORY_BYTES_LIMIT'):
            env.pop(var, None)
        self.env = env

    def p(self, name: str) -> int:
        return PARAMS[name][0 if self.quick else 1]

    def step(self, name: str) -> None:
        print(f'[bench] {name}', file=sys.stderr, flush=True)

    def python(self, *args: str, timeout: float = 600) -> Dict:
        cmd = ['/usr/bin/python3', os.path.join(HERE, 'bench_python.py'), *args]
        if self.quick:
            cmd.append('--quick')
        return run_json(cmd, timeout, self.env)

    def run(self) -> Dict[str, Any]:
        try:
            self.watch_procs = self.watch_process_count()
            with pid_room(self.watch_procs, self.notes), \
                    daemon([self.daemon_bin], self.sock, self.log) as d:
                self.daemon_pid = d.pid
                self.idle_no_clients()
                self.rtt()
                self.pipeline()
                self.facts()
                self.alive()
                self.exits()
                self.watch_load()
            self.helpers_row()
            self.callgrind()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return self.raw

    def watch_process_count(self) -> int:
        """Processes row 6 spreads its watches over: as many as asked, or as the fd budget holds.

        The daemon holds one pidfd per watched process, however many watches share it, so
        the fd limit bounds the processes, not the watches.
        """
        want = min(self.p('watch_procs'), self.p('watch_n'))
        nofile = raise_nofile(want + DAEMON_FD_RESERVE + 1024)
        fit = nofile - DAEMON_FD_RESERVE - 256
        if fit >= want:
            return want
        n = self.p('watch_n')
        self.notes.append(
            f'row 6: {n} watches on {want} processes would need {want + DAEMON_FD_RESERVE} '
            f'file descriptors (one pidfd per process); the hard RLIMIT_NOFILE here is '
            f'{nofile} and cannot be raised (no CAP_SYS_RESOURCE), so the {n} watches are '
            f'spread over {fit} processes, {n // fit}-{-(-n // fit)} watches each (every '
            f'proc.watch call is a watch of its own, with its own watch_id and proc.exited)')
        return fit

    def idle_no_clients(self) -> None:
        self.step('idle daemon')
        ms = self.p('idle_ms')
        cpu0 = task_cpu_ns(self.daemon_pid)
        time.sleep(ms / 1000)
        self.raw['idle'] = {'idle_ms': ms, 'cpu_ns': task_cpu_ns(self.daemon_pid) - cpu0}

    def rtt(self) -> None:
        for placement in ('same', 'split'):
            self.step(f'round trips ({placement} CPU)')
            self.raw[f'rtt_{placement}'] = run_json(
                [self.rpc, 'rtt', self.sock, str(self.p('rtt_rounds')),
                 str(self.p('rtt_per_round')), str(self.daemon_pid), placement], 300)

    def pipeline(self) -> None:
        for conns, window in PIPE_CONFIGS:
            self.step(f'pipelined pings, {conns} connection(s)')
            self.raw[f'pipe_{conns}'] = run_json(
                [self.rpc, 'pipeline', self.sock, str(conns), str(window),
                 str(self.p('pipe_ms')), str(self.p('pipe_rounds')), str(self.daemon_pid)],
                300)

    def facts(self) -> None:
        self.step('facts from C')
        self.raw['facts_c'] = run_json(
            [self.client, 'facts', self.sock, str(self.p('facts_rounds')),
             str(self.p('facts_per_round'))], 300)
        self.step('facts from Python vs SkyPilot')
        self.raw['facts_py'] = self.python('facts', '--socket', self.sock)

    def alive(self) -> None:
        n = self.p('status_pids')
        self.step(f'liveness of {n} processes')
        with spawned(self.client, n) as pids:
            pids_file = os.path.join(self.tmp, 'pids')
            with open(pids_file, 'w', encoding='ascii') as f:
                f.write(''.join(f'{pid}\n' for pid in pids))
            self.raw['status_c'] = run_json(
                [self.client, 'status', self.sock, pids_file, str(self.p('status_rounds'))],
                600)
            self.raw['alive_py'] = self.python('alive', '--socket', self.sock,
                                               '--pids-file', pids_file)

    def exits(self) -> None:
        self.step('exit-event latency')
        self.raw['exit'] = run_json(
            [self.client, 'exit-latency', self.sock, str(self.p('exit_n'))], 300)
        self.step('waiting for an exit from Python vs psutil')
        self.raw['wait_py'] = self.python('wait', '--socket', self.sock)

    def watch_load(self) -> None:
        n, procs = self.p('watch_n'), self.watch_procs
        self.step(f'{n} watches on {procs} processes')
        self.raw['watch'] = run_json(
            [self.client, 'watch-load', self.sock, str(procs), str(n),
             str(min(self.p('watch_k'), procs)), str(self.p('idle_ms')),
             str(self.daemon_pid)], 900)

    def helpers_row(self) -> None:
        self.step('helpers')
        self.raw['helpers'] = self.python('helpers', '--helpers-bin', self.helpers)

    def callgrind(self) -> None:
        """Daemon instructions per request: (Ir with N requests - Ir with none) / N."""
        valgrind = shutil.which('valgrind')
        if valgrind is None:
            self.notes.append('callgrind skipped: valgrind is not installed')
            return
        with open(self.daemon_bin, 'rb') as f:
            if b'libasan.so' in f.read():
                self.notes.append('callgrind skipped: valgrind cannot run an '
                                  'AddressSanitizer build')
                return
        n = self.p('cg_n')
        loads = [('ping', 0), ('ping', n), ('pipeline', n), ('facts', n), ('status', n)]
        totals = {}
        for load, count in loads:
            self.step(f'callgrind: {count} x {load}')
            out = os.path.join(self.opts.out, f'callgrind.{load}.{count}.out')
            sock = os.path.join(self.tmp, 'cg.sock')
            cmd = [valgrind, '--tool=callgrind', f'--callgrind-out-file={out}',
                   self.daemon_bin]
            with daemon(cmd, sock, self.log, start_timeout=60):
                run_json([self.rpc, 'count', sock, load, str(count)], 600)
            totals[(load, count)] = callgrind_total(out)
        base = totals[('ping', 0)]
        self.raw['callgrind'] = {
            'n': n, 'baseline_ir': base,
            **{load: (totals[(load, n)] - base) / n for load, _ in loads[1:]},
        }
        annotate = shutil.which('callgrind_annotate')
        if annotate:
            top = subprocess.run([annotate, os.path.join(self.opts.out,
                                                         f'callgrind.ping.{n}.out')],
                                 capture_output=True, text=True, check=False).stdout
            with open(os.path.join(self.opts.out, 'callgrind-ping.txt'), 'w',
                      encoding='utf-8') as f:
                f.write(top)


def callgrind_total(path: str) -> int:
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            if line.startswith(('totals:', 'summary:')):
                return int(line.split()[1])
    raise RuntimeError(f'{path} has no totals line')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--build-dir', required=True)
    parser.add_argument('--out', help='where results go (default BUILD/bench)')
    parser.add_argument('--quick', action='store_true', help='short mode for CI')
    opts = parser.parse_args()
    opts.build_dir = os.path.abspath(opts.build_dir)
    opts.out = os.path.abspath(opts.out or os.path.join(opts.build_dir, 'bench'))
    os.makedirs(opts.out, exist_ok=True)
    started = time.time()
    runner = Runner(opts)
    raw = runner.run()
    result = {
        'version': 1,
        'mode': 'quick' if opts.quick else 'full',
        'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(started)),
        'duration_s': round(time.time() - started, 1),
        'machine': machine(),
        'notes': runner.notes,
        'rows': report.rows(raw),
        'raw': raw,
    }
    with open(os.path.join(opts.out, 'results.json'), 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=1)
        f.write('\n')
    markdown = report.markdown(result)
    with open(os.path.join(opts.out, 'results.md'), 'w', encoding='utf-8') as f:
        f.write(markdown)
    print(report.text_table(result))
    print(f'\nwritten: {opts.out}/results.json, {opts.out}/results.md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
