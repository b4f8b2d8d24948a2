#!/usr/bin/python3
"""skyutil tail / hash / free-port / parallel-threads through the built binary."""
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

SKYUTIL = os.environ.get('SKYUTIL_BIN', 'skyutil')
CLI_OK, CLI_USAGE, CLI_LOCAL = 0, 2, 6


def run(*args, socket_path=None):
    # A socket path where no daemon listens keeps parallel-threads on its local fallback.
    cmd = [SKYUTIL, '--socket', socket_path or '/nonexistent/skyutild.sock', *args]
    return subprocess.run(cmd, capture_output=True, timeout=30, check=False)


class HelperCli(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def test_tail(self):
        path = self.write('log', b''.join(b'line %d\r\n' % i for i in range(100)))
        r = run('tail', '-n', '3', path)
        self.assertEqual(r.returncode, CLI_OK, r.stderr)
        self.assertEqual(r.stdout, b'line 97\nline 98\nline 99\n')
        self.assertEqual(run('tail', '-n2', path).stdout, b'line 98\nline 99\n')
        self.assertEqual(run('tail', '--lines=1', path).stdout, b'line 99\n')
        # Default 10 lines, like tail(1).
        self.assertEqual(run('tail', path).stdout.count(b'\n'), 10)
        self.assertEqual(run('tail', '-n', '0', path).stdout, b'')

    def test_tail_json_replaces_invalid_utf8(self):
        path = self.write('bin', b'ok\n\xff\xfe end')
        r = run('--json', 'tail', '-n', '5', path)
        self.assertEqual(r.returncode, CLI_OK, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc['lines'], ['ok\n', '\ufffd\ufffd end'])
        self.assertEqual(doc['path'], path)

    def test_tail_errors(self):
        self.assertEqual(run('tail', '-n', '3', os.path.join(self.dir, 'missing')).returncode,
                         CLI_LOCAL)
        self.assertEqual(run('tail', '-n', '3', self.dir).returncode, CLI_LOCAL)
        self.assertEqual(run('tail', '-n', '-1', self.dir).returncode, CLI_USAGE)
        self.assertEqual(run('tail', '-n', 'x', self.dir).returncode, CLI_USAGE)
        self.assertEqual(run('tail').returncode, CLI_USAGE)
        self.assertEqual(run('tail', 'a', 'b').returncode, CLI_USAGE)

    def test_hash(self):
        data = os.urandom(600 * 1024)
        path = self.write('data', data)
        r = run('hash', path)
        self.assertEqual(r.returncode, CLI_OK, r.stderr)
        self.assertEqual(r.stdout.decode(), f'{hashlib.sha256(data).hexdigest()}  {path}\n')
        for algo in ('md5', 'sha1', 'sha512', 'SHA256'):
            r = run('hash', '--algo', algo, path)
            want = hashlib.new(algo.lower(), data).hexdigest()
            self.assertEqual(r.stdout.decode(), f'{want}  {path}\n')
        r = run('--json', 'hash', '--algo=md5', path)
        self.assertEqual(json.loads(r.stdout), {
            'path': path, 'algo': 'md5', 'hex': hashlib.md5(data).hexdigest()})

    def test_hash_errors(self):
        path = self.write('data', b'abc')
        self.assertEqual(run('hash', '--algo', 'crc32', path).returncode, CLI_USAGE)
        self.assertEqual(run('hash').returncode, CLI_USAGE)
        # Good files are still hashed; the exit code reports the bad one.
        r = run('hash', path, os.path.join(self.dir, 'missing'))
        self.assertEqual(r.returncode, CLI_LOCAL)
        self.assertIn(hashlib.sha256(b'abc').hexdigest().encode(), r.stdout)
        self.assertEqual(run('hash', self.dir).returncode, CLI_LOCAL)

    def test_free_port(self):
        with socket.socket() as s:
            s.bind(('', 0))
            s.listen()
            busy = s.getsockname()[1]
            if busy >= 65534:
                self.skipTest('ephemeral port at the top of the range')
            r = run('free-port', str(busy))
            self.assertEqual(r.returncode, CLI_OK, r.stderr)
            port = int(r.stdout)
            self.assertGreater(port, busy)
            r = run('--json', 'free-port', str(busy))
            self.assertGreater(json.loads(r.stdout)['port'], busy)
        self.assertEqual(run('free-port', '65536').returncode, CLI_USAGE)
        self.assertEqual(run('free-port', 'abc').returncode, CLI_USAGE)
        self.assertNotEqual(run('free-port', '65535').returncode, CLI_OK)

    def test_parallel_threads(self):
        self.assertEqual(run('parallel-threads', '--cpus', '8').stdout, b'7\n')
        self.assertEqual(
            run('parallel-threads', '--cpus', '8', '--cloud', 'Kubernetes').stdout, b'28\n')
        self.assertEqual(run('parallel-threads', '--cpus=1').stdout, b'4\n')
        r = run('--json', 'parallel-threads')
        self.assertEqual(r.returncode, CLI_OK, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc['cpu_source'], 'local')
        cpus = min(os.cpu_count(), len(os.sched_getaffinity(0)))
        self.assertEqual(doc['cpu_count'], cpus)
        self.assertEqual(doc['threads'], max(4, cpus - 1))
        self.assertEqual(run('parallel-threads', '--cpus', '0').returncode, CLI_USAGE)
        self.assertEqual(run('parallel-threads', '--bogus').returncode, CLI_USAGE)

    def test_parallel_threads_asks_daemon(self):
        daemon = os.environ.get('SKYUTILD_BIN')
        if not daemon or not os.access(daemon, os.X_OK):
            self.skipTest('SKYUTILD_BIN not built')
        sock = os.path.join(self.dir, 'd.sock')
        proc = subprocess.Popen([daemon, '--socket', sock], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            for _ in range(200):
                if os.path.exists(sock) or proc.poll() is not None:
                    break
                subprocess.run(['sleep', '0.02'], check=False)
            if not os.path.exists(sock):
                self.skipTest('daemon did not start: %s' % proc.stderr.read(2000).decode())
            r = run('--json', 'parallel-threads', socket_path=sock)
            self.assertEqual(r.returncode, CLI_OK, r.stderr)
            doc = json.loads(r.stdout)
            if doc['cpu_source'] != 'daemon':
                self.skipTest('daemon does not answer facts.get yet')
            self.assertEqual(doc['threads'], max(4, doc['cpu_count'] - 1))
            facts = json.loads(run('--json', 'facts', socket_path=sock).stdout)
            self.assertEqual(doc['cpu_count'], facts['cpu_count_floor'])
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            proc.stderr.close()


if __name__ == '__main__':
    unittest.main(verbosity=2)
