"""contrib/: shell completions agree with the CLI, the textfile collector writes a valid
exposition file, the dashboard only uses metrics the daemon (or the collector) exports."""

import json
import os
import re
import shutil
import subprocess

import pytest

from pkgtest import SKYUTIL, cli, daemon, need_binaries, need_tool, src, tempdir

BASH_COMPLETION = src("contrib", "completions", "skyutil.bash")
ZSH_COMPLETION = src("contrib", "completions", "_skyutil")
COLLECTOR = src("contrib", "node-exporter", "skyutild-textfile-collector")
DASHBOARD = src("contrib", "grafana", "skyutild-dashboard.json")


def cli_commands():
    """Command names from `skyutil --help` (the CLI's own table)."""
    need_binaries()
    r = subprocess.run([SKYUTIL, "--help"], capture_output=True, text=True)
    text = r.stdout + r.stderr
    cmds = set(re.findall(r"^\s{2,}([a-z][a-z-]+)\b", text, re.M))
    assert {"ping", "facts", "kill-tree"} <= cmds, text
    return cmds


def bash_complete(words):
    script = f"""
        source {BASH_COMPLETION}
        COMP_WORDS=({' '.join(words)})
        COMP_CWORD={len(words) - 1}
        _skyutil
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_bash_completes_every_cli_command():
    offered = bash_complete(["skyutil", "''"])
    assert offered == cli_commands()


def test_bash_completes_after_global_options():
    assert bash_complete(["skyutil", "--socket", "/tmp/x", "kill-t"]) == {"kill-tree"}
    assert bash_complete(["skyutil", "kill-tree", "--si"]) == {"--signal"}
    assert "sha256" in bash_complete(["skyutil", "hash", "--algo", "''"])
    assert bash_complete(["skyutil", "call", "proc.kill"]) == {"proc.kill_tree"}
    assert str(os.getpid()) in bash_complete(["skyutil", "status", "''"])


def test_zsh_completion_lists_every_cli_command():
    with open(ZSH_COMPLETION) as f:
        text = f.read()
    listed = set(re.findall(r"^\t{3}'([a-z-]+):", text, re.M))
    assert listed == cli_commands()
    if shutil.which("zsh"):
        r = subprocess.run(["zsh", "-n", ZSH_COMPLETION], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


def exposition_names(text):
    """Metric family names of a Prometheus text exposition, checked line by line."""
    names = set()
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            names.add(line.split()[2])
            continue
        assert not line.startswith("#"), line
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)', line)
        assert m, f"not an exposition line: {line!r}"
        names.add(m.group(1))
    return names


def run_collector(outdir, sock):
    env = dict(os.environ, SKYUTIL=SKYUTIL, SKYUTILD_SOCKET=sock)
    return subprocess.run([COLLECTOR, outdir], env=env, capture_output=True, text=True, timeout=60)


def test_collector_writes_daemon_metrics():
    need_binaries()
    with tempdir() as d:
        sock = os.path.join(d, "d.sock")
        out = os.path.join(d, "textfile")
        os.mkdir(out)
        with daemon(sock):
            cli(["ping"], sock)
            r = run_collector(out, sock)
            assert r.returncode == 0, r.stderr
        assert os.listdir(out) == ["skyutild.prom"], "temporary file left behind"
        with open(os.path.join(out, "skyutild.prom")) as f:
            text = f.read()
        names = exposition_names(text)
        assert {"skyutild_requests_total", "skyutild_clients", "skyutild_collector_success"} <= names
        assert re.search(r'^skyutild_requests_total\{method="ping"\} [1-9]', text, re.M), text
        assert re.search(r"^skyutild_collector_success 1$", text, re.M)


def test_collector_reports_an_unreachable_daemon():
    need_binaries()
    with tempdir() as d:
        out = os.path.join(d, "textfile")
        os.mkdir(out)
        r = run_collector(out, os.path.join(d, "nobody-here.sock"))
        assert r.returncode != 0
        with open(os.path.join(out, "skyutild.prom")) as f:
            text = f.read()
        assert exposition_names(text) == {"skyutild_collector_success"}
        assert re.search(r"^skyutild_collector_success 0$", text, re.M)


def test_dashboard_uses_only_exported_metrics():
    need_binaries()
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = []
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            exprs.append(t["expr"])
    for var in dash["templating"]["list"]:
        exprs.append(var["definition"])
    used = set()
    for e in exprs:
        used |= set(re.findall(r"\bskyutild_[a-z_]+", e))
    with tempdir() as d:
        sock = os.path.join(d, "d.sock")
        with daemon(sock):
            text = cli(["metrics"], sock).stdout
    exported = exposition_names(text) | {"skyutild_collector_success"}
    # Histograms are used through their _bucket/_sum/_count series.
    for name in list(exported):
        exported |= {name + "_bucket", name + "_sum", name + "_count"}
    assert used, "dashboard has no skyutild queries"
    assert used <= exported, f"dashboard uses metrics the daemon does not export: {used - exported}"


@pytest.mark.parametrize("unit", ["skyutild-textfile.service.in", "skyutild-textfile.timer"])
def test_collector_units_verify(unit):
    need_tool("systemd-analyze")
    with tempdir() as d:
        for name in ("skyutild-textfile.service.in", "skyutild-textfile.timer"):
            with open(src("contrib", "node-exporter", name)) as f:
                text = f.read()
            text = text.replace("@libexecdir@/skyutild/skyutild-textfile-collector", COLLECTOR)
            text = text.replace("@bindir@", "/usr/bin")
            with open(os.path.join(d, name.replace(".in", "")), "w") as f:
                f.write(text)
        path = os.path.join(d, unit.replace(".in", ""))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", path], capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def cli_command_options():
    """{command: {options}} from the usage column of `skyutil --help`."""
    need_binaries()
    r = subprocess.run([SKYUTIL, "--help"], capture_output=True, text=True)
    out = {}
    for line in (r.stdout + r.stderr).splitlines():
        m = re.match(r"^\s{2}([a-z][a-z-]+)( .*)?$", line)
        if m:
            out[m.group(1)] = set(re.findall(r"\[(-{1,2}[a-z][a-z-]*)", m.group(2) or "")) | \
                set(re.findall(r" (--[a-z][a-z-]+) ", m.group(2) or ""))
    return out


def test_bash_completes_every_command_option():
    for cmd, opts in cli_command_options().items():
        if not opts:
            continue
        offered = bash_complete(["skyutil", cmd, "-"])
        assert opts <= offered, f"{cmd}: completion lacks {opts - offered}"


def test_zsh_completes_every_command_option():
    with open(ZSH_COMPLETION) as f:
        text = f.read()
    for cmd, opts in cli_command_options().items():
        for opt in opts:
            assert re.search(rf"'{re.escape(opt)}\[", text), f"_skyutil lacks {cmd} {opt}"
