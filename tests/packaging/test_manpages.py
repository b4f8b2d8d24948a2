"""Man pages: scdoc accepts them, man renders them without warnings, and they name what
the code really has (CLI commands and options, daemon options, library functions,
protocol methods and errors)."""

import os
import re
import shutil
import subprocess

import pytest

from pkgtest import SKYUTIL, SKYUTILD, need_binaries, need_tool, src, tempdir

PAGES = ["skyutild.8", "skyutil.1", "libskyutil.3", "skyutild-protocol.7"]


def scdoc(page):
    tool = need_tool("scdoc")
    with open(src("docs", page + ".scd"), "rb") as f:
        r = subprocess.run([tool], stdin=f, capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def rendered(page):
    """Plain text as man shows it (groff warnings enabled)."""
    need_tool("groff")
    roff = scdoc(page)
    r = subprocess.run(["groff", "-k", "-man", "-Tutf8", "-ww", "-rLL=200n", "-rHY=0"], input=roff.encode(),
                       capture_output=True, env=dict(os.environ, GROFF_NO_SGR="1"))
    assert r.returncode == 0 and not r.stderr, r.stderr.decode()
    text = r.stdout.decode()
    # Undo overstriking (bold/underline) and hyphenation at line ends.
    text = re.sub(r".\x08", "", text)
    return text


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(page):
    text = rendered(page)
    name = page.rsplit(".", 1)[0]
    assert re.search(rf"^NAME\n\s+{re.escape(name)} - ", text, re.M), text[:500]
    assert "SEE ALSO" in text


def help_text(binary):
    need_binaries()
    r = subprocess.run([binary, "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout + r.stderr


def test_skyutil_page_documents_every_command_and_option():
    text = rendered("skyutil.1")
    helptext = help_text(SKYUTIL)
    cmds = set(re.findall(r"^\s{2,}([a-z][a-z-]+)\b", helptext, re.M))
    assert {"ping", "kill-tree", "parallel-threads"} <= cmds, helptext
    for cmd in cmds:
        assert re.search(rf"^\s+{re.escape(cmd)}\b", text, re.M), f"skyutil.1 lacks command {cmd}"
    for opt in set(re.findall(r"(--[a-z][a-z-]+)", helptext)):
        assert opt in text, f"skyutil.1 lacks option {opt}"
    for code in range(7):
        assert re.search(rf"^\s+{code}\n", text, re.M), f"skyutil.1 lacks exit status {code}"


def test_skyutild_page_documents_every_option():
    text = rendered("skyutild.8")
    helptext = help_text(SKYUTILD)
    opts = set(re.findall(r"(--[a-z][a-z-]+)", helptext))
    assert {"--socket", "--max-message"} <= opts, helptext
    for opt in opts:
        assert opt in text, f"skyutild.8 lacks option {opt}"
    # And nothing the daemon does not have.
    for opt in set(re.findall(r"(--[a-z][a-z-]+)", text)):
        assert opt in opts, f"skyutild.8 documents {opt}, which skyutild --help does not know"


def test_libskyutil_page_documents_every_export():
    with open(src("client", "include", "skyutil", "skyutil.h")) as f:
        header = f.read()
    exported = set(re.findall(r"SKYUTIL_EXPORT\s+[^;(]*?\b(skyutil_[a-z0-9_]+)\s*\(", header))
    assert len(exported) > 20
    text = rendered("libskyutil.3")
    for fn in exported:
        assert fn + "(" in text, f"libskyutil.3 lacks {fn}"


def test_protocol_page_matches_protocol_md():
    with open(src("docs", "protocol.md")) as f:
        md = f.read()
    methods = set(re.findall(r"^### `([a-z_.]+)`", md, re.M))
    errors = set(re.findall(r"^\| \d+ \| ([A-Z_]+) \|", md, re.M))
    notifications = set(re.findall(r"`([a-z]+\.[a-z_]+)` `\[", md))
    assert methods and len(errors) == 11
    text = rendered("skyutild-protocol.7")
    for name in methods | errors | notifications | {"proc.unwatch", "proc.unguard", "proc.guards", "facts.unsubscribe"}:
        assert re.search(rf"\b{re.escape(name)}\b", text), f"skyutild-protocol.7 lacks {name}"
