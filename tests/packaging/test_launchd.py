"""The LaunchAgent template: a well-formed property list with KeepAlive and a Sockets
entry, once the install script's substitutions are made. (launchd itself is untested here.)"""

import os
import plistlib
import re
import shutil
import subprocess

from pkgtest import src, tempdir

TEMPLATE = src("packaging", "launchd", "org.skypilot.skyutild.plist.in")


def filled(uid=501):
    with open(TEMPLATE) as f:
        text = f.read()
    # What meson's configure_file and install-launch-agent.sh substitute.
    text = text.replace("@sbindir@", "/usr/local/sbin")
    text = text.replace("__SOCKET_PATH__", f"/tmp/skyutild-{uid}/skyutild.sock").replace("__UID__", str(uid))
    return text


def test_plist_is_well_formed():
    pl = plistlib.loads(filled().encode())
    assert pl["Label"] == "org.skypilot.skyutild"
    args = pl["ProgramArguments"]
    assert args[0] == "/usr/local/sbin/skyutild"
    assert args[args.index("--socket") + 1] == "/tmp/skyutild-501/skyutild.sock"
    assert pl["RunAtLoad"] is True
    assert pl["KeepAlive"] == {"SuccessfulExit": False}
    sock = pl["Sockets"]["skyutild"]  # the name the daemon passes to launch_activate_socket
    assert sock["SockFamily"] == "Unix"
    assert sock["SockType"] == "stream"
    assert sock["SockPassive"] is True
    assert sock["SockPathName"] == "/tmp/skyutild-501/skyutild.sock"
    assert sock["SockPathMode"] == 0o600
    # sun_path is 104 bytes on macOS.
    assert len(sock["SockPathName"].encode()) < 104


def test_no_placeholder_left():
    text = filled()
    assert not re.search(r"@[a-z]+@|__[A-Z_]+__", text), text


def test_daemon_looks_up_the_same_socket_name():
    with open(src("daemon", "activation_darwin.c")) as f:
        code = f.read()
    with open(src("daemon", "activation.c")) as f:
        code += f.read()
    assert re.search(r'"skyutild"', code), "daemon does not name its launchd socket 'skyutild'"


def test_install_script_fills_the_template():
    """Run the script's substitution with stubs for the macOS-only tools."""
    with tempdir() as d:
        home = os.path.join(d, "home")
        bindir = os.path.join(d, "bin")
        os.makedirs(bindir)
        log = os.path.join(d, "calls")
        for tool in ("plutil", "launchctl"):
            with open(os.path.join(bindir, tool), "w") as f:
                f.write(f'#!/bin/sh\necho "{tool} $*" >>"{log}"\n')
            os.chmod(os.path.join(bindir, tool), 0o755)
        template = os.path.join(d, "agent.plist.in")
        with open(TEMPLATE) as f, open(template, "w") as g:
            g.write(f.read().replace("@sbindir@", "/opt/sky/sbin"))
        sockdir = os.path.join(d, "sockdir")
        env = dict(os.environ, HOME=home, PATH=bindir + ":" + os.environ["PATH"], SKYUTILD_SOCKDIR=sockdir)
        r = subprocess.run(["sh", src("packaging", "launchd", "install-launch-agent.sh"), template],
                           env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        out = os.path.join(home, "Library", "LaunchAgents", "org.skypilot.skyutild.plist")
        with open(out, "rb") as f:
            pl = plistlib.load(f)
        uid = os.getuid()
        assert pl["Sockets"]["skyutild"]["SockPathName"] == f"{sockdir}/skyutild.sock"
        assert pl["ProgramArguments"][0] == "/opt/sky/sbin/skyutild"
        with open(log) as f:
            calls = f.read()
        assert f"launchctl bootstrap gui/{uid} {out}" in calls
        assert os.stat(sockdir).st_mode & 0o777 == 0o700
