"""Which backend answers the helpers, and the fast paths that use it.

* The daemon when one answers: facts and watched pids come from the
  :class:`~skyutil._link.Link` caches, so a repeated ``get_cpu_count()`` is
  an attribute read and a dict lookup.
* Pure Python otherwise (or with ``SKYUTIL_DISABLE_DAEMON=1``): the same
  cgroup algorithm in process (results kept one second, the daemon's own
  staleness bound) and /proc or pidfds for processes.

Nothing waits on a dead or stuck daemon for long: connecting and
subscribing share one 0.25 s budget, after which the pure-Python answer is
returned and one warning is logged.  Reconnection is retried in the
background of later calls with exponential back-off (0.5 s up to 30 s),
so a restarted daemon is picked up again.  A daemon that freezes after
the link is up is caught by the link's heartbeat (``_link.PING_TIMEOUT``):
the link is dropped like a closed one, so its caches stop being served
within about a second.

Forks: the state is rebuilt in the child by ``os.register_at_fork``, which
is cheaper on the hot path than comparing ``os.getpid()`` on every call;
the parent's connection and thread are never touched by the child.
"""

import errno
import logging
import os
import signal as signal_module
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from skyutil import _facts_py, _proc_kill, _proc_py, _proc_wait, errors
from skyutil._link import Link
from skyutil._socket_path import resolve_socket_path

logger = logging.getLogger('skyutil')

CONNECT_BUDGET = 0.25
PY_FACTS_TTL = 1.0
RETRY_MIN = 0.5
RETRY_MAX = 30.0
# Fallback headroom for kill_tree replies after the grace period.
_KILL_REPLY_SLACK = _proc_kill.KILL_WAIT + 1.0

ProcItem = Union[int, Tuple[int, Optional[float]]]


class _State:
    """Everything that must be rebuilt after fork()."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Read from the environment on first use, not at import, so a
        # program may configure skyutil after importing it.
        self.socket_path: Optional[str] = None
        self.disabled = False
        self.link: Optional[Link] = None
        self.py_facts: Optional[Dict[str, Any]] = None
        self.py_facts_at = 0.0
        self.retry_at = 0.0
        self.retry_delay = RETRY_MIN
        self.reason = 'not connected yet'
        self.outage_logged = False

    def _configure(self) -> None:
        self.socket_path = resolve_socket_path()
        self.disabled = os.environ.get('SKYUTIL_DISABLE_DAEMON', '') == '1'
        if self.disabled:
            self.reason = 'disabled by SKYUTIL_DISABLE_DAEMON=1'

    def ensure_link(self) -> Optional[Link]:
        """Returns the live link, trying to (re)connect when it is time."""
        link = self.link
        if link is not None:
            return link
        if self.socket_path is None:
            self._configure()
        if self.disabled or time.monotonic() < self.retry_at:
            return None
        with self.lock:
            if self.link is not None or time.monotonic() < self.retry_at:
                return self.link
            try:
                link = Link(self.socket_path, CONNECT_BUDGET, self.link_lost)
            except errors.SkyutilError as exc:
                self._fallback(exc)
                return None
            self.link = link
            self.retry_delay = RETRY_MIN
            if self.outage_logged:
                logger.info('skyutil: skyutild at %s is back; using it again',
                            self.socket_path)
            self.outage_logged = False
            self.reason = f'skyutild answered at {self.socket_path}'
            return link

    def _fallback(self, exc: errors.SkyutilError) -> None:
        """Records a failed attempt (lock held) and schedules the next."""
        self.reason = f'skyutild unavailable: {exc}'
        self.retry_at = time.monotonic() + self.retry_delay
        self.retry_delay = min(self.retry_delay * 2, RETRY_MAX)
        if self.outage_logged:
            return
        self.outage_logged = True
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno == errno.ENOENT:
            logger.info('skyutil: no skyutild socket at %s; using the '
                        'pure-Python backend', self.socket_path)
        else:
            logger.warning('skyutil: %s; using the pure-Python backend',
                           self.reason)

    def link_lost(self, link: Link, exc: errors.SkyutilError) -> None:
        """Called by the link's reader thread when its connection ends."""
        with self.lock:
            if self.link is not link:
                return
            self.link = None
            self._fallback(exc)
            if not isinstance(exc, errors.Timeout):
                # Closed: the daemon may come straight back (restart), so
                # retry at once.  A stuck one (Timeout) would only make the
                # next call wait out the connect budget: back off instead.
                self.retry_at = time.monotonic()
        link.close()

    def python_facts(self) -> Dict[str, Any]:
        now = time.monotonic()
        facts = self.py_facts
        if facts is None or now - self.py_facts_at > PY_FACTS_TTL:
            facts = _facts_py.compute_facts()
            self.py_facts, self.py_facts_at = facts, now
        return facts


_state = _State()


def reset() -> None:
    """Forgets the backend choice (re-reads the environment); for tests."""
    global _state
    old, _state = _state, _State()
    with old.lock:
        link, old.link = old.link, None  # so link_lost stays quiet
    if link is not None:
        link.close()


def _reset_in_child() -> None:
    """Runs in a forked child: drop (never shut down) the parent's link."""
    global _state
    inherited, _state = _state.link, _State()
    if inherited is not None:
        # The child's copy of the socket would otherwise keep the parent's
        # subscription alive in the daemon after the parent closed it.
        inherited.client._check_fork()  # pylint: disable=protected-access


os.register_at_fork(after_in_child=_reset_in_child)


# ------------------------------------------------------------------ facts


def facts() -> Dict[str, Any]:
    """The current facts map: cached daemon facts, or computed locally."""
    link = _state.link
    if link is not None:
        return link.facts
    state = _state
    link = state.ensure_link()
    if link is not None:
        return link.facts
    return state.python_facts()


# -------------------------------------------------------------- processes


def process_alive(pid: int, create_time: Optional[float]) -> bool:
    """Alive = exists, not a zombie, and (if given) started at create_time."""
    link = _state.link
    if link is not None:
        entry = link.watched.get(pid)
        if entry is not None:
            if entry.alive:
                try:
                    link.watched.move_to_end(pid)
                except KeyError:
                    pass
                return (create_time is None or
                        abs(entry.create_time - create_time) <=
                        _proc_py.CREATE_TIME_TOLERANCE)
            if (create_time is not None and
                    abs(entry.create_time - create_time) <=
                    _proc_py.CREATE_TIME_TOLERANCE):
                return False
    return _process_alive_slow(pid, create_time)


def _process_alive_slow(pid: int, create_time: Optional[float]) -> bool:
    """First sight of a pid: read /proc now, and watch it for next time."""
    stat = _proc_py.read_stat(pid)
    if stat is None or stat.state in 'ZXx':
        return False
    started = _proc_py.create_time_of(stat.start_time)
    if create_time is not None and not _proc_py.same_instant(started,
                                                             create_time):
        return False
    link = _state.ensure_link()
    if link is not None:
        link.watch_async(pid, stat.start_time, started)
    return True


# Liveness and identity only: the daemon serves these from its pidfd cache.
_ALIVE_FIELDS = ('alive', 'create_time')


def processes_alive(items: Sequence[ProcItem]) -> List[bool]:
    """Batch liveness: one ``proc.status`` request, or /proc per pid."""
    pids: List[int] = []
    times: List[Optional[float]] = []
    for item in items:
        pid, create_time = item if isinstance(item, tuple) else (item, None)
        pids.append(_checked_pid(pid))
        times.append(create_time)
    link = _state.ensure_link()
    if link is not None:
        try:
            entries = link.proc_status(pids, _ALIVE_FIELDS)
        except errors.SkyutilError as exc:
            logger.debug('skyutil: proc.status failed (%s); reading /proc',
                         exc)
        else:
            return [_entry_alive(entry, ct) for entry, ct in zip(entries, times)]
    return [_proc_py.is_alive(pid, ct) for pid, ct in zip(pids, times)]


def _entry_alive(entry: Dict[str, Any], create_time: Optional[float]) -> bool:
    if not entry.get('alive'):
        return False
    return create_time is None or (
        entry.get('create_time') is not None and
        _proc_py.same_instant(entry['create_time'], create_time))


def _checked_pid(pid: Any) -> int:
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise TypeError(f'pid must be an int, not {type(pid).__name__}')
    if pid <= 0:
        raise ValueError(f'pid must be positive, got {pid}')
    return pid


def wait_for_exit(pid: int, create_time: Optional[float],
                  timeout: Optional[float]) -> Optional[int]:
    """Waits for the process to end and returns its returncode (or None).

    A local pidfd comes first even with a daemon: the kernel wakes this
    process directly at the exit (and, for non-children, at the reap), so
    a daemon hop could only add latency, and the exit status is governed
    by the same kernel and ownership rules either way.  The daemon serves
    what a pidfd cannot: waiting where pidfds are unavailable, and exits
    it recorded for processes already gone when we ask.
    """
    stat = _proc_py.read_stat(pid)
    if stat is None:
        return _remembered_exit(pid, create_time)
    started = _proc_py.create_time_of(stat.start_time)
    if create_time is not None and not _proc_py.same_instant(started,
                                                             create_time):
        return _remembered_exit(pid, create_time)
    try:
        return _proc_wait.wait_pidfd(pid, started, timeout)
    except _proc_wait.PidfdUnavailable:
        pass
    deadline = None if timeout is None else time.monotonic() + timeout
    link = _state.ensure_link()
    if link is not None and stat.ppid != os.getpid():
        try:
            entry = link.watched.get(pid)
            if entry is None or entry.start_time != stat.start_time:
                entry = link.watch_sync(pid, stat.start_time, started,
                                        CONNECT_BUDGET)
            if entry is None:
                return None
            return link.wait_exit(entry, timeout)
        except errors.SkyutilError as exc:
            logger.debug('skyutil: watch failed (%s); polling /proc', exc)
    remaining = None if deadline is None else max(0.0,
                                                  deadline - time.monotonic())
    return _proc_wait.wait_polling(pid, started, remaining)


def _remembered_exit(pid: int, create_time: Optional[float]) -> Optional[int]:
    """The returncode of a process already gone, if the daemon saw it end.

    Our own watch cache is checked first (no round trip), then the daemon's
    record of recent exits.
    """
    link = _state.link
    if link is None:
        return None
    entry = link.watched.get(pid)
    if entry is not None and (
            create_time is None or
            _proc_py.same_instant(entry.create_time, create_time)):
        if entry.ended:
            return entry.returncode()
        # Reaped, but proc.exited (sent at the reap) may still be on its
        # way: /proc can show the reap before the daemon's event arrives.
        try:
            return link.wait_exit(entry, CONNECT_BUDGET)
        except (TimeoutError, errors.SkyutilError):
            pass
    try:
        status, = link.client.proc_status([pid])
    except errors.SkyutilError:
        return None
    if status.get('state') != 'gone':
        return None
    if create_time is not None and not (
            status.get('create_time') is not None and
            _proc_py.same_instant(status['create_time'], create_time)):
        return None
    if status.get('signal'):
        return -status['signal']
    return status.get('exit_code')


def kill_tree(pid: int, force: bool, grace_s: float,
              include_root: bool) -> Dict[str, List[int]]:
    """``proc.kill_tree`` through the daemon, or the local equivalent."""
    link = _state.ensure_link()
    if link is not None:
        try:
            return link.client.call(
                'proc.kill_tree', pid=pid, signal='KILL' if force else 'TERM',
                grace_s=float(grace_s), include_root=include_root,
                timeout=grace_s + _KILL_REPLY_SLACK)
        except (errors.DaemonUnavailable, errors.Timeout, errors.UnknownMethod,
                errors.Unavailable, errors.InternalError) as exc:
            logger.debug('skyutil: kill_tree via daemon failed (%s); '
                         'killing locally', exc)
    sig = signal_module.SIGKILL if force else signal_module.SIGTERM
    return _proc_kill.kill_tree(pid, None, sig, grace_s, include_root)


# ------------------------------------------------------------------- info


_PURE = ('pure computation: a round trip would cost more than the work')
_LOCAL_IO = ('local I/O: the daemon would do the same syscalls, plus a '
             'round trip')
_ENV_OVERRIDES = {
    'get_cpu_count': ('SKYPILOT_POD_CPU_CORE_LIMIT',),
    'get_mem_size_gb': ('SKYPILOT_POD_MEMORY_GB_LIMIT',
                        'SKYPILOT_POD_MEMORY_BYTES_LIMIT'),
    'get_parallel_threads': ('SKYPILOT_POD_CPU_CORE_LIMIT',),
    'get_max_workers_for_file_mounts': ('SKYPILOT_POD_CPU_CORE_LIMIT',),
}


def info() -> Dict[str, Any]:
    """Which backend serves each public function, and why."""
    state = _state
    link = state.ensure_link()
    daemon = link is not None
    server = link.server_info if daemon else None
    functions: Dict[str, Dict[str, str]] = {}
    facts_why = ('facts cached from facts.subscribe on a dedicated '
                 'connection, refreshed by facts.changed' if daemon else
                 f'cgroup walk in process, kept {PY_FACTS_TTL:g} s '
                 f'({state.reason})')
    for name in ('get_cpu_count', 'get_mem_size_gb', 'get_parallel_threads',
                 'get_max_workers_for_file_mounts'):
        overrides = [v for v in _ENV_OVERRIDES[name] if v in os.environ]
        if overrides:
            functions[name] = {'backend': 'env',
                               'why': f'{overrides[0]} is set'}
        else:
            functions[name] = {'backend': 'daemon' if daemon else 'python',
                               'why': facts_why}
    process_rows = {
        'is_process_alive': (
            'watched pids answer from a cache flipped by proc.exiting; a new '
            'pid is read from /proc once and then watched',
            '/proc/<pid>/stat on every call'),
        'are_processes_alive': ('one proc.status request per batch',
                                '/proc/<pid>/stat per pid'),
        'wait_for_exit': (
            'local pidfd (the kernel wakes us directly; a daemon hop only '
            'adds latency); the daemon for exits it recorded and where '
            'pidfds are unavailable',
            'pidfd poll + waitid(WNOWAIT) or PIDFD_GET_INFO'),
        'kill_children_processes': ('proc.kill_tree',
                                    'pidfd-pinned tree kill in process'),
    }
    for name, (with_daemon, without) in process_rows.items():
        functions[name] = ({'backend': 'daemon', 'why': with_daemon}
                           if daemon else
                           {'backend': 'python',
                            'why': f'{without} ({state.reason})'})
    for name in ('base36_encode', 'format_float', 'truncate_long_string'):
        functions[name] = {'backend': 'python', 'why': _PURE}
    for name in ('read_last_n_lines', 'hash_file', 'find_free_port'):
        functions[name] = {'backend': 'python', 'why': _LOCAL_IO}
    return {
        'backend': 'daemon' if daemon else 'python',
        'reason': state.reason,
        'socket_path': state.socket_path,
        'daemon': None if server is None else {
            k: server.get(k) for k in ('server', 'version', 'proto', 'pid')},
        'functions': functions,
    }
