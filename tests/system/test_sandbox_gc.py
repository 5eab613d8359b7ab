"""System tests of the agent's garbage collection of sandboxes (--gc_delay,
--gc_disk_headroom, --disk_watch_interval; src/agent/gc.c, sandbox_gc.c), as Mesos's
agent has it: the sandbox of an executor that is done goes gc_delay after it was
done, sooner as the disk fills; a new run under a scheduled directory keeps it; a
restarted agent schedules what an earlier run left; the gc/path_removals_* metrics.

They drive a real mezzo-agent through the fake master of test_agent.py. No fixed
sleeps: everything is polled with generous deadlines; times are read from the
agent's log.
"""
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

import pytest

from test_agent import AGENT, EXECUTOR, TIMEOUT, Agent, FakeMaster, ack_through, registered, sandbox, wait_for
from test_containerizer import ack_until_terminal, agent_log, launch, task_info

pytestmark = pytest.mark.skipif(
    not AGENT.exists() or not EXECUTOR.exists(), reason=f"{AGENT} or {EXECUTOR} not built"
)

TWO_WEEKS = 14 * 86400


@pytest.fixture
def master():
    m = FakeMaster()
    yield m
    m.close()


def metrics(agent):
    with urllib.request.urlopen(agent.url("/metrics/snapshot"), timeout=10) as r:
        return json.loads(r.read())


def gc_counts(agent):
    m = metrics(agent)
    return {k: m[f"gc/path_removals_{k}"] for k in ("succeeded", "failed", "pending")}


def log_time(line):
    return datetime.fromisoformat(line.split()[1].rstrip("Z")).timestamp()


def log_line(tmp_path, pattern):
    return wait_for(lambda: next((l for l in agent_log(tmp_path).splitlines() if re.search(pattern, l)), None),
                    what=f"a log line matching {pattern!r}")


def run_to_the_end(master, task_id, command="true"):
    start = len(master.calls)
    launch(master, task_info(master, task_id, command))
    end = ack_until_terminal(master, task_id, start=start)
    assert end["status_update"]["status"]["state"] == "TASK_FINISHED", end


def browse_status(agent, path):
    try:
        with urllib.request.urlopen(agent.url("/files/browse?path=" + urllib.parse.quote(path)), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_a_sandbox_goes_gc_delay_after_its_executor_is_done(master, tmp_path):
    a = Agent(master, tmp_path, extra=["--gc_delay=4secs"])
    try:
        registered(master)
        run_to_the_end(master, "gc-1")
        run = sandbox(a, master, "gc-1")
        executor_dir = os.path.dirname(os.path.dirname(run))
        framework_dir = os.path.dirname(os.path.dirname(executor_dir))
        assert browse_status(a, "/frameworks/fw-1/executors/gc-1/runs/latest") == 200
        done = log_time(log_line(tmp_path, r"executor gc-1 of framework fw-1 completed"))
        # The executor's dir and (its last executor) the framework's dir.
        wait_for(lambda: gc_counts(a)["pending"] + gc_counts(a)["succeeded"] >= 2, what="2 paths scheduled")
        wait_for(lambda: not os.path.exists(framework_dir), what=f"{framework_dir} to be removed")
        removed = log_time(log_line(tmp_path, rf"gc: removing {re.escape(framework_dir)}$"))
        assert removed - done >= 3.9, (done, removed)  # never before gc_delay
        counts = wait_for(lambda: (lambda c: c if c["pending"] == 0 else None)(gc_counts(a)),
                          what="no removal pending")
        assert counts["succeeded"] >= 2 and counts["failed"] == 0, counts
        # Mesos's gauge: gc_delay * max(0, 1 - 0.1 - usage), at most gc_delay.
        assert 0 < metrics(a)["slave/executor_directory_max_allowed_age_secs"] <= 4
        assert browse_status(a, "/frameworks/fw-1/executors/gc-1/runs/latest") == 404
        assert not os.listdir(a.work_dir / ".gc-trash")
        assert a.state()["flags"]["gc_delay"] == "4secs"
        # The agent's /state still lists the completed executor, as Mesos's does.
        done_fw = a.state()["completed_frameworks"]
        assert any(ex["id"] == "gc-1" for fw in done_fw for ex in fw["completed_executors"]), done_fw
    finally:
        assert a.stop() == 0


def test_a_full_disk_removes_sandboxes_at_once(master, tmp_path):
    """gc_delay * max(0, 1 - gc_disk_headroom - usage) is the age allowed: with a headroom
    of 1.0 it is 0, and every directory scheduled goes at the next disk check."""
    a = Agent(master, tmp_path, extra=["--gc_delay=1weeks", "--gc_disk_headroom=1.0", "--disk_watch_interval=1secs"])
    try:
        registered(master)
        run_to_the_end(master, "full-1")
        executor_dir = os.path.dirname(os.path.dirname(sandbox(a, master, "full-1")))
        wait_for(lambda: not os.path.exists(executor_dir), what=f"{executor_dir} to be removed")
        line = log_line(tmp_path, r"gc: disk usage [0-9.]+%, so directories older than 0s go: [1-9]")
        assert "removed" in line
        assert metrics(a)["slave/executor_directory_max_allowed_age_secs"] == 0
        assert gc_counts(a)["failed"] == 0
    finally:
        assert a.stop() == 0


def test_a_new_run_keeps_the_directories_above_it(master, tmp_path):
    """The same executor id runs again before its directory is due: the new run's
    directories are unscheduled (the first run alone goes)."""
    a = Agent(master, tmp_path, extra=["--gc_delay=5secs"])
    try:
        registered(master)
        run_to_the_end(master, "again-1")
        first = sandbox(a, master, "again-1")
        log_line(tmp_path, r"executor again-1 of framework fw-1 completed")
        start = len(master.calls)
        launch(master, task_info(master, "again-1", "sleep 120"))
        ack_through(master, "again-1", ["TASK_STARTING", "TASK_RUNNING"])
        runs = os.path.dirname(first)
        second = wait_for(lambda: [p for p in os.listdir(runs) if p not in ("latest", os.path.basename(first))],
                          what="the second run")[0]
        wait_for(lambda: not os.path.exists(first), what="the first run to be removed")
        # Its executor's and framework's dirs were due with it: the second run is still whole.
        assert os.path.isfile(os.path.join(runs, second, "stdout"))
        assert os.readlink(os.path.join(runs, "latest")) == second
        assert gc_counts(a)["pending"] == 0
        master.send({"type": "KILL_TASK", "kill_task": {"framework_id": {"value": "fw-1"},
                                                       "task_id": {"value": "again-1"}}})
        ack_until_terminal(master, "again-1", start=start)
    finally:
        assert a.stop() == 0


def test_a_restarted_agent_schedules_what_the_earlier_run_left(master, tmp_path):
    """After a crash: a sandbox that was done before goes gc_delay after it was done (its
    mtime), the sandbox of a container that the restart destroyed goes gc_delay from now,
    an earlier agent id's directory goes gc_delay from now, and what the crashed agent had
    moved to the trash is removed."""
    a = Agent(master, tmp_path)
    pid = None
    try:
        registered(master)
        run_to_the_end(master, "done-1")
        launch(master, task_info(master, "live-1", "echo $$ > pid; exec sleep 600"))
        ack_through(master, "live-1", ["TASK_STARTING", "TASK_RUNNING"])
        done_run, live_run = sandbox(a, master, "done-1"), sandbox(a, master, "live-1")
        pid = int(wait_for(lambda: open(os.path.join(live_run, "pid")).read().strip()
                           if os.path.exists(os.path.join(live_run, "pid")) else None, what="the task's pid"))
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(timeout=10)
        a.log.close()
        # Both were touched long ago, as far as the restarted agent can tell.
        old = time.time() - TWO_WEEKS
        for run in (done_run, live_run):
            for p in (run, os.path.dirname(os.path.dirname(run))):
                os.utime(p, (old, old))
        earlier = a.work_dir / "slaves" / "earlier-S7" / "frameworks" / "fw-0"
        earlier.mkdir(parents=True)
        os.utime(earlier.parent.parent, (old, old))
        leftover = a.work_dir / ".gc-trash" / "123-4-5" / "sub"
        leftover.mkdir(parents=True)
        (leftover / "file").write_text("x")

        b = Agent(master, tmp_path)
        try:
            done_executor = os.path.dirname(os.path.dirname(done_run))
            wait_for(lambda: not os.path.exists(done_executor), what=f"{done_executor} to be removed")
            wait_for(lambda: not os.listdir(b.work_dir / ".gc-trash"), what="the trash to be emptied")
            wait_for(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z",
                     what="the crashed agent's task to be destroyed")
            assert os.path.isdir(live_run) and os.path.isdir(earlier)
            log = agent_log(tmp_path)
            assert f"gc: the directory of an earlier agent, {earlier.parent.parent}, goes in gc_delay" in log
            assert re.search(r"gc: [0-9]+ directories left by an earlier run scheduled for removal", log)
            counts = gc_counts(b)
            # The live task's executor dir, the framework dir and the earlier agent's dir wait.
            assert counts["pending"] >= 3 and counts["failed"] == 0, counts
        finally:
            assert b.stop() == 0
    finally:
        a.stop()  # when the test failed before it killed the agent itself
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.mark.parametrize("flag,why", [
    ("--gc_delay=-1secs", "--gc_delay: invalid value '-1secs'"),
    ("--gc_delay=soon", "--gc_delay: invalid value 'soon'"),
    ("--gc_disk_headroom=1.5", "--gc_disk_headroom: invalid value '1.5' (expected 0.0 to 1.0)"),
    ("--gc_disk_headroom=-0.1", "--gc_disk_headroom"),
    ("--disk_watch_interval=0secs", "--disk_watch_interval: must be positive"),
])
def test_gc_flag_errors_name_the_flag(tmp_path, flag, why):
    proc = subprocess.run([str(AGENT), "--master=127.0.0.1:1", f"--work_dir={tmp_path}", flag],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2 and why in proc.stderr, (proc.returncode, proc.stderr)
