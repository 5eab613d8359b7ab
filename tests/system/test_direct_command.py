"""System tests of direct command tasks (src/agent/direct_command.c): a command task of a
framework that does not checkpoint, without a health check, runs with no command executor
process: the agent starts the command (the executor fork server execs it) and reports its
updates as the command executor would. Other tests of the agent (test_agent.py,
test_containerizer.py) run their command tasks this way too; these check what is
particular to it, and when it is not used. Real mezzo-agent, fake master (test_agent.py).
"""
import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from test_agent import AGENT, EXECUTOR, FRAMEWORK, Agent, FakeMaster, ack_through, registered, sandbox, wait_for

pytestmark = pytest.mark.skipif(
    not AGENT.exists() or not EXECUTOR.exists(), reason=f"{AGENT} or {EXECUTOR} not built"
)


@pytest.fixture
def master():
    m = FakeMaster()
    yield m
    m.close()


def task(master, task_id, command, shell=True, command_extra=None, **extra):
    t = {
        "name": f"name-{task_id}", "task_id": {"value": task_id}, "agent_id": {"value": master.agent_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31005, "end": 31005}]}},
        ],
        "command": {"value": command, "shell": shell, **(command_extra or {})},
    }
    t.update(extra)
    return t


def run(master, t, framework=FRAMEWORK):
    master.send({"type": "RUN_TASK", "run_task": {"framework": framework, "task": t}})


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[0].decode()


def pid_file(agent, master, task_id):
    path = os.path.join(sandbox(agent, master, task_id), "pid")
    return int(wait_for(lambda: os.path.exists(path) and open(path).read().strip(), what=f"the pid of {task_id}"))


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone, before the open or between it and the read
        return False


def test_a_command_task_runs_as_the_agents_child_with_the_executors_environment(master, tmp_path):
    a = Agent(master, tmp_path)
    try:
        registered(master)
        run(master, task(master, "direct-1",
                         "echo $$ > pid; echo $PPID $MESOS_EXECUTOR_ID $MESOS_FRAMEWORK_ID $PORT0 $GREETING; "
                         "exec sleep 1000",
                         command_extra={"environment": {"variables": [{"name": "GREETING", "value": "hi"}]}}))
        starting, running = ack_through(master, "direct-1", ["TASK_STARTING", "TASK_RUNNING"])
        for u in (starting, running):
            st = u["status_update"]["status"]
            assert st["source"] == "SOURCE_EXECUTOR" and st["executor_id"]["value"] == "direct-1", st
        pid = pid_file(a, master, "direct-1")
        box = sandbox(a, master, "direct-1")
        out = os.path.join(box, "stdout")
        line = wait_for(lambda: open(out).read().strip(), what="the task's output")
        # The shell is the container's first process: its parent is the agent, no executor in between.
        assert line == f"{a.proc.pid} direct-1 fw-1 31005 hi", line
        assert parent_of(pid) == a.proc.pid
        assert os.readlink(f"/proc/{pid}/cwd") == os.path.realpath(box)
        assert "the task's command: no executor process" in (tmp_path / "agent.log").read_text()
        # One fork server per CPU online (at most 4) by default.
        assert a.state()["flags"]["executor_fork_servers"] == str(min(os.cpu_count(), 4))
        # /state shows its executor as for any command task.
        ex = [e for fw in a.state()["frameworks"] for e in fw["executors"] if e["id"] == "direct-1"]
        assert len(ex) == 1 and ex[0]["tasks"][0]["state"] == "TASK_RUNNING", ex
        # Nobody may speak for it on the executor API.
        call = {"type": "SUBSCRIBE", "framework_id": {"value": "fw-1"}, "executor_id": {"value": "direct-1"},
                "subscribe": {}}
        req = urllib.request.Request(a.url("/api/v1/executor"), data=json.dumps(call).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 403 and b"direct command task" in e.value.read()
        # Framework messages are dropped, as the command executor ignores them.
        master.send({"type": "FRAMEWORK_MESSAGE", "framework_message": {
            "framework_id": {"value": "fw-1"}, "executor_id": {"value": "direct-1"}, "data": "aGVsbG8="}})
        wait_for(lambda: "dropping a framework message for executor direct-1 of framework fw-1: not an executor "
                 "process" in (tmp_path / "agent.log").read_text(), what="the message to be dropped")
        # A kill: TASK_KILLING (the framework has the capability), then TASK_KILLED from the signal.
        master.send({"type": "KILL_TASK", "kill_task": {"framework_id": {"value": "fw-1"},
                                                       "task_id": {"value": "direct-1"}}})
        killing, killed = ack_through(master, "direct-1", ["TASK_KILLING", "TASK_KILLED"])
        st = killed["status_update"]["status"]
        assert st["source"] == "SOURCE_EXECUTOR" and st["message"] == "Command terminated with signal Terminated", st
        wait_for(lambda: not alive(pid), what="the command to be gone")
    finally:
        assert a.stop() == 0


def test_exit_statuses_and_a_command_looked_up_in_the_tasks_path(master, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    prog = bindir / "mz-prog"
    prog.write_text("#!/bin/sh\necho prog \"$@\"\nexit 4\n")
    prog.chmod(0o755)
    a = Agent(master, tmp_path)
    try:
        registered(master)
        # shell=false: the value is looked up in the PATH the task gets, its own included.
        run(master, task(master, "path-1", "mz-prog", shell=False, command_extra={
            "arguments": ["mz-prog", "x"],
            "environment": {"variables": [{"name": "PATH", "value": f"/nowhere:{bindir}"}]}}))
        _, _, failed = ack_through(master, "path-1", ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"])
        assert failed["status_update"]["status"]["message"] == "Command exited with status 4"
        assert open(os.path.join(sandbox(a, master, "path-1"), "stdout")).read() == "prog x\n"
        # Not found there: TASK_FAILED naming it, with no TASK_RUNNING before.
        run(master, task(master, "path-2", "mz-no-such-prog", shell=False))
        _, failed = ack_through(master, "path-2", ["TASK_STARTING", "TASK_FAILED"])
        st = failed["status_update"]["status"]
        assert st["message"] == "Failed to launch the command: mz-no-such-prog: No such file or directory", st
        assert st["source"] == "SOURCE_EXECUTOR"
        assert not [u for u in master.updates("path-2") if u["status_update"]["status"]["state"] == "TASK_RUNNING"]
        # A signal.
        run(master, task(master, "sig-1", "kill -9 $$"))
        _, _, failed = ack_through(master, "sig-1", ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"])
        assert failed["status_update"]["status"]["message"] == "Command terminated with signal Killed"
    finally:
        assert a.stop() == 0


def test_checkpointing_frameworks_health_checks_and_the_flag_keep_the_command_executor(master, tmp_path):
    a = Agent(master, tmp_path)
    try:
        registered(master)
        cmd = "echo $$ > pid; exec sleep 1000"
        run(master, task(master, "ckpt-1", cmd), framework=dict(FRAMEWORK, id={"value": "fw-ck"}, checkpoint=True))
        hc = {"type": "COMMAND", "command": {"value": "true"}, "interval_seconds": 1, "delay_seconds": 0}
        run(master, task(master, "hc-1", cmd, health_check=hc))
        for tid in ("ckpt-1", "hc-1"):
            master.ack(master.wait_update(tid, "TASK_STARTING"))
            master.ack(master.wait_update(tid, "TASK_RUNNING"))

        def executor_parent(tid):
            box = wait_for(lambda: [os.path.join(r, d) for r, ds, _ in os.walk(a.work_dir / "slaves")
                                    for d in ds if r.endswith(f"/executors/{tid}/runs") and d != "latest"],
                           what=f"the sandbox of {tid}")[0]
            path = os.path.join(box, "pid")
            pid = int(wait_for(lambda: os.path.exists(path) and open(path).read().strip(), what=f"pid of {tid}"))
            return parent_of(pid)
        for tid in ("ckpt-1", "hc-1"):
            ppid = executor_parent(tid)
            assert ppid != a.proc.pid and parent_of(ppid) == a.proc.pid, tid
            assert cmdline(ppid).endswith("mezzo-executor"), (tid, cmdline(ppid))
    finally:
        assert a.stop() == 0
    # --direct_command_tasks=false: every command task has its executor.
    m2 = FakeMaster()
    (tmp_path / "b").mkdir()
    b = Agent(m2, tmp_path / "b", extra=["--direct_command_tasks=false"])
    try:
        registered(m2)
        run(m2, task(m2, "plain-1", "echo $$ > pid; exec sleep 1000"))
        ack_through(m2, "plain-1", ["TASK_STARTING", "TASK_RUNNING"])
        ppid = parent_of(pid_file(b, m2, "plain-1"))
        assert ppid != b.proc.pid and cmdline(ppid).endswith("mezzo-executor")
    finally:
        assert b.stop() == 0
        m2.close()


def test_the_command_goes_with_the_agent(master, tmp_path):
    a = Agent(master, tmp_path)
    pid = None
    try:
        registered(master)
        run(master, task(master, "orphan-1", "echo $$ > pid; exec sleep 1000"))
        ack_through(master, "orphan-1", ["TASK_STARTING", "TASK_RUNNING"])
        pid = pid_file(a, master, "orphan-1")
        # As the command executor of a framework that does not checkpoint takes its command with it.
        a.proc.kill()
        a.proc.wait()
        wait_for(lambda: not alive(pid), what="the command to die with the agent")
    finally:
        if pid and alive(pid):
            os.kill(pid, signal.SIGKILL)
        a.stop()
    # The next agent destroys what is left of its container.
    b = Agent(master, tmp_path)
    try:
        wait_for(lambda: f"left by an earlier run (leader pid {pid})" in (tmp_path / "agent.log").read_text(),
                 what="the next start's cleanup of the container")
    finally:
        assert b.stop() == 0


def test_many_short_commands_launched_at_once_all_end(master, tmp_path):
    """The agent does not wait for the fork servers' replies to each launch: it takes the pids
    later, in each server's launch order, before anything needs them. Commands that exit at
    once, many at a time and spread over three servers (a later launch's command may end
    before an earlier one's pid has come from another server), are each reaped as their own
    container's (none is left RUNNING), kill included."""
    n = 150
    a = Agent(master, tmp_path, extra=["--executor_fork_servers=3"])
    try:
        registered(master)
        assert "--fork-server (3 servers, pids " in (tmp_path / "agent.log").read_text()
        flags = a.state()["flags"]
        assert flags["executor_fork_server"] == "true" and flags["executor_fork_servers"] == "3", flags
        for i in range(n):
            t = task(master, f"many-{i}", "exit $((%d %% 3))" % i)
            del t["resources"][2]  # no port: they run side by side
            run(master, t)
        # Killed as soon as launched: the kill waits for the pid, then signals the container.
        run(master, task(master, "many-kill", "exec sleep 1000"))
        master.send({"type": "KILL_TASK", "kill_task": {"framework_id": FRAMEWORK["id"],
                                                        "task_id": {"value": "many-kill"}}})
        for i in range(n):
            states = ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED" if i % 3 == 0 else "TASK_FAILED"]
            *_, last = ack_through(master, f"many-{i}", states)
            if i % 3:
                assert last["status_update"]["status"]["message"] == f"Command exited with status {i % 3}"
        acked = 0
        while True:  # STARTING, KILLING (and RUNNING, if the exec came first), KILLED: each acked in turn
            ups = wait_for(lambda: master.updates("many-kill")[acked:], what="the next update of many-kill")
            master.ack(ups[0])
            acked += 1
            if ups[0]["status_update"]["status"]["state"] == "TASK_KILLED":
                break
        assert "its pid to come" in (tmp_path / "agent.log").read_text()  # launched without waiting
    finally:
        assert a.stop() == 0


def test_launches_go_to_the_running_fork_servers_when_one_breaks(master, tmp_path):
    """A fork server that broke is found at the next launch given to it (that one is exec'd
    by the agent) and is left alone until it may be restarted: later launches go to a
    running server rather than being exec'd."""
    a = Agent(master, tmp_path, extra=["--executor_fork_servers=2", "--logging_level=DEBUG"])
    try:
        registered(master)
        m = re.search(r"--fork-server \(2 servers, pids (\d+), (\d+)\)", (tmp_path / "agent.log").read_text())
        first, second = int(m.group(1)), int(m.group(2))
        os.kill(first, signal.SIGKILL)  # the one that wins ties
        wait_for(lambda: not alive(first), what="the killed server to be gone")
        for i in range(5):
            t = task(master, f"after-{i}", "exit 0")
            del t["resources"][2]
            run(master, t)
            ack_through(master, f"after-{i}", ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"])
        log = (tmp_path / "agent.log").read_text()
        assert f"executor fork server (pid {first}): " in log
        assert log.count("; exec'ing ") == 1, log  # the launch that found it broken, alone
        assert alive(second)
    finally:
        assert a.stop() == 0

@pytest.mark.parametrize("value", ["9", "-1"])
def test_the_fork_server_count_is_checked(tmp_path, value):
    proc = subprocess.run([str(AGENT), "--master=127.0.0.1:1", f"--work_dir={tmp_path}/w",
                           f"--executor_fork_servers={value}"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert f"flag --executor_fork_servers: invalid value '{value}' (expected 0-8)" in proc.stderr, proc.stderr
