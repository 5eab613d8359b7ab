"""Agent recovery (issue 6, chaos test 2): an agent SIGKILLed and restarted with the
same work_dir takes back the executors and tasks of checkpointing frameworks
(same processes, still running), re-registers with the master under the same id,
and the tasks keep reporting through the new agent process. Also: a task that died
while the agent was down, and an executor that died with it, are reported with
terminal states after the restart; --recover=cleanup kills everything and exits.

A real master and agent (cluster.py); the framework is a small scheduler on
mesos_client.SchedulerClient with FrameworkInfo.checkpoint=true that acknowledges
every update and records them. Everything is polled with generous deadlines.
"""
import os
import signal

import pytest

from cgroup_paths import CONTROLLERS, VERSION, container_cgroup
from cluster import BIN, Cluster, ClusterError, Process, http_get, poll
from taskrunner import TaskRunner
from test_executors import Framework as GroupFramework
from test_executors import launch_stalled_group, start_first_group

pytestmark = pytest.mark.skipif(not (BIN / "mezzo-agent").exists(), reason=f"{BIN}/mezzo-agent not built")

TIMEOUT = 60.0
TERMINAL_STATES = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
                   "TASK_GONE"}


class Framework(TaskRunner):
    """A checkpointing scheduler (FrameworkInfo.checkpoint, a long failover timeout)
    that launches command tasks, acknowledges and records every update."""

    def __init__(self, port, checkpoint=True):
        super().__init__(port, name="recovery-test", info={"checkpoint": checkpoint, "failover_timeout": 3600})


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def starttime(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def task_command(flag_dir, task_id):
    """A task that writes its pid to its sandbox and runs until <flag_dir>/<task_id> exists."""
    return (f"echo $$ > pid; while [ ! -e {flag_dir}/{task_id} ]; do sleep 0.5; done; echo done")


def run_dir(agent, fw_id, task_id):
    runs = list(agent.work_dir.glob(f"slaves/*/frameworks/{fw_id}/executors/{task_id}/runs/*"))
    runs = [r for r in runs if r.name != "latest"]
    return runs[0] if len(runs) == 1 else None


def task_pid(agent, fw_id, task_id):
    def read():
        d = run_dir(agent, fw_id, task_id)
        if d is None:
            return None
        try:
            text = (d / "pid").read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None
    return poll(read, TIMEOUT, what=f"the pid of {task_id}")


def executor_pid(agent, fw_id, task_id):
    p = next(agent.work_dir.glob(f"meta/slaves/*/frameworks/{fw_id}/executors/{task_id}/runs/*/forked.pid"))
    return int(p.read_text().split()[0])


def sigkill_agent(agent):
    agent.process.stopping = True
    agent.process.proc.send_signal(signal.SIGKILL)
    agent.process.proc.wait(timeout=10)


def restart_agent(cluster, agent, extra=(), wait_up=True):
    """Starts the agent again with its flags (same port and work_dir) plus extra."""
    n = sum(1 for _ in cluster.logs.glob(f"agent{agent.index}*.log"))
    argv = [a for a in agent.process.argv if not a.startswith("--recover=")] + list(extra)
    p = Process(f"agent{agent.index}", argv, cluster.logs / f"agent{agent.index}-restart{n}.log", cluster.env)
    p.start()
    agent.process = p
    if wait_up:
        def up():
            if not p.alive():
                raise ClusterError(f"the restarted agent exited:\n{p.log_tail()}")
            return http_get(agent.port, "/state", timeout=2)[0] == 200
        poll(up, 30.0, what="the restarted agent")
    return p


def master_tasks(cluster, fw_id):
    state = cluster.master_state()
    for fw in state.get("frameworks", []):
        if fw["id"] == fw_id:
            return {t["id"]: t for t in fw.get("tasks", [])}
    return {}


@pytest.fixture
def flags_dir(tmp_path):
    d = tmp_path / "flags"
    d.mkdir()
    return d


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path, agents=1, resources="cpus:8;mem:8192;disk:8192;ports:[31000-32000]",
                agent_flags=["--executor_reregistration_timeout=10secs"])
    yield c
    c.stop()


def start_tasks(cluster, fw, flags_dir, ids):
    for tid in ids:
        fw.launch(tid, task_command(flags_dir, tid))
    pids = {}
    for tid in ids:
        fw.wait_state(tid, "TASK_RUNNING")
        pids[tid] = task_pid(cluster.agents[0], fw.framework_id, tid)
    return pids


def test_restarted_agent_takes_back_running_tasks(cluster, flags_dir):
    agent = cluster.agents[0]
    agent_id = agent.id
    fw = Framework(cluster.master_port)
    try:
        ids = [f"t{i:02d}" for i in range(20)]
        pids = start_tasks(cluster, fw, flags_dir, ids)
        starts = {tid: starttime(pid) for tid, pid in pids.items()}
        old_pid = agent.process.pid

        sigkill_agent(agent)
        for tid, pid in pids.items():
            assert alive(pid), f"task {tid} (pid {pid}) died with its agent"
        restart_agent(cluster, agent)
        assert agent.process.pid != old_pid

        # The same agent id, with the same 20 tasks, running in the same processes.
        def reregistered():
            slaves = [s for s in cluster.master_state().get("slaves", []) if s["id"] == agent_id]
            return slaves and slaves[0].get("active") and "reregistered_time" in slaves[0]
        poll(reregistered, TIMEOUT, what="the agent to re-register under its id")
        assert "recovered agent" in agent.process.log()
        st = agent.state()
        assert st["id"] == agent_id
        running = {t["id"] for f in st["frameworks"] for e in f["executors"] for t in e["tasks"]
                   if t["state"] == "TASK_RUNNING"}
        assert running == set(ids)
        for tid, pid in pids.items():
            assert alive(pid) and starttime(pid) == starts[tid], f"task {tid} is not the same process"
        tasks = master_tasks(cluster, fw.framework_id)
        assert {t for t, v in tasks.items() if v["state"] == "TASK_RUNNING"} == set(ids)
        assert all(v["slave_id"] == agent_id for v in tasks.values())

        # Killed through the framework: TASK_KILLED comes through the new agent process.
        killed, finished = ids[:5], ids[5:10]
        for tid in killed:
            fw.kill(tid)
        for tid in killed:
            fw.wait_state(tid, "TASK_KILLED")
            poll(lambda: not alive(pids[tid]), TIMEOUT, what=f"the process of {tid} to end")
        for tid in finished:
            (flags_dir / tid).touch()
        for tid in finished:
            fw.wait_state(tid, "TASK_FINISHED")
        log = agent.process.log()
        for tid in killed:
            assert f"TASK_KILLED for task {tid}" in log
        for tid in finished:
            assert f"TASK_FINISHED for task {tid}" in log
        # The rest are still running, and the master agrees.
        for tid in ids[10:]:
            assert alive(pids[tid])
        cluster.wait_master(lambda s: all(
            master_tasks(cluster, fw.framework_id).get(t, {}).get("state") == "TASK_RUNNING" for t in ids[10:]),
            what="the remaining tasks RUNNING on the master")
        # No update was lost or reordered: each task's states, de-duplicated by uuid, in order.
        for tid in ids:
            seen, states = set(), []
            for u in fw.updates[tid]:
                if u.get("uuid") in seen:
                    continue
                seen.add(u.get("uuid"))
                states.append(u["state"])
            assert states[:2] == ["TASK_STARTING", "TASK_RUNNING"], (tid, states)

        # Stopping the agent destroys the containers it took back, their cgroups too (the
        # killed ones are reaped by whatever reaps orphans, not by the agent).
        cids = [run_dir(agent, fw.framework_id, tid).name for tid in ids]
        assert agent.process.stop() == 0
        for cid in cids:
            for ctrl in CONTROLLERS if VERSION else ():
                assert not container_cgroup(ctrl, cid).exists(), (ctrl, cid)
    finally:
        fw.close()


def test_tasks_that_died_while_the_agent_was_down_are_reported(cluster, flags_dir):
    agent = cluster.agents[0]
    fw = Framework(cluster.master_port)
    try:
        ids = ["task-dies", "executor-dies", "survivor"]
        pids = start_tasks(cluster, fw, flags_dir, ids)
        ex_pid = executor_pid(agent, fw.framework_id, "executor-dies")
        sigkill_agent(agent)
        # While the agent is down: one task's process is killed (its executor lives and
        # keeps the update), another's executor is killed (its task is orphaned).
        os.kill(pids["task-dies"], signal.SIGKILL)
        os.kill(ex_pid, signal.SIGKILL)
        poll(lambda: not alive(pids["task-dies"]) and not alive(ex_pid), TIMEOUT, what="the kills")
        restart_agent(cluster, agent)

        fw.wait_state("task-dies", "TASK_FAILED")
        assert fw.last("task-dies")["source"] == "SOURCE_EXECUTOR"
        fw.wait_state("executor-dies", "TASK_FAILED")
        last = fw.last("executor-dies")
        assert last["source"] == "SOURCE_AGENT" and last["reason"] == "REASON_EXECUTOR_TERMINATED", last
        # The orphaned task of the dead executor was destroyed with its container.
        poll(lambda: not alive(pids["executor-dies"]), TIMEOUT, what="the orphaned task to be killed")
        assert alive(pids["survivor"])
        cluster.wait_master(lambda s: master_tasks(cluster, fw.framework_id).get("survivor", {}).get("state")
                            == "TASK_RUNNING", what="the survivor RUNNING on the master")
        (flags_dir / "survivor").touch()
        fw.wait_state("survivor", "TASK_FINISHED")
    finally:
        fw.close()


def test_executors_that_do_not_come_back_are_destroyed(tmp_path, flags_dir):
    """An executor that is alive but does not re-subscribe (stopped) is destroyed after
    --executor_reregistration_timeout and its task reported."""
    with Cluster(tmp_path, agents=1, agent_flags=["--executor_reregistration_timeout=1secs"]) as cluster:
        agent = cluster.agents[0]
        fw = Framework(cluster.master_port)
        try:
            pids = start_tasks(cluster, fw, flags_dir, ["stuck"])
            ex_pid = executor_pid(agent, fw.framework_id, "stuck")
            sigkill_agent(agent)
            os.kill(ex_pid, signal.SIGSTOP)
            restart_agent(cluster, agent)
            fw.wait_state("stuck", "TASK_FAILED")
            last = fw.last("stuck")
            assert last["reason"] == "REASON_EXECUTOR_REREGISTRATION_TIMEOUT", last
            poll(lambda: not alive(pids["stuck"]) and not alive(ex_pid), TIMEOUT, what="the executor destroyed")
        finally:
            fw.close()


def test_recover_cleanup_kills_everything_and_exits(cluster, flags_dir):
    agent = cluster.agents[0]
    fw = Framework(cluster.master_port)
    try:
        ids = ["c1", "c2", "c3"]
        pids = start_tasks(cluster, fw, flags_dir, ids)
        ex_pids = [executor_pid(agent, fw.framework_id, t) for t in ids]
        sigkill_agent(agent)
        p = restart_agent(cluster, agent, extra=["--recover=cleanup"], wait_up=False)
        poll(lambda: not p.alive(), TIMEOUT, what="the agent to exit after --recover=cleanup")
        p.stopping = True
        assert p.proc.returncode == 0, p.log_tail()
        for pid in list(pids.values()) + ex_pids:
            assert not alive(pid), f"pid {pid} survived --recover=cleanup"
        assert not (agent.work_dir / "meta" / "slaves" / "latest").exists()
        # Started again, it is a new agent with nothing to recover.
        restart_agent(cluster, agent)
        poll(lambda: agent.state().get("id") not in (None, "", agent.id), TIMEOUT, what="a new agent id")
    finally:
        fw.close()


def test_non_checkpointing_framework_is_not_recovered(cluster, flags_dir):
    agent = cluster.agents[0]
    fw = Framework(cluster.master_port, checkpoint=False)
    try:
        pids = start_tasks(cluster, fw, flags_dir, ["plain"])
        sigkill_agent(agent)
        restart_agent(cluster, agent)
        poll(lambda: not alive(pids["plain"]), TIMEOUT, what="the task of a non-checkpointing framework killed")
        fw.wait_state("plain", "TASK_LOST")
    finally:
        fw.close()


def test_task_group_queued_when_the_agent_died_is_sent_whole(cluster, stalling_server):
    """A later task group of a running default executor, held queued on the agent while
    its URI is fetched, when the agent is SIGKILLed: the restarted agent fetches the URI
    again and sends the group whole, in one LAUNCH_GROUP (its group number is
    checkpointed), and both its tasks run and finish."""
    agent = cluster.agents[0]
    fw = GroupFramework(cluster, "group-recovery", info={"checkpoint": True, "failover_timeout": 3600})
    try:
        executor = start_first_group(fw, "recovered-group-exec")
        launch_stalled_group(fw, executor, stalling_server, "queued-a", "cat slow.txt", [("queued-b", "echo b")])
        sigkill_agent(agent)
        stalling_server.asked.clear()
        restart_agent(cluster, agent)
        # The restarted agent fetches the group's URI itself (the first fetch died with it).
        assert stalling_server.asked.wait(TIMEOUT), "the restarted agent never fetched the group's URI"
        log = agent.process.log()
        assert "sending a task group" not in log and "sending task queued-" not in log, log
        stalling_server.release()
        fw.pump(lambda: fw.state("queued-a") in TERMINAL_STATES and fw.state("queued-b") in TERMINAL_STATES,
                "the recovered group to end", timeout=TIMEOUT)
        for t in ("queued-a", "queued-b"):
            assert fw.state(t) == "TASK_FINISHED", fw.statuses[t]
            assert "TASK_RUNNING" in fw.states[t], fw.states[t]
        log = agent.process.log()
        assert "sending a task group of 2 task(s) to executor recovered-group-exec" in log, log
        assert "sending task queued-" not in log, log
        assert fw.state("first") == "TASK_RUNNING", fw.states
        fw.c.kill("first", agent.id)
        fw.pump(lambda: fw.state("first") == "TASK_KILLED", "the first task to be killed", timeout=TIMEOUT)
    finally:
        fw.close()
