"""`make run`'s script (scripts/run-cluster.sh) as a user meets it: it starts a
master and an agent, prints a command that runs a task, that command brings the
task to TASK_FINISHED, and Ctrl-C (SIGINT) stops both processes cleanly."""
import os
import re
import shlex
import signal
import subprocess
import time

from cluster import BIN, ROOT, free_port


def test_run_script_starts_a_cluster_that_runs_the_printed_command(tmp_path):
    env = dict(os.environ, BIN_DIR=str(BIN), RUN_DIR=str(tmp_path / "run"),
               MASTER_PORT=str(free_port()), AGENT_PORT=str(free_port()))
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run-cluster.sh")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        lines = []
        deadline = time.monotonic() + 90
        command = None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Run a task:" in line:
                command = proc.stdout.readline().strip()
                break
        assert command, "no command printed:\n" + "".join(lines)
        assert re.search(r"mezzo execute --master=127\.0\.0\.1:\d+ ", command), command
        run = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "TASK_FINISHED" in run.stdout
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert "Stopped." in out
    # Both daemons are gone (they were in the script's process group).
    ps = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-g", str(proc.pid)], capture_output=True, text=True)
    alive = [p for p in ps.stdout.splitlines() if p.split()[1][0] != "Z"]  # zombies await their new parent
    assert alive == [], alive
