"""File and port helpers, drop-in for ``sky.utils.common_utils``.

Local I/O only: the daemon would have to open the same file or bind the
same port, so a round trip could only add latency.  Semantics, errors and
defaults are SkyPilot upstream's.
"""

import hashlib
import os
import socket
from typing import List


def read_last_n_lines(file_path: str, n: int, chunk_size: int = 8192,
                      encoding: str = 'utf-8',
                      errors: str = 'replace') -> List[str]:
    """Returns the last ``n`` lines of a file.

    Lines are split on ``b'\\n'`` only, a trailing ``'\\r'`` is stripped,
    and every line but the last keeps its ``'\\n'`` (the last never has
    one, even when the file ends with a newline).  Reads backwards in
    ``chunk_size`` pieces, so a large log costs only its tail.

    Raises ``AssertionError`` for ``n < 0``, ``chunk_size <= 0`` or a
    missing file, and ``RuntimeError`` for any other ``OSError``, exactly
    as upstream does.
    """
    assert n >= 0, f'n must be non-negative. Got {n}'
    assert chunk_size > 0, f'chunk_size must be positive. Got {chunk_size}'
    assert os.path.exists(file_path), f'File not found: {file_path}'
    if n == 0:
        return []
    try:
        with open(file_path, 'rb') as f:
            pos = f.seek(0, os.SEEK_END)
            if pos == 0:
                return []
            newlines = 0
            chunks = []
            # n + 1 newlines guarantee the oldest wanted line is complete.
            while pos > 0 and newlines <= n:
                size = min(chunk_size, pos)
                pos -= size
                f.seek(pos)
                chunk = f.read(size)
                chunks.append(chunk)
                newlines += chunk.count(b'\n')
    except OSError as e:
        raise RuntimeError(
            f'Failed to read last {n} lines from {file_path}: {e}') from e
    lines = b''.join(reversed(chunks)).split(b'\n')
    if lines[-1] == b'':
        selected = lines[-n - 1:-1]
    else:
        selected = lines[-n:]
    decoded = [
        line.decode(encoding, errors=errors).rstrip('\r') + '\n'
        for line in selected[:-1]
    ]
    decoded.append(selected[-1].decode(encoding, errors=errors).rstrip('\r'))
    return decoded


def hash_file(path: str, hash_alg: str) -> 'hashlib._Hash':
    """Hashes a file in 256 KiB pieces and returns the hashlib object.

    Callers use ``.hexdigest()`` (catalog checks) or ``.digest()`` (config
    hashes), so the object, not a string, is returned.  Any algorithm
    ``hashlib.new`` knows is accepted; others raise ``ValueError``.
    """
    with open(path, 'rb') as f:
        file_hash = hashlib.new(hash_alg)
        buf = bytearray(2**18)
        view = memoryview(buf)
        while True:
            size = f.readinto(buf)
            if size == 0:
                break
            file_hash.update(view[:size])
        return file_hash


def find_free_port(start_port: int) -> int:
    """Returns the first port from ``start_port`` (below 65535) that binds.

    Binds all interfaces without ``SO_REUSEADDR``, so a port in TIME_WAIT
    is not reported free.  The port is released before returning: another
    process may take it first.  Raises ``OSError('No free ports
    available.')``, and ``ValueError`` for ``start_port < 1``: upstream
    "finds" port 0 (binding it always succeeds) and fails with
    ``OverflowError`` below that.
    """
    if start_port < 1:
        raise ValueError(f'start_port must be at least 1, got {start_port}')
    for port in range(start_port, 65535):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(('', port))
                return port
            except OSError:
                pass
    raise OSError('No free ports available.')
