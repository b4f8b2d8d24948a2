"""Debian packages: dpkg-buildpackage -us -uc -b on a copy of the source (never in the
repository), lintian without errors, the files where Debian expects them, and the
installed CLI and Python client talking to the installed daemon (unpacked with dpkg -x
into a scratch root). Slow: a full build; meson gives it a generous timeout."""

import glob
import os
import re
import shutil
import subprocess

import pytest

from pkgtest import BUILDDIR, SRCDIR, Rpc, can_connect, need_tool, stop, tempdir, wait_until

PACKAGES = ["skyutild", "libskyutil0", "libskyutil-dev", "python3-skyutil"]
IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", "*.egg-info", ".pybuild")
# Only at the top: build directories and a debian/ left by a manual package build.
TOP_IGNORE = re.compile(r"^(build.*|debian|obj-.*)$")


def multiarch():
    return subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                          text=True, check=True).stdout.strip()


def copy_source(dest):
    build = os.path.realpath(BUILDDIR) if BUILDDIR else None

    def ignore(dirpath, names):
        skipped = set(IGNORE(dirpath, names))
        if os.path.realpath(dirpath) == os.path.realpath(SRCDIR):
            skipped |= {n for n in names if TOP_IGNORE.match(n)}
        for n in names:
            if build and os.path.realpath(os.path.join(dirpath, n)) == build:
                skipped.add(n)
        return skipped

    shutil.copytree(SRCDIR, dest, ignore=ignore, symlinks=True)
    shutil.copytree(os.path.join(dest, "packaging", "debian"), os.path.join(dest, "debian"))


@pytest.fixture(scope="module")
def built():
    need_tool("dpkg-buildpackage")
    need_tool("dh")
    with tempdir() as d:
        srcdir = os.path.join(d, "skyutild")
        copy_source(srcdir)
        r = subprocess.run(["dpkg-checkbuilddeps"], cwd=srcdir, capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"build dependencies missing: {r.stderr.strip()}")
        # Debian's own interpreters and tools: pybuild runs "python3.11 -m build" from PATH,
        # which must not be some other installation's.
        env = dict(os.environ, DEB_BUILD_OPTIONS="parallel=2", PATH="/usr/sbin:/usr/bin:/sbin:/bin")
        for var in ("SKYUTILD_SOCKET", "MESON_TESTTHREADS", "MESONINTROSPECT"):
            env.pop(var, None)
        log = os.path.join(d, "build.log")
        with open(log, "w") as f:
            r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=srcdir, env=env,
                               stdout=f, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            with open(log) as f:
                tail = "".join(line for line in f.readlines()[-25:])
            pytest.fail(f"dpkg-buildpackage failed; end of its log:\n{tail}")
        debs = {}
        for path in glob.glob(os.path.join(d, "*.deb")):
            debs[os.path.basename(path).split("_")[0]] = path
        changes = glob.glob(os.path.join(d, "*.changes"))
        root = os.path.join(d, "root")
        for pkg in PACKAGES:
            if pkg in debs:
                subprocess.run(["dpkg", "-x", debs[pkg], root], check=True)
        yield {"dir": d, "debs": debs, "changes": changes, "root": root}


def test_all_packages_built(built):
    assert set(PACKAGES) <= set(built["debs"]), built["debs"]
    assert len(built["changes"]) == 1


def test_lintian_has_no_errors(built):
    if shutil.which("lintian") is None:
        pytest.skip("lintian is not installed")
    r = subprocess.run(["lintian", "--allow-root", "--no-tag-display-limit", built["changes"][0]],
                       capture_output=True, text=True)
    print(r.stdout)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert not errors, "\n".join(errors)


def contents(deb):
    r = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True)
    return {line.split()[-1].lstrip(".") if "->" not in line else line.split()[-3].lstrip(".")
            for line in r.stdout.splitlines()}


def test_files_where_debian_expects_them(built):
    ma = multiarch()
    expect = {
        "skyutild": ["/usr/sbin/skyutild", "/usr/bin/skyutil",
                     "/lib/systemd/system/skyutild.service", "/lib/systemd/system/skyutild.socket",
                     "/usr/lib/systemd/user/skyutild.service", "/usr/lib/systemd/user/skyutild.socket",
                     "/usr/lib/sysusers.d/skyutild.conf", "/usr/lib/tmpfiles.d/skyutild.conf",
                     "/usr/share/man/man8/skyutild.8.gz", "/usr/share/man/man1/skyutil.1.gz",
                     "/usr/share/man/man7/skyutild-protocol.7.gz",
                     "/usr/share/bash-completion/completions/skyutil",
                     "/usr/share/zsh/vendor-completions/_skyutil",
                     "/usr/libexec/skyutild/skyutild-textfile-collector"],
        "libskyutil0": [f"/usr/lib/{ma}/libskyutil.so.0"],
        "libskyutil-dev": ["/usr/include/skyutil/skyutil.h", f"/usr/lib/{ma}/libskyutil.so",
                           f"/usr/lib/{ma}/pkgconfig/skyutil.pc", "/usr/share/man/man3/libskyutil.3.gz"],
        "python3-skyutil": ["/usr/lib/python3/dist-packages/skyutil/__init__.py"],
    }
    for pkg, paths in expect.items():
        have = contents(built["debs"][pkg])
        for p in paths:
            assert p in have, f"{pkg} lacks {p}"


def test_maintainer_scripts(built):
    """The group exists before the socket unit starts; the socket is not restarted on upgrade."""
    d = os.path.join(built["dir"], "control")
    subprocess.run(["dpkg-deb", "-e", built["debs"]["skyutild"], d], check=True)
    with open(os.path.join(d, "postinst")) as f:
        postinst = f.read()
    assert "systemd-sysusers" in postinst
    assert postinst.index("systemd-sysusers") < postinst.index("skyutild.socket")
    assert "enable" in postinst
    # Upgrades restart the service only: the listening socket stays open meanwhile.
    restarts = [line for line in postinst.splitlines() if "_dh_action" in line and "deb-systemd-invoke" in line]
    assert restarts and all("skyutild.socket" not in line for line in restarts), restarts
    assert any("skyutild.service" in line for line in restarts), restarts


def test_installed_units_verify(built):
    need_tool("systemd-analyze")
    root = built["root"]
    with tempdir() as d:
        paths = []
        for name in ("skyutild.service", "skyutild.socket"):
            with open(os.path.join(root, "lib/systemd/system", name)) as f:
                text = f.read()
            assert "ExecStart=/usr/sbin/skyutild " in text or name.endswith(".socket")
            with open(os.path.join(d, name), "w") as f:
                f.write(text.replace("/usr/sbin/skyutild", os.path.join(root, "usr/sbin/skyutild")))
            paths.append(os.path.join(d, name))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", *paths], capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_installed_man_pages_render(built):
    for page in ("man8/skyutild.8.gz", "man1/skyutil.1.gz", "man3/libskyutil.3.gz", "man7/skyutild-protocol.7.gz"):
        path = os.path.join(built["root"], "usr/share/man", page)
        r = subprocess.run(["man", "-l", path], capture_output=True, text=True, env=dict(os.environ, MANPAGER="cat"))
        assert r.returncode == 0 and "NAME" in r.stdout, r.stderr


def test_installed_cli_and_python_client(built):
    root = built["root"]
    ma = multiarch()
    daemon_bin = os.path.join(root, "usr/sbin/skyutild")
    with tempdir() as d:
        sock = os.path.join(d, "s", "skyutild.sock")
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, "usr/lib", ma), SKYUTILD_SOCKET=sock,
                   PYTHONPATH=os.path.join(root, "usr/lib/python3/dist-packages"))
        # The installed CLI must use the installed library, not one from the build tree.
        r = subprocess.run(["ldd", os.path.join(root, "usr/bin/skyutil")], env=env, capture_output=True, text=True)
        assert os.path.join(root, "usr/lib", ma, "libskyutil.so.0") in r.stdout, r.stdout
        proc = subprocess.Popen([daemon_bin, "--socket", sock], env=env)
        try:
            wait_until(lambda: proc.poll() is not None or can_connect(sock), what="installed daemon")
            assert proc.poll() is None
            r = subprocess.run([os.path.join(root, "usr/bin/skyutil"), "ping"], env=env,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0 and "pong" in r.stdout, r.stderr
            r = subprocess.run([os.path.join(root, "usr/bin/skyutil"), "cpu-count"], env=env,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0 and int(r.stdout.strip()) >= 1, r.stderr
            code = (
                "import os, sys\n"
                "import skyutil\n"
                "assert skyutil.__file__.startswith(sys.argv[1]), skyutil.__file__\n"
                "try:\n"
                "    from skyutil import Client\n"
                "except ImportError:\n"
                "    from skyutil.client import Client\n"
                "c = Client(os.environ['SKYUTILD_SOCKET'])\n"
                "assert c.ping() == 'pong'\n"
                "f = c.facts()\n"
                "assert f['pid'] == os.getpid() and f['cpu_count'] >= 1, f\n"
                "print('python client ok')\n"
            )
            r = subprocess.run(["/usr/bin/python3", "-c", code, root], env=env, capture_output=True,
                               text=True, timeout=60)
            assert r.returncode == 0 and "python client ok" in r.stdout, r.stderr + r.stdout
        finally:
            stop(proc)
