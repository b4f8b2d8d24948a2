"""Fleet view end to end: skyutild → contrib textfile collector → Debian's
prometheus-node-exporter → an HTTP scrape on loopback finds skyutild's metrics."""

import os
import shutil
import subprocess
import urllib.request

import pytest

from pkgtest import SKYUTIL, cli, daemon, free_tcp_port, need_binaries, src, stop, tempdir, wait_until

COLLECTOR = src("contrib", "node-exporter", "skyutild-textfile-collector")


def node_exporter():
    path = shutil.which("prometheus-node-exporter")
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("prometheus-node-exporter is not installed and apt-get is unavailable (not root?)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "prometheus-node-exporter"],
                       env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.skip(f"could not install prometheus-node-exporter: {r.stderr.strip()[-300:]}")
    return shutil.which("prometheus-node-exporter")


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        return resp.read().decode()


def test_node_exporter_serves_skyutild_metrics():
    need_binaries()
    exporter = node_exporter()
    with tempdir() as d:
        sock = os.path.join(d, "d.sock")
        textdir = os.path.join(d, "textfile")
        os.mkdir(textdir)
        with daemon(sock):
            cli(["ping"], sock)
            env = dict(os.environ, SKYUTIL=SKYUTIL, SKYUTILD_SOCKET=sock)
            r = subprocess.run([COLLECTOR, textdir], env=env, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
        port = free_tcp_port()
        proc = subprocess.Popen([exporter, "--collector.disable-defaults", "--collector.textfile",
                                 f"--collector.textfile.directory={textdir}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            def up():
                assert proc.poll() is None, proc.stderr.read().decode()
                try:
                    return scrape(port)
                except OSError:
                    return None
            body = wait_until(up, what="node_exporter on loopback")
        finally:
            stop(proc)
        # A malformed textfile shows up as node_textfile_scrape_error 1, not as a failed scrape.
        assert "node_textfile_scrape_error 0" in body, body[-2000:]
        assert 'skyutild_requests_total{method="ping"}' in body
        assert "skyutild_collector_success 1" in body
        assert "skyutild_request_duration_seconds_bucket" in body
