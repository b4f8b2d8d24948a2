"""skyutil: client of the skyutild daemon and drop-in SkyPilot helpers.

``skyutil.Client`` speaks the daemon's msgpack-rpc protocol
(docs/protocol.md).  The module-level helpers (``get_cpu_count()``,
``is_process_alive()`` ...) use the daemon when one answers and fall back
to pure Python otherwise; ``backend_info()`` tells which serves what.
"""

from typing import Any, Dict

from skyutil import _backend
from skyutil._handles import PendingCall, Watch
from skyutil._socket_path import resolve_socket_path
from skyutil.client import Client
from skyutil.errors import (BadRequest, DaemonUnavailable, InternalError,
                            InvalidArgument, NoSuchProcess, PermissionDenied,
                            PidReused, ResourceExhausted, SkyutilError,
                            Timeout, TooLarge, Unavailable, UnknownMethod)
from skyutil.helpers import (are_processes_alive, base36_encode, find_free_port,
                             format_float, get_cpu_count, get_max_workers_for_file_mounts,
                             get_mem_size_gb, get_parallel_threads, hash_file,
                             is_process_alive, kill_children_processes,
                             read_last_n_lines, truncate_long_string,
                             wait_for_exit)

__version__ = '0.1.0'


def backend_info() -> Dict[str, Any]:
    """Says which backend (daemon, python, env) serves each function, why.

    Connects to the daemon if it is time to try, so the answer reflects
    what the next call would use.
    """
    return _backend.info()


__all__ = [
    'Client', 'Watch', 'PendingCall', 'resolve_socket_path', 'backend_info',
    'SkyutilError', 'BadRequest', 'UnknownMethod', 'InvalidArgument',
    'PermissionDenied', 'NoSuchProcess', 'PidReused', 'ResourceExhausted',
    'TooLarge', 'Unavailable', 'InternalError', 'DaemonUnavailable', 'Timeout',
    'get_cpu_count', 'get_mem_size_gb', 'get_parallel_threads',
    'get_max_workers_for_file_mounts', 'read_last_n_lines', 'hash_file',
    'find_free_port', 'base36_encode', 'format_float', 'truncate_long_string',
    'kill_children_processes', 'is_process_alive', 'are_processes_alive',
    'wait_for_exit',
]
