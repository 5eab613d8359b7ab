"""Executors other than the command executor, end to end through a real
mezzo-master and mezzo-agent and the Mesos v1 scheduler API (mesos_client.py):

- a custom executor (ExecutorInfo type CUSTOM, examples/executor/example_executor.c,
  built as mezzo-example-executor) runs tasks, and framework messages flow
  scheduler -> master -> agent -> executor and back (the scheduler gets MESSAGE);
- task groups (ACCEPT with LAUNCH_GROUP, ExecutorInfo type DEFAULT) run under the
  default executor (mezzo-executor --default): every task starts, and when one
  fails the others are killed (TASK_KILLED), as in Mesos.

Every wait is a poll on the event stream with a generous deadline."""
import base64
import getpass
import threading
import time

import pytest

from cluster import BIN
from mesos_client import SchedulerClient, take_scalars
from cgroup_paths import cpu_weight, cpu_weight_of, mem_limit_of, needs_cgroups
from test_containerizer import FileServer

EXAMPLE = BIN / "mezzo-example-executor"
WAIT = 60.0
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED"}


class Framework:
    """A scheduler on the real master that records every update and message."""

    def __init__(self, cluster, name, info=None):
        self.c = SchedulerClient("127.0.0.1", cluster.master_port)
        self.c.subscribe({"user": getpass.getuser(), "name": name, **(info or {})})
        self.states = {}    # task id -> [states]
        self.statuses = {}  # task id -> last status
        self.messages = []  # (executor id, bytes)
        self.offers = []

    def pump(self, pred, what, timeout=WAIT):
        """Reads events (acknowledging updates, keeping offers) until pred() is true."""
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; states {self.states}, "
                                     f"messages {self.messages}")
            ev = self.c.next_event(timeout=left)
            t = ev["type"]
            if t == "OFFERS":
                self.offers.extend(ev["offers"]["offers"])
            elif t == "RESCIND":
                oid = ev["rescind"]["offer_id"]["value"]
                self.offers = [o for o in self.offers if o["id"]["value"] != oid]
            elif t == "UPDATE":
                st = ev["update"]["status"]
                tid = st["task_id"]["value"]
                self.states.setdefault(tid, []).append(st["state"])
                self.statuses[tid] = st
                self.c.acknowledge(st)
            elif t == "MESSAGE":
                m = ev["message"]
                self.messages.append((m["executor_id"]["value"], base64.b64decode(m["data"])))
            elif t == "ERROR":
                raise AssertionError(f"ERROR event: {ev}")

    def offer(self):
        self.pump(lambda: self.offers, "an offer")
        return self.offers.pop(0)

    def state(self, tid):
        return self.states.get(tid, [None])[-1]

    def close(self):
        try:
            self.c.teardown()
        except Exception:  # noqa: BLE001 - best effort at the end of a test
            pass
        self.c.close()


@pytest.fixture
def framework(cluster):
    made = []

    def make(name):
        f = Framework(cluster, name)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


def scalars(offer_res, cpus, mem):
    taken = take_scalars(offer_res, {"cpus": cpus, "mem": mem})
    assert taken is not None, f"offer too small: {offer_res}"
    return taken


# --------------------------------------------------------------------------- custom executor

@pytest.mark.skipif(not EXAMPLE.exists(), reason=f"{EXAMPLE} not built")
def test_custom_executor_runs_tasks_and_echoes_framework_messages(cluster, framework):
    fw = framework("custom-executor")
    offer = fw.offer()
    res = [dict(r) for r in offer["resources"]]
    executor = {
        "executor_id": {"value": "echo-executor"},
        "type": "CUSTOM",
        "name": "example executor",
        "command": {"value": str(EXAMPLE), "shell": False, "arguments": ["mezzo-example-executor"]},
        "resources": scalars(res, 0.1, 32),
    }
    tasks = [
        {"name": "long", "task_id": {"value": "long"}, "agent_id": offer["agent_id"],
         "resources": scalars(res, 0.1, 16), "executor": executor},
        {"name": "short", "task_id": {"value": "short"}, "agent_id": offer["agent_id"],
         "resources": scalars(res, 0.1, 16), "executor": executor,
         "data": base64.b64encode(b"echo short-ran; exit 0").decode()},
    ]
    fw.c.launch([offer["id"]], tasks, refuse_seconds=60.0)
    fw.pump(lambda: fw.state("long") == "TASK_RUNNING" and fw.state("short") == "TASK_FINISHED",
            "the custom executor's tasks to run")
    assert fw.statuses["long"]["executor_id"]["value"] == "echo-executor"
    assert fw.statuses["long"].get("source") == "SOURCE_EXECUTOR"

    # scheduler -> master -> agent -> executor, and the echo all the way back.
    agent_id = offer["agent_id"]["value"]
    for i in range(3):
        fw.c.message(agent_id, "echo-executor", f"ping-{i}".encode())
    fw.pump(lambda: len(fw.messages) >= 3, "three echoed framework messages")
    assert sorted(fw.messages) == [("echo-executor", f"echo:ping-{i}".encode()) for i in range(3)]

    # The agent's view: one executor running both tasks, in its own sandbox.
    state = cluster.agent_state()
    execs = [e for f in state["frameworks"] for e in f["executors"]]
    assert [e["id"] for e in execs] == ["echo-executor"]
    out = (cluster.agents[0].sandboxes()[0] / "stdout").read_text()
    assert "running task long" in out and "short-ran" in out

    fw.c.kill("long", agent_id)
    fw.pump(lambda: fw.state("long") == "TASK_KILLED", "the long task to be killed")
    assert fw.statuses["long"].get("message") == "Killed by the example executor"


@needs_cgroups
@pytest.mark.skipif(not EXAMPLE.exists(), reason=f"{EXAMPLE} not built")
def test_custom_executor_limits_follow_its_tasks(cluster, framework):
    """A running executor given more tasks gets their cpus and memory added to its
    container's limits; when a task ends its cpus go, its memory stays (Mesos never
    lowers a running container's memory limit)."""
    fw = framework("growing-executor")
    executor = {"executor_id": {"value": "grow-executor"}, "type": "CUSTOM",
                "command": {"value": str(EXAMPLE), "shell": False, "arguments": ["mezzo-example-executor"]}}

    def launch_one(tid, cpus, mem):
        offer = fw.offer()
        res = [dict(r) for r in offer["resources"]]
        if "resources" not in executor:
            executor["resources"] = scalars(res, 0.1, 32)
        fw.c.launch([offer["id"]], [{"name": tid, "task_id": {"value": tid}, "agent_id": offer["agent_id"],
                                      "resources": scalars(res, cpus, mem), "executor": executor}],
                    refuse_seconds=0.1)
        fw.pump(lambda: fw.state(tid) == "TASK_RUNNING", f"{tid} to run")
        return offer["agent_id"]["value"]

    def limits():
        execs = [e for f in cluster.agent_state()["frameworks"] for e in f["executors"]]
        cid = [e["container"] for e in execs if e["id"] == "grow-executor"][0]
        return cpu_weight_of(cid), mem_limit_of(cid) >> 20

    agent_id = launch_one("first", 0.2, 16)
    assert limits() == (cpu_weight(0.3), 32 + 16)
    fw.c.revive()
    launch_one("second", 0.5, 64)
    deadline = time.monotonic() + WAIT
    while limits() != (cpu_weight(0.8), 32 + 16 + 64):
        assert time.monotonic() < deadline, f"limits not raised: {limits()}"
        time.sleep(0.1)
    fw.c.kill("second", agent_id)
    fw.pump(lambda: fw.state("second") == "TASK_KILLED", "the second task to be killed")
    while limits() != (cpu_weight(0.3), 32 + 16 + 64):
        assert time.monotonic() < deadline, f"cpus not lowered (memory kept): {limits()}"
        time.sleep(0.1)


# --------------------------------------------------------------------------- task groups

def group_task(offer, res, tid, command, cpus=0.1, mem=16):
    return {"name": tid, "task_id": {"value": tid}, "agent_id": offer["agent_id"],
            "resources": scalars(res, cpus, mem), "command": {"value": command, "shell": True}}


def launch_group(fw, offer, res, executor_id, tasks, executor=None):
    """Launches a task group; executor: the ExecutorInfo of a running executor to
    reuse (its resources are not taken again). Returns the ExecutorInfo used."""
    if executor is None:
        # Mesos wants the default executor's cpus, mem and disk given explicitly.
        taken = take_scalars(res, {"cpus": 0.1, "mem": 32, "disk": 32})
        assert taken is not None, f"offer too small: {res}"
        executor = {"executor_id": {"value": executor_id}, "type": "DEFAULT", "resources": taken}
    fw.c.accept([offer["id"]], [{"type": "LAUNCH_GROUP", "launch_group": {
        "executor": executor, "task_group": {"tasks": tasks}}}], refuse_seconds=60.0)
    return executor


def test_task_group_one_fails_and_the_others_are_killed(cluster, framework):
    fw = framework("task-group-fail")
    offer = fw.offer()
    res = [dict(r) for r in offer["resources"]]
    tasks = [group_task(offer, res, "sleeper-a", "sleep 1000"),
             group_task(offer, res, "sleeper-b", "sleep 1000"),
             # Fails once its siblings have had time to start (they are started together).
             group_task(offer, res, "failer", "sleep 1; exit 3")]
    launch_group(fw, offer, res, "group-exec", tasks)
    fw.pump(lambda: all(fw.state(t) in TERMINAL for t in ("sleeper-a", "sleeper-b", "failer")),
            "every task of the group to end")
    assert fw.state("failer") == "TASK_FAILED", fw.states
    assert "status 3" in fw.statuses["failer"].get("message", "")
    for t in ("sleeper-a", "sleeper-b"):
        assert fw.state(t) == "TASK_KILLED", fw.states
        assert "TASK_RUNNING" in fw.states[t], f"{t} never ran: {fw.states[t]}"
    assert "TASK_RUNNING" in fw.states["failer"]
    for t, st in fw.statuses.items():
        assert st["executor_id"]["value"] == "group-exec"

    # The default executor exits once all is acknowledged; the agent completes it.
    def executor_completed():
        s = cluster.agent_state()
        live = [e for f in s["frameworks"] for e in f["executors"]]
        return not live
    deadline = time.monotonic() + WAIT
    while not executor_completed():
        assert time.monotonic() < deadline, f"executor still live: {cluster.agent_state()}"
        time.sleep(0.2)
    sandbox = cluster.agents[0].sandboxes()[0]
    assert "launching task group" in (sandbox / "stderr").read_text()


def test_task_group_all_finish_and_kill_kills_the_group(cluster, framework):
    fw = framework("task-group-ok")
    offer = fw.offer()
    res = [dict(r) for r in offer["resources"]]
    launch_group(fw, offer, res, "ok-exec", [group_task(offer, res, "one", "echo one"),
                                             group_task(offer, res, "two", "echo two")])
    fw.pump(lambda: fw.state("one") == "TASK_FINISHED" and fw.state("two") == "TASK_FINISHED",
            "both tasks of the group to finish")
    assert fw.states["one"][:2] == ["TASK_STARTING", "TASK_RUNNING"], fw.states

    # A second group on a new executor: killing one of its tasks kills the group.
    fw.c.revive()
    offer = fw.offer()
    res = [dict(r) for r in offer["resources"]]
    launch_group(fw, offer, res, "kill-exec", [group_task(offer, res, "k1", "sleep 1000"),
                                               group_task(offer, res, "k2", "sleep 1000")])
    fw.pump(lambda: fw.state("k1") == "TASK_RUNNING" and fw.state("k2") == "TASK_RUNNING",
            "the second group to run")
    fw.c.kill("k1", offer["agent_id"]["value"])
    fw.pump(lambda: fw.state("k1") == "TASK_KILLED" and fw.state("k2") == "TASK_KILLED",
            "the whole group to be killed")


def test_task_group_uris_are_fetched_into_the_executor_sandbox(cluster, framework, tmp_path):
    data = tmp_path / "group-data.txt"
    data.write_text("fetched for the group\n")
    fw = framework("task-group-uris")
    offer = fw.offer()
    res = [dict(r) for r in offer["resources"]]
    reader = group_task(offer, res, "reader", "cat group-data.txt && test -x tool.sh")
    reader["command"]["uris"] = [{"value": str(data)}]
    tool = tmp_path / "tool.sh"
    tool.write_text("#!/bin/sh\necho tool\n")
    helper = group_task(offer, res, "helper", "./tool.sh")
    helper["command"]["uris"] = [{"value": str(tool), "executable": True}]
    launch_group(fw, offer, res, "uris-exec", [reader, helper])
    fw.pump(lambda: fw.state("reader") in TERMINAL and fw.state("helper") in TERMINAL, "both tasks to end")
    assert fw.state("reader") == "TASK_FINISHED" and fw.state("helper") == "TASK_FINISHED", fw.statuses
    sandbox = [s for s in cluster.agents[0].sandboxes() if (s / "group-data.txt").exists()]
    assert sandbox, "the URI is not in the executor's sandbox"
    assert "fetched for the group" in (sandbox[0] / "stdout").read_text()

    # A URI that cannot be fetched fails the whole group, with a message naming it.
    fw.c.revive()
    offer = fw.offer()
    res = [dict(r) for r in offer["resources"]]
    missing = str(tmp_path / "not-there.tar.gz")
    bad = group_task(offer, res, "bad-uri", "true")
    bad["command"]["uris"] = [{"value": missing}]
    launch_group(fw, offer, res, "bad-uris-exec", [bad, group_task(offer, res, "sibling", "sleep 1000")])
    fw.pump(lambda: fw.state("bad-uri") in TERMINAL and fw.state("sibling") in TERMINAL, "the group to fail")
    for t in ("bad-uri", "sibling"):
        st = fw.statuses[t]
        assert st["state"] == "TASK_FAILED" and st["reason"] == "REASON_CONTAINER_LAUNCH_FAILED", st
        assert missing in st["message"] and "Failed to fetch" in st["message"], st


# --------------------------------------------------------------------------- later task groups

class StallingServer(FileServer):
    """A FileServer whose /slow.txt answers only once release() is called (or after
    a long safety timeout), to hold a fetch in progress."""

    def __init__(self):
        self.gate = threading.Event()
        self.asked = threading.Event()
        gate, asked = self.gate, self.asked

        class Files(dict):
            def get(self, path, default=None):
                if path == "/slow.txt":
                    asked.set()
                    gate.wait(120)
                return dict.get(self, path, default)

        super().__init__(Files({"/slow.txt": b"slow\n", "/second.txt": b"fetched for the second group\n"}))
        # A fetcher killed mid-request (a cancelled fetch) is expected: no traceback for it.
        self.httpd.handle_error = lambda request, address: None

    def release(self):
        self.gate.set()


def start_first_group(fw, executor_id):
    """A default executor running one long task ("first"); returns its ExecutorInfo."""
    offer = fw.offer()
    res = [dict(r) for r in offer["resources"]]
    executor = launch_group(fw, offer, res, executor_id, [group_task(offer, res, "first", "sleep 1000")])
    fw.pump(lambda: fw.state("first") == "TASK_RUNNING", "the first group to run")
    return executor


def launch_more(fw, executor, tasks_of):
    """Another task group for the running executor, from a new offer."""
    fw.c.revive()
    offer = fw.offer()
    res = [dict(r) for r in offer["resources"]]
    launch_group(fw, offer, res, None, tasks_of(offer, res), executor=executor)


def launch_stalled_group(fw, executor, server, task_id, command, siblings=()):
    """Sends the running executor a group whose task task_id (command) has a URI that
    the stalling server holds, with its siblings ((task id, command) pairs); returns
    once the agent asked the server for it: the group is then queued on the agent."""
    url = server.url("/slow.txt")

    def tasks_of(offer, res):
        t = group_task(offer, res, task_id, command)
        t["command"]["uris"] = [{"value": url}]
        return [t] + [group_task(offer, res, tid, cmd) for tid, cmd in siblings]
    launch_more(fw, executor, tasks_of)
    assert server.asked.wait(WAIT), "the agent never asked for the URI"


def agent_task_states(cluster):
    s = cluster.agent_state()
    return {t["id"]: t["state"] for f in s["frameworks"] for e in f["executors"] for t in e["tasks"]}


def test_later_task_groups_get_their_uris_fetched(cluster, framework, stalling_server, tmp_path):
    fw = framework("later-group-uris")
    executor = start_first_group(fw, "later-exec")
    url = stalling_server.url("/second.txt")

    def second(offer, res):
        t = group_task(offer, res, "second", "test -f second.txt && cat second.txt")
        t["command"]["uris"] = [{"value": url}]
        return [t]
    launch_more(fw, executor, second)
    fw.pump(lambda: fw.state("second") in TERMINAL, "the second group's task to end")
    assert fw.state("second") == "TASK_FINISHED", fw.statuses["second"]
    assert fw.state("first") == "TASK_RUNNING", fw.states
    sandbox = [s for s in cluster.agents[0].sandboxes() if (s / "second.txt").exists()]
    assert sandbox, "the URI is not in the executor's sandbox"
    assert "fetched for the second group" in (sandbox[0] / "stdout").read_text()

    # A URI that cannot be fetched fails that group (naming the URI); the executor goes on.
    missing = str(tmp_path / "not-there.txt")

    def bad(offer, res):
        t = group_task(offer, res, "bad-later", "true")
        t["command"]["uris"] = [{"value": missing}]
        return [t, group_task(offer, res, "bad-sibling", "sleep 1000")]
    launch_more(fw, executor, bad)
    fw.pump(lambda: fw.state("bad-later") in TERMINAL and fw.state("bad-sibling") in TERMINAL,
            "the bad group to fail")
    for t in ("bad-later", "bad-sibling"):
        st = fw.statuses[t]
        # Mesos has no REASON_FETCHER_FAILED: a failed fetch is a container launch failure there.
        assert st["state"] == "TASK_FAILED" and st["reason"] == "REASON_CONTAINER_LAUNCH_FAILED", st
        assert missing in st["message"] and "Failed to fetch" in st["message"], st
        assert "TASK_RUNNING" not in fw.states[t], fw.states[t]
    assert fw.state("first") == "TASK_RUNNING", fw.states
    assert agent_task_states(cluster).get("first") == "TASK_RUNNING"
    fw.c.kill("first", cluster.agents[0].id)
    fw.pump(lambda: fw.state("first") == "TASK_KILLED", "the first task to be killed")


def test_kill_while_a_later_group_fetches(cluster, framework, stalling_server):
    fw = framework("later-group-kill")
    executor = start_first_group(fw, "kill-fetch-exec")
    launch_stalled_group(fw, executor, stalling_server, "slow", "cat slow.txt; sleep 1000",
                         [("slow-sibling", "sleep 1000")])
    # Killed while its URI is on its way: the whole group is killed before it runs.
    fw.c.kill("slow", cluster.agents[0].id)
    fw.pump(lambda: fw.state("slow") in TERMINAL and fw.state("slow-sibling") in TERMINAL, "the group to be killed")
    for t in ("slow", "slow-sibling"):
        st = fw.statuses[t]
        assert st["state"] == "TASK_KILLED" and st["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH", st
    stalling_server.release()
    # The fetch ends after the kill: the killed group is not sent; the first task runs on.
    launch_more(fw, executor, lambda offer, res: [group_task(offer, res, "after", "echo after")])
    fw.pump(lambda: fw.state("after") in TERMINAL, "a group sent after the killed one")
    assert fw.state("after") == "TASK_FINISHED", fw.statuses["after"]
    for t in ("slow", "slow-sibling"):
        assert fw.states[t] == ["TASK_KILLED"], fw.states[t]
    assert fw.state("first") == "TASK_RUNNING", fw.states
    fw.c.kill("first", cluster.agents[0].id)
    fw.pump(lambda: fw.state("first") == "TASK_KILLED", "the first task to be killed")


def test_executor_ending_while_a_later_group_fetches(cluster, framework, stalling_server):
    fw = framework("later-group-exit")
    executor = start_first_group(fw, "exit-fetch-exec")
    launch_stalled_group(fw, executor, stalling_server, "orphan", "cat slow.txt")
    # The only running task is killed: the default executor has nothing left and exits
    # while the later group still fetches. That group gets a terminal update all the same.
    fw.c.kill("first", cluster.agents[0].id)
    fw.pump(lambda: fw.state("first") == "TASK_KILLED" and fw.state("orphan") in TERMINAL,
            "the executor to end and the fetching group with it")
    st = fw.statuses["orphan"]
    assert st["state"] == "TASK_FAILED" and st["source"] == "SOURCE_AGENT", st
    assert "TASK_RUNNING" not in fw.states["orphan"]
    stalling_server.release()
