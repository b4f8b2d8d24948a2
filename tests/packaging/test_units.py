"""systemd units, sysusers.d and tmpfiles.d entries: verified by systemd's own tools,
hardened as issue 7 asks, and installed where systemd looks for them."""

import re
import os
import subprocess

import pytest

from pkgtest import BUILDDIR, SKYUTILD, need_tool, src, tempdir

UNITS = {
    "system": ("packaging/systemd/system/skyutild.service.in", "packaging/systemd/system/skyutild.socket"),
    "user": ("packaging/systemd/user/skyutild.service.in", "packaging/systemd/user/skyutild.socket"),
}


def parse_unit(path):
    """Unit files allow repeated keys; keep every value in order."""
    sections = {}
    current = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), {})
                continue
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def materialize(mode, d):
    """Copy the units of mode into d with ExecStart pointing at the built daemon
    (systemd-analyze verify checks that the binary exists)."""
    service_in, socket_path = UNITS[mode]
    sbindir = os.path.dirname(SKYUTILD) if SKYUTILD else "/usr/sbin"
    with open(src(service_in)) as f:
        text = f.read()
    assert "@sbindir@/skyutild" in text
    out = {}
    with open(os.path.join(d, "skyutild.service"), "w") as f:
        f.write(text.replace("@sbindir@", sbindir))
    with open(src(socket_path)) as f, open(os.path.join(d, "skyutild.socket"), "w") as g:
        g.write(f.read())
    out["service"] = os.path.join(d, "skyutild.service")
    out["socket"] = os.path.join(d, "skyutild.socket")
    return out


def analyze_verify(mode, paths, d):
    need_tool("systemd-analyze")
    env = dict(os.environ)
    args = ["systemd-analyze"]
    if mode == "user":
        runtime = os.path.join(d, "xdg")
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = runtime
        args.append("--user")
    r = subprocess.run(args + ["verify", "--man=no", *paths], env=env, capture_output=True, text=True)
    return r


@pytest.mark.parametrize("mode", ["system", "user"])
def test_systemd_analyze_verify(mode):
    with tempdir() as d:
        units = materialize(mode, d)
        r = analyze_verify(mode, [units["service"], units["socket"]], d)
        # verify reports many problems as warnings with exit 0: any output is a failure.
        assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stderr + r.stdout


def test_verify_catches_a_broken_unit():
    """The verify test above could not fail if systemd-analyze ignored our files."""
    with tempdir() as d:
        units = materialize("system", d)
        with open(units["service"]) as f:
            text = f.read()
        with open(units["service"], "w") as f:
            f.write(text.replace("Type=notify", "Type=notfy"))
        r = analyze_verify("system", [units["service"], units["socket"]], d)
        assert "notfy" in r.stderr


def test_system_service_hardening():
    svc = parse_unit(src(UNITS["system"][0]))["Service"]
    one = {k: v[-1] for k, v in svc.items()}
    assert one["Type"] == "notify"
    assert one["NotifyAccess"] == "main"
    assert one["WatchdogSec"]
    for key in ("NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
                "RestrictNamespaces", "LockPersonality", "MemoryDenyWriteExecute"):
        assert one.get(key) == "yes", key
    assert one["ProtectSystem"] == "strict"
    assert one["ProtectHome"] == "read-only"
    assert one["RestrictAddressFamilies"] == "AF_UNIX"
    assert "@system-service" in svc["SystemCallFilter"]
    assert int(one["LimitNOFILE"]) >= 65536
    assert set(one["CapabilityBoundingSet"].split()) <= {"CAP_KILL", "CAP_CHOWN"}
    # Any of these would hide the processes (or their owners) we are asked to watch.
    for bad in ("ProtectProc", "ProcSubset", "PrivatePIDs", "PrivateUsers"):
        assert bad not in svc, bad
    assert "--socket /run/skyutild/skyutild.sock" in one["ExecStart"]


def test_user_service_has_no_namespace_options():
    svc = parse_unit(src(UNITS["user"][0]))["Service"]
    assert svc["Type"] == ["notify"]
    assert svc["NoNewPrivileges"] == ["yes"]
    # In a user manager each of these implies PrivateUsers=yes (other uids become nobody).
    for bad in ("ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectProc",
                "PrivateUsers", "PrivatePIDs", "ProtectKernelTunables", "ProtectControlGroups"):
        assert bad not in svc, bad
    assert "%t/skyutild/skyutild.sock" in svc["ExecStart"][0]


@pytest.mark.parametrize("mode,path,sock_mode,group", [
    ("system", "/run/skyutild/skyutild.sock", "0660", ["skyutild"]),
    ("user", "%t/skyutild/skyutild.sock", "0600", None),
])
def test_socket_units(mode, path, sock_mode, group):
    sock = parse_unit(src(UNITS[mode][1]))["Socket"]
    assert sock["ListenStream"] == [path]
    assert sock["SocketMode"] == [sock_mode]
    assert sock.get("SocketGroup") == group
    assert sock["FileDescriptorName"] == ["skyutild"]
    assert sock["RemoveOnStop"] == ["yes"]


def test_sysusers_creates_group():
    need_tool("systemd-sysusers")
    with tempdir() as root:
        os.makedirs(os.path.join(root, "etc"))
        r = subprocess.run(["systemd-sysusers", f"--root={root}", src("packaging/systemd/skyutild.sysusers")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(root, "etc", "group")) as f:
            names = [line.split(":")[0] for line in f]
        assert "skyutild" in names


def test_tmpfiles_creates_socket_dir():
    need_tool("systemd-tmpfiles")
    if os.geteuid() != 0:
        pytest.skip("systemd-tmpfiles must chown the directory to root: needs root")
    with tempdir() as root:
        r = subprocess.run(["systemd-tmpfiles", "--create", f"--root={root}",
                            src("packaging/systemd/skyutild.tmpfiles")], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        st = os.stat(os.path.join(root, "run", "skyutild"))
        assert st.st_mode & 0o7777 == 0o755


def test_meson_install_layout():
    """meson install puts units, sysusers/tmpfiles, man pages and completions where
    systemd, man and bash-completion look (prefix /usr layout under the build's prefix)."""
    if not BUILDDIR or not os.path.isdir(os.path.join(BUILDDIR, "meson-info")):
        pytest.skip("SKYUTIL_BUILDDIR is not a meson build directory")
    import json
    with open(os.path.join(BUILDDIR, "meson-info", "intro-buildoptions.json")) as f:
        opts = {o["name"]: o["value"] for o in json.load(f)}
    prefix = opts["prefix"]
    with tempdir() as dest:
        r = subprocess.run(["meson", "install", "--no-rebuild", "--quiet", "-C", BUILDDIR, "--destdir", dest],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr + r.stdout

        def rooted(path):
            return os.path.join(dest, path.lstrip("/"))

        if prefix == "/usr":
            sysunit, userunit = "/lib/systemd/system", "/usr/lib/systemd/user"
            sysusers, tmpfiles = "/usr/lib/sysusers.d", "/usr/lib/tmpfiles.d"
        else:
            sysunit, userunit = prefix + "/lib/systemd/system", prefix + "/lib/systemd/user"
            sysusers, tmpfiles = prefix + "/lib/sysusers.d", prefix + "/lib/tmpfiles.d"
        sbin = os.path.join(prefix, opts["sbindir"])
        for unit_dir in (sysunit, userunit):
            for name in ("skyutild.service", "skyutild.socket"):
                assert os.path.isfile(rooted(os.path.join(unit_dir, name))), (unit_dir, name)
        with open(rooted(sysunit + "/skyutild.service")) as f:
            text = f.read()
        assert f"ExecStart={sbin}/skyutild " in text
        assert not re.search(r"@[a-z_]+@", text), "unsubstituted variable"
        assert os.path.isfile(rooted(sysusers + "/skyutild.conf"))
        assert os.path.isfile(rooted(tmpfiles + "/skyutild.conf"))
        assert os.access(rooted(sbin + "/skyutild"), os.X_OK)
        mandir = os.path.join(prefix, opts["mandir"])
        if opts.get("docs") != "disabled" and subprocess.run(["which", "scdoc"], capture_output=True).returncode == 0:
            for page in ("man1/skyutil.1", "man3/libskyutil.3", "man7/skyutild-protocol.7", "man8/skyutild.8"):
                assert os.path.isfile(rooted(os.path.join(mandir, page))), page
        datadir = os.path.join(prefix, opts["datadir"])
        assert os.path.isfile(rooted(datadir + "/bash-completion/completions/skyutil"))
        assert os.path.isfile(rooted(datadir + "/zsh/site-functions/_skyutil"))
        libexec = os.path.join(prefix, opts["libexecdir"])
        assert os.access(rooted(libexec + "/skyutild/skyutild-textfile-collector"), os.X_OK)
