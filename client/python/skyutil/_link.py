"""The library's own connection to skyutild, kept warm for the helpers.

A socket round trip costs ~55 µs while the helpers it serves must cost
~1 µs, so nothing on the hot path talks to the daemon.  Instead one
connection carries

* a ``facts.subscribe`` whose facts are cached and replaced when a
  ``facts.changed`` notification arrives, and
* ``proc.watch`` subscriptions for recently asked-about pids, whose
  liveness is cached and flipped by ``proc.exiting`` (sent at the exit,
  zombie or not) and whose exit code arrives with ``proc.exited`` (sent
  once the parent has reaped),

and a daemon thread blocked reading that connection applies the
notifications.  When the connection dies, the owner is told and drops the
link: without notifications the caches cannot be trusted.

A daemon that stops answering without closing the connection (SIGSTOP,
a deadlock, a hung host) sends no notification either, so silence alone
would leave the caches frozen.  The reader thread therefore pings every
``PING_INTERVAL`` seconds; a ping left unanswered for ``PING_TIMEOUT``
ends the link exactly as a closed connection does.  A cached answer is
thus served at most about ``PING_INTERVAL + PING_TIMEOUT`` (1 s) after
the daemon last answered, without any round trip on the callers' path.
"""

import collections
import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from skyutil import errors
from skyutil._handles import Callback
from skyutil.client import Client

logger = logging.getLogger('skyutil')

WATCH_CAP = 4096
# Heartbeat: a ping is sent every PING_INTERVAL; one unanswered after
# PING_TIMEOUT (plus the time the daemon was told to expect work) ends
# the link.
PING_INTERVAL = 0.5
PING_TIMEOUT = 0.5
# Before declaring the daemon dead, read for this long what may already
# have arrived: this thread may itself have been starved of CPU (or the
# whole process stopped) while the reply sat in the socket.
_LATE_READ = 0.05
# Reading and decoding time per proc.status entry, as
# Client.proc_status allows for it.
_STATUS_PER_ENTRY = 2e-5


def _watch_params(pid: int, start_time: int) -> Dict[str, Any]:
    # exiting: hear of the exit at once, not only when the parent reaps
    # (which may be seconds later, or never): a zombie is not alive.
    return {'pid': pid, 'start_time': start_time, 'exiting': True}


def _usable(facts: Any) -> bool:
    """True if ``facts`` carries what the cached helpers read."""
    return (isinstance(facts, dict) and
            isinstance(facts.get('cpu_count'), int) and
            isinstance(facts.get('mem_effective_bytes'), int))


class Watched:
    """What the link knows about one watched (pid, start_time)."""

    __slots__ = ('start_time', 'create_time', 'alive', 'ended', 'watch_id',
                 'exit_code', 'signal', 'event', 'lost')

    def __init__(self, reply: Dict[str, Any], start_time: int,
                 create_time: float) -> None:
        self.start_time = (start_time if reply.get('start_time') is None
                           else reply['start_time'])
        self.create_time = (create_time if reply.get('create_time') is None
                            else reply['create_time'])
        self.watch_id = reply.get('watch_id')
        # alive: running (a zombie is not); ended: no exit event is to come, so
        # exit_code/signal are final.
        self.alive = bool(reply.get('alive')) and self.watch_id is not None
        self.ended = self.watch_id is None
        self.exit_code = reply.get('exit_code')
        self.signal = reply.get('signal')
        self.event: Optional[threading.Event] = None
        self.lost = False

    def returncode(self) -> Optional[int]:
        """``Popen.returncode`` style: the exit code, or -signal."""
        if self.signal:
            return -self.signal
        return self.exit_code


class Link:
    """One subscribed connection plus the thread that reads it."""

    def __init__(self, socket_path: str, timeout: float,
                 on_lost: Callable[['Link', errors.SkyutilError], None]) -> None:
        """Connects, subscribes and starts the reader, within ``timeout``.

        Raises ``SkyutilError`` (DaemonUnavailable, Timeout, ...) when the
        daemon does not answer in time.
        """
        deadline = time.monotonic() + timeout
        self.client = Client(socket_path, timeout=timeout, reconnect=False)
        self._on_lost = on_lost
        try:
            self.client.fileno()  # connect now; the reply gets the rest
            reply = self.client.call(
                'facts.subscribe',
                timeout=max(0.0, deadline - time.monotonic()))
            if not isinstance(reply, dict) or not _usable(reply.get('facts')):
                raise errors.InternalError(
                    f'malformed facts.subscribe reply: {reply!r:.200}')
        except BaseException:
            self.client.close()
            raise
        self.subscription_id = reply.get('subscription_id')
        self.facts: Dict[str, Any] = reply['facts']
        self.watched: 'collections.OrderedDict[int, Watched]' = (
            collections.OrderedDict())
        self._by_watch_id: Dict[int, int] = {}
        self._pending: Dict[int, int] = {}
        self._unwatch_backlog: List[int] = []
        self._lock = threading.Lock()
        self.cap = WATCH_CAP
        # dead: the reader stopped; no exit will be reported any more.
        self.dead = False
        self._ping = None  # the unanswered heartbeat ping, if any
        self._ping_sent = 0.0
        self._ping_due = 0.0
        self._next_ping = time.monotonic() + PING_INTERVAL
        self._busy_until = 0.0
        threading.Thread(target=self._read_events, name='skyutil-events',
                         daemon=True).start()

    @property
    def server_info(self) -> Optional[Dict[str, Any]]:
        return self.client.server_info

    def close(self) -> None:
        self.client.close()

    # --------------------------------------------------------- reader

    def _read_events(self) -> None:
        failure: errors.SkyutilError = errors.DaemonUnavailable(
            'event reader stopped')
        try:
            while True:
                event = self.client.next_event(self._heartbeat())
                if event is not None:
                    self._apply(event)
        except errors.SkyutilError as exc:
            failure = exc
        except Exception as exc:  # pylint: disable=broad-except
            logger.exception('skyutil: event reader failed')
            failure = errors.InternalError(f'event reader failed: {exc}')
        self._release_waiters()
        self._on_lost(self, failure)

    def _apply(self, event: Any) -> None:
        method, params = event
        if method == 'facts.changed':
            self._on_facts_changed(params)
        elif method == 'proc.exiting':
            self._on_exiting(params)
        elif method == 'proc.exited':
            self._on_exited(params)

    def _heartbeat(self) -> float:
        """Pings when due; returns how long the reader may wait now.

        Raises ``Timeout`` when the previous ping went unanswered: the
        daemon is stopped or stuck, and the caches must not be served.
        """
        now = time.monotonic()
        ping = self._ping
        if ping is not None and ping.done():
            # Any reply, even an error, proves the daemon is serving us.
            ping = self._ping = None
        if ping is None:
            if now < self._next_ping:
                return self._next_ping - now
            # Paced from the send, so a stop right after an answer is
            # noticed PING_INTERVAL + PING_TIMEOUT later at the latest.
            self._next_ping = now + PING_INTERVAL
            ping = self._ping = self.client._request(  # pylint: disable=protected-access
                'ping', {})
            self._ping_sent = now
            self._ping_due = now + PING_TIMEOUT
        with self._lock:
            due = max(self._ping_due, self._busy_until + PING_TIMEOUT)
        if now < due:
            return due - now
        end = time.monotonic() + _LATE_READ
        while not ping.done():
            remaining = end - time.monotonic()
            if remaining <= 0:
                waited = time.monotonic() - self._ping_sent
                raise errors.Timeout(
                    f'skyutild at {self.client.socket_path} did not answer '
                    f'a ping within {waited:.2g} s (stopped or stuck?)')
            event = self.client.next_event(remaining)
            if event is not None:
                self._apply(event)
        return 0.0

    def expect_work(self, seconds: float) -> None:
        """Gives the heartbeat ``seconds`` more for a long request.

        The daemon answers a ping between the slices of a big batch, but
        once the batch's reply is written, a later ping's reply queues
        behind it: megabytes this process must read and decode first.
        """
        until = time.monotonic() + seconds
        with self._lock:
            self._busy_until = max(self._busy_until, until)

    def proc_status(self, pids: List[int],
                    fields: Any) -> List[Dict[str, Any]]:
        """``proc.status`` on the link, announced to the heartbeat."""
        self.expect_work(len(pids) * _STATUS_PER_ENTRY)
        return self.client.proc_status(pids, fields)

    def _on_facts_changed(self, params: Dict[str, Any]) -> None:
        facts = params.get('facts')
        if params.get('subscription_id') == self.subscription_id:
            if _usable(facts):
                self.facts = facts
            else:
                logger.debug('skyutil: ignoring malformed facts.changed %r',
                             params)

    def _on_exiting(self, params: Dict[str, Any]) -> None:
        with self._lock:
            pid = self._by_watch_id.get(params.get('watch_id'))
            entry = None if pid is None else self.watched.get(pid)
            if entry is not None and entry.watch_id == params.get('watch_id'):
                entry.alive = False

    def _on_exited(self, params: Dict[str, Any]) -> None:
        with self._lock:
            watch_id = params.get('watch_id')
            pid = self._by_watch_id.pop(watch_id, None)
            entry = None if pid is None else self.watched.get(pid)
            if entry is None or entry.watch_id != watch_id:
                return
            entry.alive = False
            entry.ended = True
            entry.watch_id = None
            entry.exit_code = params.get('exit_code')
            entry.signal = params.get('signal')
            event = entry.event
        if event is not None:
            event.set()

    def _release_waiters(self) -> None:
        """Wakes wait_exit callers: no exit will be reported any more."""
        with self._lock:
            self.dead = True
            entries = list(self.watched.values())
        for entry in entries:
            entry.lost = True
            if entry.event is not None:
                entry.event.set()

    # --------------------------------------------------------- watches

    def watch_async(self, pid: int, start_time: int,
                    create_time: float) -> None:
        """Starts watching (pid, start_time) without waiting for the reply.

        Until the reply arrives callers keep reading /proc; the reply (the
        state at registration time, so no exit can be missed) installs
        the cache entry.
        """
        with self._lock:
            if pid in self._pending or len(self._pending) >= self.cap:
                return
            self._pending[pid] = start_time
        self._flush_unwatch_backlog()
        try:
            self.client._request(  # pylint: disable=protected-access
                'proc.watch', _watch_params(pid, start_time),
                lambda exc, res: self._install(pid, start_time, create_time,
                                               exc, res))
        except errors.SkyutilError:
            with self._lock:
                self._pending.pop(pid, None)

    def watch_sync(self, pid: int, start_time: int, create_time: float,
                   timeout: float) -> Optional[Watched]:
        """Watches and waits for the reply; None if the process is gone."""
        self._flush_unwatch_backlog()
        call = self.client._request(  # pylint: disable=protected-access
            'proc.watch', _watch_params(pid, start_time),
            lambda exc, res: self._install(pid, start_time, create_time,
                                           exc, res))
        try:
            call.result(timeout)
        except errors.NoSuchProcess:
            return None
        with self._lock:
            entry = self.watched.get(pid)
        return entry if entry is not None and entry.start_time == start_time else None

    def _install(self, pid: int, start_time: int, create_time: float,
                 error: Optional[errors.SkyutilError],
                 reply: Any) -> Optional[List[Callback]]:
        """Reply hook of proc.watch (client lock held, dispatch order)."""
        with self._lock:
            if self._pending.get(pid) == start_time:
                del self._pending[pid]
            if error is not None or not isinstance(reply, dict):
                if isinstance(error, errors.ResourceExhausted):
                    # The daemon's budget is full: stop asking until our
                    # own entries are evicted.
                    self.cap = max(1, len(self.watched))
                return None
            entry = Watched(reply, start_time, create_time)
            old = self.watched.pop(pid, None)
            if old is not None:
                self._drop(old)
            self.watched[pid] = entry
            if entry.watch_id is not None:
                self._by_watch_id[entry.watch_id] = pid
            while len(self.watched) > self.cap:
                self._drop(self.watched.popitem(last=False)[1])
        return None

    def _drop(self, entry: Watched) -> None:
        """Unwatches an entry leaving the cache (lock held).

        Its exit will not be reported any more, so a waiter is woken to
        wait locally instead.
        """
        if entry.watch_id is not None:
            self._by_watch_id.pop(entry.watch_id, None)
            self._unwatch_backlog.append(entry.watch_id)
        if not entry.ended:
            entry.lost = True
            if entry.event is not None:
                entry.event.set()

    def _flush_unwatch_backlog(self) -> None:
        """Sends the unwatches that reply hooks could not send themselves."""
        with self._lock:
            backlog, self._unwatch_backlog = self._unwatch_backlog, []
        for watch_id in backlog:
            try:
                self.client._request(  # pylint: disable=protected-access
                    'proc.unwatch', {'watch_id': watch_id})
            except errors.SkyutilError:
                return

    def wait_exit(self, entry: Watched,
                  timeout: Optional[float]) -> Optional[int]:
        """Blocks until ``entry`` exits; returns its returncode.

        Raises ``TimeoutError``, or ``DaemonUnavailable`` when the link died
        first (the caller then waits locally).
        """
        with self._lock:
            if self.dead and not entry.ended:
                # The reader already released its waiters: nobody would
                # wake this one.
                entry.lost = True
            elif not entry.ended and not entry.lost and entry.event is None:
                entry.event = threading.Event()
            event = entry.event
        if not entry.ended and not entry.lost and not event.wait(timeout):
            raise TimeoutError(f'process still running after {timeout}s')
        if entry.lost and not entry.ended:
            raise errors.DaemonUnavailable('no longer watched: daemon '
                                           'connection lost or entry evicted')
        return entry.returncode()
