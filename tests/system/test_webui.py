"""The web UI in a real browser: headless Debian chromium driven by
playwright-core (tests/browser/webui_check.js) against a real master and
agent. The overview shows the agent, and a task within 2 s of its launch
without a reload; the task's stdout appears (and keeps growing) in its
sandbox view; every page renders without a script error. Each test saves its
screenshots under its tmp folder (<tmp_path>/screenshots).

Chromium comes from Debian (scripts/deps.sh installs it); playwright-core is
installed into tests/browser/node_modules with npm when missing. When either
cannot be had, the tests fail and say why: they never skip silently."""
import os
import pathlib
import shutil
import subprocess
import threading
import time

import pytest

from taskrunner import TaskRunner

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE_TIMEOUT = 180


def ensure_browser_tools():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/deps.sh does: apt-get install -y chromium)",
                    pytrace=False)
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node:
        pytest.fail("node is missing: the browser tests need Node.js and npm to run playwright-core", pytrace=False)
    if not (BROWSER_DIR / "node_modules" / "playwright-core" / "package.json").is_file():
        if not npm:
            pytest.fail("npm is missing: cannot install playwright-core into tests/browser/node_modules", pytrace=False)
        p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-save"], cwd=BROWSER_DIR,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            pytest.fail(f"npm install of playwright-core failed (exit {p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}",
                        pytrace=False)
    return node


class Check:
    """One run of webui_check.js; its stdout lines arrive on a queue-like list."""

    def __init__(self, node, scenario, url, out_dir, *args):
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self.proc = subprocess.Popen([node, str(BROWSER_DIR / "webui_check.js"), scenario, url, str(out_dir), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def expect(self, prefix, timeout=NODE_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, line in enumerate(self.lines):
                    if line is None:
                        self.fail(f"the browser check ended before printing {prefix}")
                    if line.startswith(prefix):
                        del self.lines[:i + 1]
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail(f"no {prefix} from the browser check within {timeout}s")
                self.cond.wait(left)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def fail(self, why):
        try:
            self.proc.kill()
        except OSError:
            pass
        err = self.proc.stderr.read() if self.proc.stderr else ""
        pytest.fail(f"{why}\n--- browser check stderr\n{err[-4000:]}\n(screenshots in {self.out_dir})", pytrace=False)

    def finish(self, timeout=NODE_TIMEOUT):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail("the browser check did not finish")
        if rc != 0:
            self.fail(f"the browser check failed (exit {rc})")
        shots = list(self.out_dir.glob("*.png"))
        assert shots, f"no screenshot saved in {self.out_dir}"
        return shots


@pytest.fixture
def node():
    return ensure_browser_tools()


def test_overview_shows_agent_and_running_task_live(cluster, node, tmp_path):
    agent = cluster.agents[0].id
    check = Check(node, "live", cluster.master_url, tmp_path / "screenshots", agent)
    fw = None
    try:
        check.expect("READY")
        fw = TaskRunner(cluster.master_port, name="live-ui")
        for tid in ("live-1", "live-2"):
            fw.launch(tid, "sleep 600")
            fw.wait_state(tid, "TASK_RUNNING")
            # The master has the task RUNNING now: the open page must show it within 2 s.
            check.send(f"TASK {tid}")
            ms = int(check.expect("SEEN").split()[1])
            assert ms <= 2000, ms
        check.send("DONE")
        check.finish()
    finally:
        if check.proc.poll() is None:
            check.proc.kill()
        if fw:
            fw.close()


def test_sandbox_shows_task_stdout_live(cluster, node, tmp_path):
    fw = TaskRunner(cluster.master_port, name="sandbox-ui")
    try:
        cmd = "echo hello-from-the-sandbox; echo some-error >&2; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done"
        fw.launch("talker", cmd)
        fw.wait_state("talker", "TASK_RUNNING")
        check = Check(node, "sandbox", cluster.master_url, tmp_path / "screenshots", fw.agents["talker"],
                      fw.framework_id, "talker", "hello-from-the-sandbox")
        check.expect("OK")
        check.finish()
    finally:
        fw.close()


def test_every_page_renders(cluster_factory, node, tmp_path):
    logs = tmp_path / "logs"  # the master's and the agent's log files, for the log pages
    logs.mkdir()
    cluster = cluster_factory(master_flags=[f"--log_dir={logs}"], agent_flags=[f"--log_dir={logs}"])
    fw = TaskRunner(cluster.master_port, name="pages-ui", roles=["web"])
    try:
        fw.launch("page-task", "sleep 600")
        fw.wait_state("page-task", "TASK_RUNNING")
        check = Check(node, "pages", cluster.master_url, tmp_path / "screenshots", cluster.agents[0].id,
                      fw.framework_id, "page-task")
        check.expect("OK")
        shots = {p.stem for p in check.finish()}
        assert {"agents", "frameworks", "tasks", "roles", "log-master", "log-agent"} <= shots, shots
    finally:
        fw.close()


def test_drained_agent_shows_as_draining(cluster, node, tmp_path):
    import json
    from test_operator_api import call as op_call
    agent = cluster.agents[0].id
    check = Check(node, "drained", cluster.master_url, tmp_path / "screenshots", agent)
    check.expect("READY")
    status, _, body = op_call(cluster.master_port, {"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": agent}}})
    assert status == 200, body
    agents = json.loads(op_call(cluster.master_port, {"type": "GET_AGENTS"})[2])["get_agents"]["agents"]
    assert agents[0]["drain_info"]["state"] in ("DRAINING", "DRAINED")
    check.send("DRAINED")
    check.expect("OK")
    shots = {p.stem for p in check.finish()}
    assert "agents-draining" in shots, shots
