"""Compatibility with the Mesos v1 scheduler API as third-party clients see it:
mesos-framework (npm), a JavaScript Mesos framework library, used unchanged,
subscribes to a real mezzo master, launches command tasks from offers,
acknowledges their updates and tears down once every task finished.

The library is installed from the npm registry into tests/compat/node_modules
on first use (`npm install`); node and npm come from Debian (scripts/deps.sh)."""
import json
import os
import shutil
import subprocess

import pytest

from cluster import ROOT

COMPAT = ROOT / "tests" / "compat"


def ensure_library():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are needed (Debian packages nodejs and npm; scripts/deps.sh installs them)")
    if not (COMPAT / "node_modules" / "mesos-framework").is_dir():
        p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent"], cwd=COMPAT,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, f"npm install failed:\n{p.stdout}\n{p.stderr}"
    return node


def test_mesos_framework_npm_client_runs_tasks(cluster, tmp_path):
    node = ensure_library()
    (tmp_path / "logs").mkdir()  # the library writes its log file under ./logs
    env = dict(os.environ, NODE_PATH=str(COMPAT / "node_modules"), COMPAT_TIMEOUT_MS="120000")
    p = subprocess.run([node, str(COMPAT / "mesos_framework_scheduler.js"), "127.0.0.1", str(cluster.master_port), "3"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    last = [line for line in p.stdout.splitlines() if line.startswith("{\"result\"")]
    assert p.returncode == 0 and last, f"client failed:\n{p.stdout[-4000:]}\n{p.stderr[-2000:]}"
    result = json.loads(last[-1])
    assert len(result["states"]) == 3
    for tid, seq in result["states"].items():
        assert seq[-1] == "TASK_FINISHED", (tid, seq)
        assert "TASK_RUNNING" in seq
    # The master saw it as a Mesos framework: completed, its tasks finished.
    state = cluster.master_state()
    done = [f for f in state["completed_frameworks"] if f["name"] == "mesos-framework-compat"]
    assert done and len(done[0]["completed_tasks"]) == 3
