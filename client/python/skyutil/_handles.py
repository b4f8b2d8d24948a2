"""Objects a Client hands out for work that completes later.

``PendingCall`` is one request whose reply may still be in flight (it is
what makes pipelining explicit).  ``Watch`` is one ``proc.watch``
subscription.  Both are settled by the Client's dispatcher while it holds
its lock; user callbacks are returned from the settle methods so the
dispatcher can run them after releasing the lock, where they may safely
call back into the client.
"""

import logging
import time
from typing import Any, Callable, Dict, List, Optional, TYPE_CHECKING

from skyutil import errors

if TYPE_CHECKING:
    from skyutil.client import Client

logger = logging.getLogger('skyutil')

Callback = Callable[[], None]
# Internal reply hooks run under the client lock in dispatch order and may
# return callbacks to run once the lock is released.
ReplyHook = Callable[[Optional[errors.SkyutilError], Any],
                     Optional[List[Callback]]]


def run_callbacks(callbacks: List[Callback]) -> None:
    """Runs user callbacks; one failing callback must not starve the rest."""
    for callback in callbacks:
        try:
            callback()
        except Exception:  # pylint: disable=broad-except
            logger.exception('skyutil callback %r failed', callback)


def fresh(exc: errors.SkyutilError) -> errors.SkyutilError:
    """Copies a stored exception so each raise gets its own traceback."""
    return type(exc)(exc.message, name=exc.name, code=exc.code)


class PendingCall:
    """A request sent to the daemon whose reply may not have arrived yet.

    Returned by :meth:`Client.submit`.  Several can be outstanding on one
    connection; the daemon may answer them in any order.
    """

    def __init__(self, client: 'Client', msgid: int, method: str,
                 hook: Optional[ReplyHook]) -> None:
        self._client = client
        self.msgid = msgid
        self.method = method
        self._hook = hook
        self._done = False
        self._error: Optional[errors.SkyutilError] = None
        self._result: Any = None
        self._callbacks: List[Callable[['PendingCall'], None]] = []

    def done(self) -> bool:
        """True once a reply (or a connection failure) settled the call."""
        return self._done

    def result(self, timeout: Optional[float] = None) -> Any:
        """Waits for the reply and returns its result.

        ``timeout`` defaults to the client's timeout.  Raises the typed
        error the daemon returned, ``DaemonUnavailable`` when the
        connection was lost first, or ``Timeout``.  A timed-out call stays
        pending, so ``result`` may be called again.
        """
        self._client._check_fork()  # pylint: disable=protected-access
        limit = self._client.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        if not self._client._pump_until(lambda: self._done, deadline):  # pylint: disable=protected-access
            raise errors.Timeout(
                f'no reply to {self.method} within {limit:.3g}s')
        if self._error is not None:
            raise fresh(self._error)
        return self._result

    def add_done_callback(self, fn: Callable[['PendingCall'], None]) -> None:
        """Calls ``fn(self)`` once settled, from the thread that read it."""
        with self._client._cond:  # pylint: disable=protected-access
            if not self._done:
                self._callbacks.append(fn)
                return
        run_callbacks([lambda: fn(self)])

    def _settle(self, error: Optional[errors.SkyutilError],
                result: Any) -> List[Callback]:
        """Records the outcome (client lock held) and returns callbacks."""
        self._done = True
        self._error = error
        self._result = result
        callbacks: List[Callback] = []
        if self._hook is not None:
            callbacks += self._hook(error, result) or []
        return callbacks + [lambda fn=fn: fn(self) for fn in self._callbacks]


class Watch:
    """One watched process: wait for it, or be called back when it ends.

    ``exit_code``/``signal`` are filled when the daemon could learn them
    (see ``proc.exited`` in docs/protocol.md); ``reason`` says why not.
    """

    def __init__(self, client: 'Client', pid: int,
                 start_time: Optional[int]) -> None:
        self._client = client
        self.pid = pid
        self.start_time = start_time
        self.watch_id: Optional[int] = None
        self.state: Optional[Dict[str, Any]] = None
        self.exit_code: Optional[int] = None
        self.signal: Optional[int] = None
        self.core_dumped = False
        self.exited_at: Optional[float] = None
        self.reason: Optional[str] = None
        self.error: Optional[errors.SkyutilError] = None
        self._done = False
        self._callbacks: List[Callable[['Watch'], None]] = []

    @property
    def exited(self) -> bool:
        """True once the process is known to have ended."""
        return self._done and self.error is None

    @property
    def done(self) -> bool:
        """True once the process ended or the watch failed (see ``error``)."""
        return self._done

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until the process ends; False if ``timeout`` passed first.

        A lost connection is re-established and the watch re-armed (when
        the client reconnects), so a daemon restart is survived; raises
        ``DaemonUnavailable`` when the daemon stays unreachable and the
        error that made re-arming fail otherwise.
        """
        client = self._client
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            client._check_fork()  # pylint: disable=protected-access
            try:
                if not client._pump_until(lambda: self._done, deadline):  # pylint: disable=protected-access
                    return False
                break
            except errors.DaemonUnavailable:
                if self._done:
                    break
                if not client.reconnect:
                    raise
                client._connection()  # pylint: disable=protected-access
        if self.error is not None:
            raise fresh(self.error)
        return True

    def cancel(self) -> None:
        """Stops watching (``proc.unwatch``); a no-op once done."""
        client = self._client
        with client._cond:  # pylint: disable=protected-access
            watch_id = None if self._done else self.watch_id
            client._forget_watch(self)  # pylint: disable=protected-access
        if watch_id is not None:
            try:
                client.unwatch(watch_id)
            except errors.InvalidArgument:
                pass  # the exit raced the unwatch: the watch is gone anyway

    def add_done_callback(self, fn: Callable[['Watch'], None]) -> None:
        """Calls ``fn(self)`` when the process ends or the watch fails."""
        with self._client._cond:  # pylint: disable=protected-access
            if not self._done:
                self._callbacks.append(fn)
                return
        run_callbacks([lambda: fn(self)])

    def _finish(self, info: Dict[str, Any]) -> List[Callback]:
        """Records the exit from a ``proc.exited`` or a watch reply entry."""
        if self._done:
            return []
        self._done = True
        self.exit_code = info.get('exit_code')
        self.signal = info.get('signal')
        self.core_dumped = bool(info.get('core_dumped', False))
        self.exited_at = info.get('exited_at')
        self.reason = info.get('reason')
        return [lambda fn=fn: fn(self) for fn in self._callbacks]

    def _fail(self, error: errors.SkyutilError) -> List[Callback]:
        if self._done:
            return []
        self._done = True
        self.error = error
        return [lambda fn=fn: fn(self) for fn in self._callbacks]

    def __repr__(self) -> str:
        status = ('running' if not self._done else
                  f'failed: {self.error}' if self.error else
                  f'exited code={self.exit_code} signal={self.signal}')
        return f'<skyutil.Watch pid={self.pid} {status}>'
