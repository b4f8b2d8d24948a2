"""``skyutil.Client``: a msgpack-rpc client for skyutild.

Design, in the order the requirements forced it:

* **Pipelining.** Every request gets a msgid and a :class:`PendingCall`;
  replies are matched by msgid, so any number of requests may be in flight
  and the daemon may answer out of order.
* **No reader thread.** Whoever waits reads: one thread at a time is the
  reader (``_reading``), the others sleep on the condition variable and are
  woken after each dispatch.  Notifications read while waiting for a reply
  are queued for :meth:`events`.  This keeps the client usable from an
  event loop (:meth:`fileno` + :meth:`process_events`) without a thread
  competing for the socket.
* **Timeouts.** Every wait has a deadline; nothing blocks forever unless
  the caller asks for it (``events()`` without a timeout).
* **Reconnect.** A request that finds the daemon gone (EPIPE: nothing was
  delivered) reconnects and is resent once.  Replies lost with a dying
  connection are reported as ``DaemonUnavailable``, never silently
  retried, because the request may already have acted.
* **Fork safety.** Each entry point compares ``os.getpid()`` with the pid
  that opened the socket; a forked child drops the inherited socket without
  shutting it down (that would cut the parent's connection) and opens its
  own.
"""

import collections
import logging
import math
import os
import threading
import time
from typing import Any, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import msgpack

from skyutil import errors
from skyutil._conn import Connection
from skyutil._handles import Callback, PendingCall, ReplyHook, Watch, fresh, run_callbacks
from skyutil._socket_path import resolve_socket_path

logger = logging.getLogger('skyutil')

CLIENT_NAME = 'skyutil-python'
PROTO = 1
_MSGID_LIMIT = 2**32
# Bytes kept free in a request for the envelope around a batch.
_ENVELOPE_SLACK = 1024

Event = Tuple[str, Dict[str, Any]]
ProcSpec = Union[int, Dict[str, int]]


class _PeerGone(errors.DaemonUnavailable):
    """The daemon was gone before a request was delivered: safe to resend."""


class Client:
    """A connection to skyutild, opened lazily on first use.

    ``timeout`` bounds each call (and the connect unless
    ``connect_timeout`` is given).  With ``reconnect=False`` a lost
    connection stays lost; the library's own cache uses that, because its
    subscriptions die with the connection.  ``max_events`` bounds the queue
    of notifications nobody consumed; older ones are dropped with a logged
    warning rather than growing without limit.
    """

    def __init__(self, socket_path: Optional[str] = None,
                 timeout: float = 5.0, *,
                 connect_timeout: Optional[float] = None,
                 reconnect: bool = True,
                 max_events: int = 100_000) -> None:
        self.socket_path = resolve_socket_path(socket_path)
        self.timeout = timeout
        self.connect_timeout = (timeout if connect_timeout is None else
                                connect_timeout)
        self.reconnect = reconnect
        self._max_events = max_events
        self._closed = False
        self._reset_state()

    # ----------------------------------------------------------- plumbing

    def _reset_state(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._conn: Optional[Connection] = None
        self._ever_connected = False
        self._lost: Optional[errors.SkyutilError] = None
        self._fatal: Optional[errors.SkyutilError] = None
        self._reading = False
        self._pending: Dict[int, PendingCall] = {}
        self._next_msgid = 0
        self._events: Deque[Event] = collections.deque()
        self._dropped_events = 0
        self._watches: Dict[int, Watch] = {}
        self._rearm: List[Watch] = []
        self.server_info: Optional[Dict[str, Any]] = None

    def _check_fork(self) -> None:
        """Gives a forked child its own state; never touches the parent's."""
        if self._pid == os.getpid():
            return
        inherited = self._conn
        watches = [w for w in (*self._watches.values(), *self._rearm)
                   if not w.done]
        self._reset_state()
        self._rearm = watches
        if inherited is not None:
            inherited.close(wake_readers=False)

    def _connection(self) -> Connection:
        """Returns the live connection, connecting (and re-arming) if needed."""
        with self._cond:
            if self._closed:
                raise errors.DaemonUnavailable('client is closed')
            if self._conn is not None:
                return self._conn
            if self._ever_connected and not self.reconnect:
                raise self._lost_error()
            conn = Connection(self.socket_path, self.connect_timeout)
            self._conn = conn
            self._ever_connected = True
            self._lost = None
            rearm, self._rearm = self._rearm, []
        self._greet(conn, rearm)
        return conn

    def _greet(self, conn: Connection, rearm: List[Watch]) -> None:
        """Pipelines ``hello`` and the re-armed watches on a new connection.

        Nothing waits for these replies here: the hook records them when
        whoever reads next dispatches them, so connecting costs no round
        trip.
        """
        self._send(conn, 'hello', {'client': CLIENT_NAME, 'proto': PROTO},
                   self._record_hello)
        for watch in rearm:
            params = {'pid': watch.pid}
            if watch.start_time is not None:
                params['start_time'] = watch.start_time
            self._send(conn, 'proc.watch', params,
                       lambda exc, res, w=watch: self._arm(w, exc, res, True))

    def _record_hello(self, error: Optional[errors.SkyutilError],
                      result: Any) -> None:
        if error is None and isinstance(result, dict):
            self.server_info = result

    def _lost_error(self) -> errors.SkyutilError:
        """What a caller gets once the connection is gone: always
        ``DaemonUnavailable``.  The error the daemon closed the connection
        with (``BAD_REQUEST``, ``TOO_LARGE``) went to the calls it failed;
        a watch or event reader on the same connection did nothing wrong
        and must see a lost connection, which it may re-establish."""
        lost = self._lost
        if lost is None:
            return errors.DaemonUnavailable(
                f'not connected to {self.socket_path}')
        if isinstance(lost, errors.DaemonUnavailable):
            return fresh(lost)
        return errors.DaemonUnavailable(
            f'{self.socket_path} closed the connection: {lost}')

    def _send(self, conn: Connection, method: str, params: Dict[str, Any],
              hook: Optional[ReplyHook] = None) -> PendingCall:
        """Registers and sends one request on ``conn``."""
        with self._cond:
            if conn is not self._conn:
                raise self._lost_error()
            self._next_msgid = self._next_msgid % (_MSGID_LIMIT - 1) + 1
            call = PendingCall(self, self._next_msgid, method, hook)
            self._pending[call.msgid] = call
        try:
            data = msgpack.packb([0, call.msgid, method,
                                  [params] if params else []],
                                 use_bin_type=True)
            limit = self._limit('max_message')
            if limit is not None and len(data) > limit:
                raise errors.TooLarge(f'{method} request is {len(data)} '
                                      f'bytes; the daemon accepts {limit}')
        except Exception:
            self._forget(call)
            raise
        try:
            conn.send(data, self.timeout)
        except errors.Timeout:
            self._lose(conn, errors.DaemonUnavailable(
                f'sending {method} to {self.socket_path} timed out'))
            raise
        except OSError as exc:
            self._lose(conn, errors.DaemonUnavailable(
                f'connection to {self.socket_path} lost: {exc}'))
            raise _PeerGone(f'{self.socket_path}: {exc}') from exc
        return call

    def _limit(self, name: str) -> Optional[int]:
        info = self.server_info
        limits = info.get('limits') if info else None
        value = limits.get(name) if isinstance(limits, dict) else None
        return value if isinstance(value, int) else None

    def _forget(self, call: PendingCall) -> None:
        """Drops a call nobody will wait for; its late reply is ignored."""
        with self._cond:
            self._pending.pop(call.msgid, None)

    def _forget_watch(self, watch: Watch) -> None:
        """Stops routing events to ``watch`` (client lock held)."""
        if watch.watch_id is not None:
            self._watches.pop(watch.watch_id, None)
        if watch in self._rearm:
            self._rearm.remove(watch)

    def _lose(self, conn: Connection, error: errors.SkyutilError) -> None:
        with self._cond:
            callbacks = self._lose_locked(conn, error)
        run_callbacks(callbacks)

    def _lose_locked(self, conn: Connection,
                     error: errors.SkyutilError) -> List[Callback]:
        """Retires ``conn``: fails its calls, parks its watches for re-arming.

        An error the daemon sent with msgid 0 just before closing (TOO_LARGE,
        BAD_REQUEST) is more useful than "connection lost", so it wins.
        """
        if self._conn is not conn:
            return []
        self._conn = None
        if self._fatal is not None:
            error, self._fatal = self._fatal, None
        self._lost = error
        conn.close()
        callbacks: List[Callback] = []
        for call in self._pending.values():
            callbacks += call._settle(fresh(error), None)  # pylint: disable=protected-access
        self._pending.clear()
        for watch in self._watches.values():
            if self.reconnect:
                self._rearm.append(watch)
            else:
                callbacks += watch._fail(fresh(error))  # pylint: disable=protected-access
        self._watches.clear()
        self._cond.notify_all()
        return callbacks

    def _pump_until(self, ready, deadline: Optional[float]) -> bool:
        """Reads and dispatches until ``ready()`` or the deadline.

        Returns ``ready()``.  Raises ``DaemonUnavailable`` when the
        connection is gone and ``ready()`` is still false.
        """
        with self._cond:
            while True:
                if ready():
                    return True
                conn = self._conn
                if conn is None:
                    raise self._lost_error()
                remaining = (None if deadline is None else
                             deadline - time.monotonic())
                if remaining is not None and remaining <= 0:
                    return False
                if self._reading:
                    self._cond.wait(remaining)
                    continue
                self._read_and_dispatch(conn, lambda: conn.recv(remaining))

    def _read_and_dispatch(self, conn: Connection, read) -> None:
        """Runs ``read()`` as the single reader, outside the lock.

        Called and returns with the lock held; user callbacks run with it
        released.
        """
        self._reading = True
        self._cond.release()
        failure: Optional[errors.SkyutilError] = None
        messages: List[Any] = []
        try:
            messages = read()
        except errors.DaemonUnavailable as exc:
            failure = exc
        except OSError as exc:
            failure = errors.DaemonUnavailable(
                f'connection to {self.socket_path} lost: {exc}')
        finally:
            self._cond.acquire()
            self._reading = False
        callbacks: List[Callback] = []
        for message in messages:
            callbacks += self._dispatch(message)
        if failure is not None:
            callbacks += self._lose_locked(conn, failure)
        self._cond.notify_all()
        if callbacks:
            self._cond.release()
            try:
                run_callbacks(callbacks)
            finally:
                self._cond.acquire()

    def _dispatch(self, message: Any) -> List[Callback]:
        """Routes one decoded message (client lock held)."""
        if not isinstance(message, list) or not message:
            return []
        if message[0] == 1 and len(message) == 4:
            _, msgid, error, result = message
            call = (self._pending.pop(msgid, None)
                    if isinstance(msgid, int) else None)
            if call is None:
                if error is not None and msgid == 0:
                    self._fatal = errors.from_wire(error)
                return []
            exc = None if error is None else errors.from_wire(error)
            return call._settle(exc, result)  # pylint: disable=protected-access
        if message[0] == 2 and len(message) == 3:
            _, method, params = message
            body = (params[0] if isinstance(params, list) and params and
                    isinstance(params[0], dict) else {})
            callbacks: List[Callback] = []
            if method == 'proc.exited':
                watch = self._watches.pop(body.get('watch_id'), None)
                if watch is not None:
                    callbacks = watch._finish(body)  # pylint: disable=protected-access
            self._queue_event((method, body))
            return callbacks
        return []

    def _queue_event(self, event: Event) -> None:
        if len(self._events) >= self._max_events:
            self._events.popleft()
            self._dropped_events += 1
            if self._dropped_events == 1 or self._dropped_events % 10000 == 0:
                logger.warning(
                    'skyutil: %d unconsumed notifications dropped; read '
                    'client.events() or client.process_events()',
                    self._dropped_events)
        self._events.append(event)

    def _arm(self, watch: Watch, error: Optional[errors.SkyutilError],
             result: Any, rearming: bool) -> List[Callback]:
        """Reply hook of ``proc.watch`` (client lock held).

        Runs in dispatch order, so the watch is registered before any
        ``proc.exited`` that follows its reply is routed.
        """
        callbacks: List[Callback] = []
        if error is not None:
            if not rearming:
                return callbacks
            if isinstance(error, errors.NoSuchProcess):
                callbacks = watch._finish(  # pylint: disable=protected-access
                    {'reason': 'exited while the daemon was unreachable'})
            else:
                callbacks = watch._fail(error)  # pylint: disable=protected-access
        elif isinstance(result, dict):
            watch.state = result
            if result.get('start_time') is not None:
                watch.start_time = result['start_time']
            watch_id = result.get('watch_id')
            if watch_id is None:
                callbacks = watch._finish(result)  # pylint: disable=protected-access
            else:
                watch.watch_id = watch_id
                self._watches[watch_id] = watch
        return callbacks

    # ------------------------------------------------------------- calls

    def submit(self, method: str, /, **params: Any) -> PendingCall:
        """Sends a request without waiting; see :class:`PendingCall`."""
        return self._request(method, params)

    def _request(self, method: str, params: Dict[str, Any],
                 hook: Optional[ReplyHook] = None) -> PendingCall:
        self._check_fork()
        for attempt in range(2):
            conn = self._connection()
            try:
                return self._send(conn, method, params, hook)
            except _PeerGone:
                if attempt or not self.reconnect:
                    raise
        raise AssertionError('unreachable')

    def call(self, method: str, /, *, timeout: Optional[float] = None,
             **params: Any) -> Any:
        """Calls ``method`` with named ``params`` and returns the result.

        ``timeout`` is the only reserved keyword (no protocol method has a
        parameter of that name).  On timeout the call is abandoned: a late
        reply is discarded.
        """
        return self._wait(self._request(method, params), timeout)

    def _wait(self, call: PendingCall, timeout: Optional[float]) -> Any:
        try:
            return call.result(timeout)
        except errors.Timeout:
            self._forget(call)
            raise

    # ------------------------------------------------------------ events

    def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """Returns the next notification, or None after ``timeout`` seconds.

        Notifications are delivered once, here or by
        :meth:`process_events`.  Raises ``DaemonUnavailable`` once the
        connection is lost and every queued notification was delivered:
        subscriptions die with the connection, so a silent reconnect would
        hide lost events.
        """
        self._check_fork()
        if not self._ever_connected:
            self._connection()
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._pump_until(lambda: bool(self._events), deadline):
            with self._cond:
                if self._events:
                    return self._events.popleft()
        return None

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Yields ``(method, params)`` notifications as they arrive.

        With ``timeout``, the iteration ends after that long without one.
        """
        while True:
            event = self.next_event(timeout)
            if event is None:
                return
            yield event

    def fileno(self) -> int:
        """The socket's descriptor, for ``loop.add_reader`` or select().

        Readable means :meth:`process_events` has work.  The descriptor
        changes after a reconnect; re-register it when ``process_events``
        raises ``DaemonUnavailable``.
        """
        self._check_fork()
        return self._connection().fileno()

    def process_events(self) -> List[Event]:
        """Reads whatever is available without blocking, dispatches it.

        Replies complete their :class:`PendingCall`, ``proc.exited``
        settles its :class:`Watch` (running callbacks), and all queued
        notifications are returned.  Raises ``DaemonUnavailable`` when the
        connection is gone and nothing is left to return.
        """
        self._check_fork()
        with self._cond:
            conn = self._conn
            if conn is not None and not self._reading:
                self._read_and_dispatch(conn, conn.drain)
            events = list(self._events)
            self._events.clear()
            if not events and self._conn is None:
                raise self._lost_error()
        return events

    def close(self) -> None:
        """Closes the connection; the client cannot be used afterwards."""
        self._check_fork()
        with self._cond:
            self._closed = True
            conn = self._conn
            callbacks = ([] if conn is None else self._lose_locked(
                conn, errors.DaemonUnavailable('client closed')))
        run_callbacks(callbacks)

    def __enter__(self) -> 'Client':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ---------------------------------------------------- protocol methods

    def hello(self) -> Dict[str, Any]:
        """``hello``: server name, version, methods and limits."""
        info = self.call('hello', client=CLIENT_NAME, proto=PROTO)
        self.server_info = info
        return info

    def ping(self) -> str:
        """``ping`` → ``"pong"``."""
        return self.call('ping')

    def facts(self, pid: Optional[int] = None) -> Dict[str, Any]:
        """``facts.get`` for the calling process or ``pid``."""
        return self.call('facts.get', **_present(pid=pid))

    def subscribe_facts(self, pid: Optional[int] = None) -> Dict[str, Any]:
        """``facts.subscribe`` → ``{subscription_id, facts}``.

        Later changes arrive as ``facts.changed`` events; the subscription
        ends with the connection.
        """
        return self.call('facts.subscribe', **_present(pid=pid))

    def unsubscribe_facts(self, subscription_id: int) -> bool:
        """``facts.unsubscribe``."""
        return self.call('facts.unsubscribe', subscription_id=subscription_id)

    def parallel_threads(self, cloud: Optional[str] = None) -> int:
        """``facts.parallel_threads``: ``max(4, cpu_count - 1)``, ×4 on k8s."""
        return self.call('facts.parallel_threads', **_present(cloud=cloud))

    def max_workers_for_file_mounts(self, fds_per_source: int,
                                    cloud: Optional[str] = None) -> int:
        """``facts.max_workers_for_file_mounts``."""
        return self.call('facts.max_workers_for_file_mounts',
                         fds_per_source=fds_per_source,
                         **_present(cloud=cloud))

    def proc_status(self, procs: Sequence[ProcSpec],
                    fields: Optional[Sequence[str]] = None
                    ) -> List[Dict[str, Any]]:
        """``proc.status`` for any number of processes, one entry each.

        ``fields`` limits each entry to those keys.  Without ``state``,
        ``ppid`` and ``uid`` the daemon answers live processes it was
        asked about before from memory (exact: it holds their pidfds), so
        repeated liveness checks of the same processes are cheap.

        Splits the batch when it exceeds the daemon's ``max_batch`` or
        ``max_message``, so callers need not know the limits.
        """
        procs = list(procs)
        if not procs:
            return []
        if self.server_info is None:
            self.hello()
        extra = {} if fields is None else {'fields': list(fields)}
        entries: List[Dict[str, Any]] = []
        for chunk in _chunks(procs, self._limit('max_batch'),
                             self._limit('max_message')):
            entries += self.call('proc.status', procs=chunk,
                                 timeout=self.timeout + len(chunk) * 2e-5,
                                 **extra)
        return entries

    def watch(self, pid: int, start_time: Optional[int] = None, *,
              timeout: Optional[float] = None) -> Watch:
        """``proc.watch``: returns a :class:`Watch` for the process.

        If the process is already gone the watch is returned finished, with
        whatever exit the daemon remembers.  Raises ``NoSuchProcess``/
        ``PidReused`` as the daemon reports them.
        """
        watch = Watch(self, pid, start_time)
        params = {'pid': pid, **_present(start_time=start_time)}
        call = self._request(
            'proc.watch', params,
            lambda exc, res: self._arm(watch, exc, res, False))
        self._wait(call, timeout)
        return watch

    def unwatch(self, watch_id: int) -> bool:
        """``proc.unwatch``."""
        return self.call('proc.unwatch', watch_id=watch_id)

    def children(self, pid: int, start_time: Optional[int] = None,
                 recursive: bool = False) -> List[Dict[str, Any]]:
        """``proc.children``: direct (or all) descendants."""
        return self.call('proc.children', pid=pid, recursive=recursive,
                         **_present(start_time=start_time))

    def kill_tree(self, pid: int, start_time: Optional[int] = None,
                  signal: Union[str, int] = 'TERM', grace_s: float = 10.0,
                  include_root: bool = True) -> Dict[str, List[int]]:
        """``proc.kill_tree``; waits until the whole tree is gone.

        The call's timeout is the grace period plus the client timeout,
        since the daemon answers only after the tree ended.
        """
        return self.call('proc.kill_tree', pid=pid, signal=signal,
                         grace_s=float(grace_s), include_root=include_root,
                         timeout=grace_s + self.timeout,
                         **_present(start_time=start_time))

    def guard(self, watch: Dict[str, int], target: Dict[str, int],
              grace_s: float = 10.0,
              signal: Union[str, int] = 'TERM') -> Optional[int]:
        """``proc.guard``: kill ``target``'s tree when ``watch`` exits.

        Returns the guard id; the guard outlives this connection.  None
        when ``watch`` had already ended: the kill started at once and
        there is nothing to unguard.
        """
        reply = self.call('proc.guard', watch=watch, target=target,
                          grace_s=float(grace_s), signal=signal)
        return reply['guard_id']

    def unguard(self, guard_id: int) -> bool:
        """``proc.unguard``."""
        return self.call('proc.unguard', guard_id=guard_id)

    def guards(self) -> List[Dict[str, Any]]:
        """``proc.guards``: the guards visible to this user."""
        return self.call('proc.guards')

    def metrics(self) -> str:
        """``daemon.metrics``: Prometheus text exposition."""
        return self.call('daemon.metrics')


def _present(**params: Any) -> Dict[str, Any]:
    """Drops unset optional arguments: the daemon rejects nil values."""
    return {k: v for k, v in params.items() if v is not None}


def _chunks(procs: List[ProcSpec], max_batch: Optional[int],
            max_message: Optional[int]) -> Iterator[List[ProcSpec]]:
    """Splits ``procs`` so each request fits both daemon limits."""
    size = max_batch or len(procs)
    if max_message is not None:
        packed = len(msgpack.packb(procs))
        budget = max(1, max_message - _ENVELOPE_SLACK)
        if packed > budget:
            pieces = math.ceil(packed / budget)
            size = min(size, max(1, len(procs) // pieces))
    for start in range(0, len(procs), size):
        yield procs[start:start + size]
