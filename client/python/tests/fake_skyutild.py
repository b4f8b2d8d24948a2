#!/usr/bin/python3
"""A small skyutild stand-in speaking docs/protocol.md, for client tests.

The real daemon is C and may not be built where these tests run; this
process lets the client's mechanics (pipelining, notifications, timeouts,
reconnects, SIGKILL of the daemon) be tested everywhere.  It implements the
protocol methods with the client's own pure-Python code, so it is no
reference for the *values*: tests/test_daemon.py checks those against the
real daemon.

Extra methods, all under ``test.``, drive the edge cases:
``test.sleep {seconds}`` replies later without blocking other requests;
``test.push_facts {facts}`` sends ``facts.changed`` to every subscriber;
``test.error {name, code}`` replies with that error;
``test.drop`` closes the connection without replying.
``--stuck`` accepts connections and never answers.

Run: ``fake_skyutild.py --socket PATH [--stuck]``.
"""

import argparse
import os
import queue
import select
import selectors
import signal
import socket
import struct
import sys
import threading
import time

import msgpack

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

# pylint: disable=wrong-import-position
from skyutil import _facts_py, _proc_kill, _proc_py, _proc_wait  # noqa: E402

_REAP_GRACE = 1.0
_METHODS = ['hello', 'ping', 'facts.get', 'facts.subscribe',
            'facts.unsubscribe', 'facts.parallel_threads',
            'facts.max_workers_for_file_mounts', 'proc.status', 'proc.watch',
            'proc.unwatch', 'proc.children', 'proc.kill_tree', 'daemon.metrics']
_PARAMS = {
    'hello': {'client', 'proto'}, 'ping': set(), 'facts.get': {'pid'},
    'facts.subscribe': {'pid'}, 'facts.unsubscribe': {'subscription_id'},
    'facts.parallel_threads': {'cloud'},
    'facts.max_workers_for_file_mounts': {'fds_per_source', 'cloud'},
    'proc.status': {'procs'},
    'proc.watch': {'pid', 'start_time', 'exiting'},
    'proc.unwatch': {'watch_id'},
    'proc.children': {'pid', 'start_time', 'recursive'},
    'proc.kill_tree': {'pid', 'start_time', 'signal', 'grace_s',
                       'include_root'},
    'daemon.metrics': set(),
}
_ERRORS = {'BAD_REQUEST': 1, 'UNKNOWN_METHOD': 2, 'INVALID_ARGUMENT': 3,
           'PERMISSION_DENIED': 4, 'NO_SUCH_PROCESS': 5, 'PID_REUSED': 6,
           'RESOURCE_EXHAUSTED': 7, 'TOO_LARGE': 8, 'UNAVAILABLE': 9,
           'INTERNAL': 10}


_STATES = {'R': 'running', 'S': 'sleeping', 'D': 'sleeping', 'I': 'sleeping',
           'T': 'stopped', 't': 'stopped', 'Z': 'zombie', 'X': 'gone'}


def status_entry(pid, start_time=None):
    """One proc.status entry from /proc."""
    entry = {'pid': pid, 'alive': False, 'state': 'gone', 'start_time': None,
             'create_time': None, 'ppid': None, 'uid': None,
             'exit_code': None, 'signal': None, 'reason': None}
    stat = _proc_py.read_stat(pid) if isinstance(pid, int) else None
    if stat is None:
        return entry
    if start_time is not None and stat.start_time != start_time:
        entry['state'] = 'reused'
        return entry
    state = _STATES.get(stat.state, 'sleeping')
    entry.update(state=state, alive=state not in ('zombie', 'gone'),
                 start_time=stat.start_time,
                 create_time=_proc_py.create_time_of(stat.start_time),
                 ppid=stat.ppid, uid=_proc_py.owner_uid(pid))
    return entry


class RpcError(Exception):

    def __init__(self, name, message=''):
        super().__init__(message)
        self.wire = {'code': _ERRORS.get(name, 10), 'name': name,
                     'message': message}


class Conn:

    def __init__(self, sock):
        self.sock = sock
        self.unpacker = msgpack.Unpacker(raw=False)
        self.out = bytearray()
        pid, _, _ = struct.unpack(
            '3i', sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                  struct.calcsize('3i')))
        self.peer_pid = pid
        self.subs = set()


class Watch:

    def __init__(self, watch_id, conn, pid, start_time, pidfd, exiting):
        self.watch_id = watch_id
        self.conn = conn
        self.pid = pid
        self.start_time = start_time
        self.pidfd = pidfd
        self.exiting = exiting
        self.exited_at = None


class Server:

    def __init__(self, path, stuck):
        self.stuck = stuck
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, 'accept')
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, 'wake')
        self.done = queue.Queue()
        self.timers = []
        self.next_id = 0
        self.watches = {}
        self.generation = 0

    def _id(self):
        self.next_id += 1
        return self.next_id

    def run(self):
        while True:
            timeout = self._timeout()
            for key, _ in self.sel.select(timeout):
                self._event(key)
            self._fire_timers()
            self._check_exits()

    def _timeout(self):
        deadlines = [t[0] for t in self.timers]
        if any(w.exited_at is not None for w in self.watches.values()):
            # Exited, not yet reaped: check for the reap every 10 ms.
            deadlines.append(time.monotonic() + 0.01)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _event(self, key):
        if key.data == 'accept':
            sock, _ = self.listener.accept()
            sock.setblocking(False)
            if self.stuck:
                self.sel.register(sock, selectors.EVENT_READ, ('stuck', sock))
            else:
                conn = Conn(sock)
                self.sel.register(sock, selectors.EVENT_READ, conn)
        elif key.data == 'wake':
            os.read(self.wake_r, 4096)
            while not self.done.empty():
                conn, msgid, error, result = self.done.get()
                self.reply(conn, msgid, error, result)
        elif isinstance(key.data, tuple):
            sock = key.data[1]
            try:
                data = sock.recv(65536)
            except OSError:
                data = b''
            if not data:
                self.sel.unregister(sock)
                sock.close()
        elif isinstance(key.data, Watch):
            # Readable once: exited.  Stop polling it; the reap is awaited
            # through _timeout()/_check_exits().
            self.sel.unregister(key.data.pidfd)
            key.data.exited_at = time.monotonic()
            if key.data.exiting:
                self.notify(key.data.conn, 'proc.exiting', {
                    'watch_id': key.data.watch_id, 'pid': key.data.pid,
                    'start_time': key.data.start_time, 'at': time.time()})
            self._check_exits()
        else:
            self._readable(key.data)

    def _readable(self, conn):
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b''
        if not data:
            self.close(conn)
            return
        conn.unpacker.feed(data)
        try:
            for message in conn.unpacker:
                if conn.sock.fileno() < 0:
                    return
                self.handle(conn, message)
        except (ValueError, msgpack.UnpackException):
            self.reply(conn, 0, RpcError('BAD_REQUEST', 'garbage').wire, None)
            self.close(conn)
            return
        self.flush(conn)

    def handle(self, conn, message):
        if (not isinstance(message, list) or len(message) != 4 or
                message[0] != 0):
            self.reply(conn, 0, RpcError('BAD_REQUEST', 'not a request').wire,
                       None)
            self.flush(conn)
            self.close(conn)
            return
        _, msgid, method, params = message
        args = params[0] if params else {}
        extra = set(args) - _PARAMS.get(method, set(args))
        if extra:
            self.reply(conn, msgid, RpcError(
                'INVALID_ARGUMENT', f'unknown keys {sorted(extra)}').wire, None)
            return
        if method == 'test.drop':
            self.close(conn)
            return
        if method == 'test.sleep':
            self.timers.append((time.monotonic() + args['seconds'], conn,
                                msgid))
            return
        if method == 'proc.kill_tree':
            threading.Thread(target=self._kill_tree,
                             args=(conn, msgid, args), daemon=True).start()
            return
        try:
            result = getattr(self, 'm_' + method.replace('.', '_'),
                             self.unknown)(conn, args, method)
        except RpcError as exc:
            self.reply(conn, msgid, exc.wire, None)
        except (KeyError, TypeError, ValueError) as exc:
            self.reply(conn, msgid,
                       RpcError('INVALID_ARGUMENT', repr(exc)).wire, None)
        else:
            self.reply(conn, msgid, None, result)

    def unknown(self, conn, args, method):
        raise RpcError('UNKNOWN_METHOD', method)

    def reply(self, conn, msgid, error, result):
        if conn.sock.fileno() >= 0:
            conn.out += msgpack.packb([1, msgid, error, result])
            self.flush(conn)

    def notify(self, conn, method, params):
        if conn.sock.fileno() >= 0:
            conn.out += msgpack.packb([2, method, [params]])
            self.flush(conn)

    def flush(self, conn):
        while conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except BlockingIOError:
                select.select([], [conn.sock], [], 1.0)
                continue
            except OSError:
                conn.out.clear()
                return
            del conn.out[:sent]

    def close(self, conn):
        if conn.sock.fileno() < 0:
            return
        for watch in [w for w in self.watches.values() if w.conn is conn]:
            self._drop_watch(watch)
        self.sel.unregister(conn.sock)
        conn.sock.close()

    def _fire_timers(self):
        now = time.monotonic()
        due = [t for t in self.timers if t[0] <= now]
        self.timers = [t for t in self.timers if t[0] > now]
        for _, conn, msgid in due:
            self.reply(conn, msgid, None, 'slept')

    def _kill_tree(self, conn, msgid, args):
        sig = {'TERM': signal.SIGTERM, 'KILL': signal.SIGKILL}.get(
            args.get('signal', 'TERM'), args.get('signal'))
        try:
            result = _proc_kill.kill_tree(
                args['pid'], args.get('start_time'), sig,
                args.get('grace_s', 10.0), args.get('include_root', True))
        except _proc_kill.errors.NoSuchProcess as exc:
            self.done.put((conn, msgid,
                           RpcError('NO_SUCH_PROCESS', str(exc)).wire, None))
        except _proc_kill.errors.PermissionDenied as exc:
            self.done.put((conn, msgid,
                           RpcError('PERMISSION_DENIED', str(exc)).wire, None))
        else:
            self.done.put((conn, msgid, None, result))
        os.write(self.wake_w, b'x')

    # ---------------------------------------------------------- methods

    def m_hello(self, conn, args, _):
        if args.get('proto', 1) > 1:
            raise RpcError('INVALID_ARGUMENT', 'proto')
        return {'server': 'skyutild', 'version': 'fake', 'proto': 1,
                'methods': _METHODS, 'pid': os.getpid(),
                'limits': {'max_message': 1048576, 'max_depth': 16,
                           'max_connections': 256, 'max_output': 16777216,
                           'max_batch': 200000}}

    def m_ping(self, conn, args, _):
        return 'pong'

    def _facts(self, conn):
        facts = _facts_py.compute_facts()
        facts['pid'] = conn.peer_pid
        facts['generation'] = self.generation
        return facts

    def m_facts_get(self, conn, args, _):
        return self._facts(conn)

    def m_facts_subscribe(self, conn, args, _):
        sub = self._id()
        conn.subs.add(sub)
        return {'subscription_id': sub, 'facts': self._facts(conn)}

    def m_facts_unsubscribe(self, conn, args, _):
        conn.subs.discard(args['subscription_id'])
        return True

    def m_facts_parallel_threads(self, conn, args, _):
        cloud = args.get('cloud')
        mult = 4 if cloud and cloud.lower() == 'kubernetes' else 1
        return max(4, self._facts(conn)['cpu_count_floor'] - 1) * mult

    def m_facts_max_workers_for_file_mounts(self, conn, args, method):
        threads = self.m_facts_parallel_threads(conn, args, method)
        soft = self._facts(conn)['nofile_soft']
        return max(1, min((soft - 100) // args['fds_per_source'], threads))

    def m_test_push_facts(self, conn, args, _):
        self.generation += 1
        for key in self.sel.get_map().values():
            other = key.data
            if isinstance(other, Conn):
                for sub in other.subs:
                    self.notify(other, 'facts.changed', {
                        'subscription_id': sub, 'generation': self.generation,
                        'facts': args['facts']})
        return True

    def m_test_error(self, conn, args, _):
        raise RpcError(args['name'], 'requested by test.error')

    def m_proc_status(self, conn, args, _):
        out = []
        for item in args['procs']:
            if isinstance(item, dict):
                out.append(status_entry(item['pid'], item.get('start_time')))
            else:
                out.append(status_entry(item))
        return out

    def m_proc_watch(self, conn, args, _):
        pid = args['pid']
        entry = status_entry(pid, args.get('start_time'))
        if entry['state'] == 'gone' and args.get('start_time') is None:
            raise RpcError('NO_SUCH_PROCESS', str(pid))
        entry['watch_id'] = None
        if not entry['alive']:
            return entry
        pidfd = os.pidfd_open(pid)
        watch = Watch(self._id(), conn, pid, entry['start_time'], pidfd,
                      bool(args.get('exiting')))
        self.watches[watch.watch_id] = watch
        self.sel.register(pidfd, selectors.EVENT_READ, watch)
        entry['watch_id'] = watch.watch_id
        return entry

    def m_proc_unwatch(self, conn, args, _):
        watch = self.watches.get(args['watch_id'])
        if watch is None or watch.conn is not conn:
            raise RpcError('INVALID_ARGUMENT', 'unknown watch_id')
        self._drop_watch(watch)
        return True

    def m_proc_children(self, conn, args, _):
        stat = _proc_py.read_stat(args['pid'])
        if stat is None:
            raise RpcError('NO_SUCH_PROCESS', str(args['pid']))
        stats = _proc_py.all_stats()
        pids = _proc_py.descendants(args['pid'], stat.start_time, stats)
        if not args.get('recursive', False):
            pids = [p for p in pids if stats[p].ppid == args['pid']]
        return [{'pid': p, 'start_time': stats[p].start_time,
                 'create_time': _proc_py.create_time_of(stats[p].start_time),
                 'ppid': stats[p].ppid} for p in pids]

    def m_daemon_metrics(self, conn, args, _):
        return f'skyutild_watches {len(self.watches)}\n'

    # ---------------------------------------------------------- exits

    def _check_exits(self):
        now = time.monotonic()
        for watch in list(self.watches.values()):
            if watch.exited_at is None:
                continue
            code = _proc_wait.exit_info(watch.pidfd)
            if code is None and now - watch.exited_at < _REAP_GRACE:
                continue
            self.notify(watch.conn, 'proc.exited', {
                'watch_id': watch.watch_id, 'pid': watch.pid,
                'start_time': watch.start_time,
                'exit_code': code if code is not None and code >= 0 else None,
                'signal': -code if code is not None and code < 0 else None,
                'core_dumped': False, 'exited_at': time.time(),
                'reason': None if code is not None else 'not reaped'})
            self._drop_watch(watch)

    def _drop_watch(self, watch):
        self.watches.pop(watch.watch_id, None)
        if watch.exited_at is None:
            self.sel.unregister(watch.pidfd)
        os.close(watch.pidfd)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--socket', required=True)
    parser.add_argument('--stuck', action='store_true')
    args = parser.parse_args()
    Server(args.socket, args.stuck).run()


if __name__ == '__main__':
    main()
