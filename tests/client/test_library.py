"""libskyutil as shipped: exported symbols and the generated pkg-config file."""
import os
import re
import subprocess
import glob

import pytest


def shared_lib(builddir):
    libs = sorted(glob.glob(os.path.join(builddir, "client", "libskyutil.so.*.*")))
    assert libs, "libskyutil.so not built"
    return libs[0]


def exported(builddir):
    out = subprocess.run(["nm", "-D", "--defined-only", shared_lib(builddir)],
                         capture_output=True, text=True, check=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] != "A":  # "A" rows are version nodes
            syms.add(parts[2].split("@")[0])
    return syms


def test_exports_only_public_api(builddir):
    syms = exported(builddir)
    stray = sorted(s for s in syms if not s.startswith("skyutil_"))
    assert not stray, f"non-API symbols exported: {stray}"
    header = open(os.path.join(os.environ["SKYUTIL_SRCDIR"], "client", "include", "skyutil",
                               "skyutil.h")).read()
    declared = set(re.findall(r"SKYUTIL_EXPORT\s[^;(]*?\b(skyutil_\w+)\s*\(", header))
    assert declared, "no declarations found"
    missing = sorted(declared - syms)
    assert not missing, f"declared but not exported: {missing}"
    assert not sorted(syms - declared), "exported but not declared"


def test_pkgconfig_uninstalled_compiles_and_runs(builddir, tmp_path):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(builddir, "meson-uninstalled"))
    pc = subprocess.run(["pkg-config", "--cflags", "--libs", "skyutil"], env=env,
                        capture_output=True, text=True)
    if pc.returncode != 0 and "not found" in pc.stderr and not os.path.exists(
            os.path.join(builddir, "meson-uninstalled")):
        pytest.fail("meson did not generate meson-uninstalled/skyutil-uninstalled.pc")
    assert pc.returncode == 0, pc.stderr
    src = tmp_path / "t.c"
    # The public header is plain C99 with no msgpack or libuv types.
    src.write_text(
        '#include <errno.h>\n#include <stdio.h>\n#include <skyutil/skyutil.h>\n'
        'int main(void) {\n'
        '  skyutil_client *c = NULL;\n'
        '  int rc = skyutil_client_open("/nonexistent/skyutild.sock", 100, &c);\n'
        '  printf("%d|%s|%s\\n", rc == -ENOENT, skyutil_strerror(-ETIMEDOUT),\n'
        '         skyutil_remote_name(SKYUTIL_EREMOTE(SKYUTIL_ERR_PID_REUSED)));\n'
        '  return 0;\n}\n')
    exe = tmp_path / "t"
    cc = os.environ.get("CC", "cc")
    # A sanitizer build of the library needs its runtime first in the program too.
    needed = subprocess.run(["readelf", "-d", shared_lib(builddir)], capture_output=True,
                            text=True, check=True).stdout
    san = ["-fsanitize=address,undefined"] if "libasan" in needed else []
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", *san, str(src),
                    "-o", str(exe), *pc.stdout.split()], check=True)
    libdir = os.path.dirname(shared_lib(builddir))
    out = subprocess.run([str(exe)], env=dict(os.environ, LD_LIBRARY_PATH=libdir),
                         capture_output=True, text=True, check=True).stdout
    assert out == "1|timed out waiting for skyutild|PID_REUSED\n"
