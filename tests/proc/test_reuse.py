"""PID reuse for real, inside a new pid namespace (see reuse_scenario.py)."""
import os
import shutil
import subprocess

import pytest

from conftest import HERE, PY


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a pid namespace and ns_last_pid")
def test_pid_reuse_in_a_new_pid_namespace():
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", PY,
                        os.path.join(HERE, "reuse_scenario.py")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout + r.stderr
