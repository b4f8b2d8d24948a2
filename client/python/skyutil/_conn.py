"""One Unix-socket connection to skyutild: bytes in, msgpack messages out.

The socket is non-blocking and every wait goes through ``poll`` with an
explicit timeout.  A blocking socket with ``settimeout`` would share one
timeout between a thread sending and a thread receiving; here each side
passes its own deadline, so a reader blocked for notifications never
shortens or stretches a sender's timeout.
"""

import errno
import math
import os
import select
import socket
import threading
import time
from typing import Any, List, Optional

import msgpack

from skyutil import errors

# Largest reply we buffer.  A proc.status reply for max_batch (200 000)
# entries is ~30 MB; anything beyond this is a broken or hostile peer.
_MAX_BUFFER = 256 * 1024 * 1024
_RECV_SIZE = 256 * 1024
_DRAIN_READS = 16


def _poll_ms(timeout: Optional[float]) -> int:
    """Converts seconds to poll()'s milliseconds, rounding up.

    Rounding down would turn a 0.4 ms remainder into a busy 0 ms poll.
    """
    if timeout is None:
        return -1
    return max(0, math.ceil(timeout * 1000))


class Connection:
    """A connected socket plus its streaming unpacker.

    Sending is serialised by an internal lock.  Receiving is not: the owner
    (``Client``) guarantees one reader at a time, because the unpacker's
    buffer and the read poll object must not be shared.
    """

    def __init__(self, path: str, connect_timeout: float) -> None:
        self.path = path
        self.pid = os.getpid()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(connect_timeout)
            sock.connect(path)
            sock.setblocking(False)
        except socket.timeout as exc:
            sock.close()
            raise errors.DaemonUnavailable(
                f'connecting to {path} timed out') from exc
        except OSError as exc:
            sock.close()
            raise errors.DaemonUnavailable(
                f'cannot connect to {path}: {exc.strerror or exc}') from exc
        self._sock = sock
        self._fd = sock.fileno()
        self._unpacker = msgpack.Unpacker(raw=False,
                                          max_buffer_size=_MAX_BUFFER)
        self._send_lock = threading.Lock()
        self._read_poll = select.poll()
        self._read_poll.register(self._fd, select.POLLIN)
        self._write_poll = select.poll()
        self._write_poll.register(self._fd, select.POLLOUT)
        self.closed = False

    def fileno(self) -> int:
        return self._fd

    def send(self, data: bytes, timeout: Optional[float]) -> None:
        """Writes all of ``data`` or raises.

        Raises ``Timeout`` when the daemon does not drain its socket in
        time; the stream then holds a partial message, so the caller must
        drop this connection.  ``BrokenPipeError``/``ConnectionError`` mean
        the peer is gone and nothing was processed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        view = memoryview(data)
        with self._send_lock:
            while view:
                try:
                    sent = self._sock.send(view)
                except BlockingIOError:
                    remaining = (None if deadline is None else
                                 deadline - time.monotonic())
                    if remaining is not None and remaining <= 0:
                        raise errors.Timeout(
                            f'sending to {self.path} timed out') from None
                    self._write_poll.poll(_poll_ms(remaining))
                    continue
                view = view[sent:]

    def recv(self, timeout: Optional[float]) -> List[Any]:
        """Waits up to ``timeout`` for data and returns the complete messages.

        Returns an empty list on timeout or when only part of a message
        arrived.  Raises ``ConnectionError`` at end of stream and
        ``errors.DaemonUnavailable`` for input that is not msgpack.
        """
        if not self._read_poll.poll(_poll_ms(timeout)):
            return []
        self._read_available(1)
        return self._messages()

    def drain(self) -> List[Any]:
        """Reads what is available now, without blocking.

        Bounded to a few receive buffers per call so an event-loop callback
        cannot be starved by a daemon that keeps talking.
        """
        self._read_available(_DRAIN_READS)
        return self._messages()

    def _read_available(self, max_reads: int) -> None:
        for _ in range(max_reads):
            try:
                data = self._sock.recv(_RECV_SIZE)
            except BlockingIOError:
                return
            if not data:
                raise ConnectionResetError(errno.ECONNRESET,
                                           'daemon closed the connection')
            try:
                self._unpacker.feed(data)
            except msgpack.BufferFull as exc:
                raise errors.DaemonUnavailable(
                    f'reply from {self.path} exceeds {_MAX_BUFFER} bytes'
                ) from exc

    def _messages(self) -> List[Any]:
        try:
            return list(self._unpacker)
        except (ValueError, msgpack.UnpackException) as exc:
            raise errors.DaemonUnavailable(
                f'undecodable data from {self.path}: {exc}') from exc

    def close(self, wake_readers: bool = True) -> None:
        """Closes the socket.

        ``wake_readers`` shuts the socket down first so a thread blocked in
        poll() returns; a forked child must pass False, because shutdown()
        would also cut the parent's connection, which shares the socket.
        """
        if self.closed:
            return
        self.closed = True
        if wake_readers:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._sock.close()
