"""End to end through the Mesos v1 scheduler HTTP API: a real mezzo-master and
mezzo-agent, driven by mesos_client.py (a client written only from the Mesos
document, standing for an unchanged third-party framework)."""
import getpass
import time

import pytest

from mesos_client import SchedulerClient, scalar, take_scalars

N_TASKS = 100
TASK_RES = {"cpus": 0.1, "mem": 16.0}
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
            "TASK_GONE", "TASK_GONE_BY_OPERATOR"}


def framework_info(name):
    return {"user": getpass.getuser(), "name": name}


def range_count(resources, name):
    n = 0
    for r in resources:
        if r.get("name") == name and r.get("type") == "RANGES":
            for rg in r.get("ranges", {}).get("range", []):
                n += rg["end"] - rg["begin"] + 1
    return n


def summary_ports_count(text):
    """'[31000-32000, 33000-33001]' -> number of ports."""
    n = 0
    for part in text.strip("[]").split(","):
        part = part.strip()
        if not part:
            continue
        b, _, e = part.partition("-")
        n += int(e or b) - int(b) + 1
    return n


def executors_with_dirs(agent_state):
    """{executor_id: directory} over the agent's /state (running and completed)."""
    out = {}
    for key in ("frameworks", "completed_frameworks"):
        for fw in agent_state.get(key, []):
            for ekey in ("executors", "completed_executors"):
                for ex in fw.get(ekey, []):
                    if ex.get("directory"):
                        out[ex["id"]] = ex["directory"]
                        for t in ex.get("tasks", []) + ex.get("completed_tasks", []) + ex.get("queued_tasks", []):
                            out.setdefault("task:" + t.get("id", ""), ex["directory"])
    return out


def run_tasks(client, n, prefix, command_for, deadline_s=300.0):
    """Launches n tasks from offers as they come; acknowledges every update that has a uuid.
    Returns ({task_id: [states]}, {task_id: last status})."""
    states = {f"{prefix}{i}": [] for i in range(n)}
    last = {}
    pending = list(states)
    deadline = time.monotonic() + deadline_s
    while len(last) < n or any(s["state"] not in TERMINAL for s in last.values()):
        left = deadline - time.monotonic()
        if left <= 0:
            done = sum(1 for s in last.values() if s["state"] in TERMINAL)
            raise AssertionError(f"only {done}/{n} tasks terminal, {len(pending)} never launched")
        ev = client.next_event(timeout=left)
        t = ev["type"]
        if t == "OFFERS":
            for offer in ev["offers"]["offers"]:
                assert offer["framework_id"] == client.framework_id
                assert "url" in offer, "an offer carries its agent's url"
                res = [dict(r) for r in offer.get("resources", [])]
                tasks = []
                while pending:
                    taken = take_scalars(res, TASK_RES)
                    if taken is None:
                        break
                    tid = pending.pop(0)
                    tasks.append({"name": tid, "task_id": {"value": tid}, "agent_id": offer["agent_id"],
                                  "resources": taken,
                                  "command": {"shell": True, "value": command_for(tid)}})
                if tasks:
                    client.launch([offer["id"]], tasks, refuse_seconds=0.0)
                else:
                    client.decline([offer["id"]], refuse_seconds=60.0 if not pending else 0.5)
        elif t == "UPDATE":
            st = ev["update"]["status"]
            tid = st["task_id"]["value"]
            assert tid in states, f"update for a task we never launched: {st}"
            assert "agent_id" in st, f"an update names its agent: {st}"
            states[tid].append(st["state"])
            last[tid] = st
            client.acknowledge(st)
        elif t in ("RESCIND", "MESSAGE", "FAILURE"):
            pass
        elif t == "ERROR":
            raise AssertionError(f"ERROR event: {ev}")
        else:
            assert t in ("SUBSCRIBED", "UPDATE_OPERATION_STATUS", "INVERSE_OFFERS", "RESCIND_INVERSE_OFFER"), \
                f"unknown event type {t}"
    return states, last


def test_hundred_tasks_through_the_http_api(cluster):
    agent = cluster.agents[0]
    client = SchedulerClient("127.0.0.1", cluster.master_port)
    try:
        sub = client.subscribe(framework_info("hundred"))
        assert sub["subscribed"]["framework_id"]["value"]
        assert client.subscribe_headers.get("content-type", "").startswith("application/json")

        states, last = run_tasks(client, N_TASKS, "task-", lambda tid: f"echo {tid}")
        not_finished = {tid: s for tid, s in last.items() if s["state"] != "TASK_FINISHED"}
        assert not not_finished, f"tasks not finished: {not_finished}"
        for tid, seq in states.items():
            assert seq[-1] == "TASK_FINISHED", (tid, seq)

        # Every sandbox's stdout holds its task's output.
        dirs = executors_with_dirs(agent.state())
        fw = client.framework_id["value"]
        for i in range(N_TASKS):
            tid = f"task-{i}"
            d = dirs.get(tid) or dirs.get("task:" + tid)
            if d is None:  # the Mesos layout under the agent's work_dir
                runs = sorted(agent.work_dir.glob(f"slaves/*/frameworks/{fw}/executors/{tid}/runs/*"))
                runs = [r for r in runs if r.name != "latest"]
                assert runs, f"no sandbox for {tid} under {agent.work_dir}"
                d = str(runs[-1])
            with open(f"{d}/stdout", errors="replace") as f:
                out = f.read()
            assert tid in out.splitlines(), f"{d}/stdout lacks '{tid}': {out[-500:]!r}"

        # Afterwards everything is free again: used_resources zero...
        def all_free(state):
            s = [a for a in state["slaves"] if a["id"] == agent.id][0]
            used = s.get("used_resources", {})
            return s if used.get("cpus", 0) < 1e-6 and used.get("mem", 0) < 1e-6 else None
        slave = cluster.wait_master(all_free, timeout=60, what="the agent's used_resources to drop to zero")
        total = slave["resources"]

        # ...and a fresh offer holds the whole agent.
        client.revive()
        pool = {}
        deadline = time.monotonic() + 60

        def whole(pool):
            res = [r for o in pool.values() for r in o.get("resources", [])]
            ok = all(abs(scalar(res, k) - total.get(k, 0.0)) < 1e-6 for k in ("cpus", "mem", "disk"))
            if ok and isinstance(total.get("ports"), str):
                ok = range_count(res, "ports") == summary_ports_count(total["ports"])
            return ok

        while not whole(pool):
            left = deadline - time.monotonic()
            assert left > 0, f"no offer with the whole agent {total}; outstanding: {list(pool.values())}"
            ev = client.next_event(timeout=left)
            if ev["type"] == "OFFERS":
                for o in ev["offers"]["offers"]:
                    if o["agent_id"]["value"] == agent.id:
                        pool[o["id"]["value"]] = o
            elif ev["type"] == "RESCIND":
                pool.pop(ev["rescind"]["offer_id"]["value"], None)
            elif ev["type"] == "UPDATE":
                client.acknowledge(ev["update"]["status"])
        client.decline(list(pool), refuse_seconds=60.0)
        status, body = client.teardown()
        assert status == 202 and body == b""
    finally:
        client.close()


def test_kill_and_reconcile(cluster):
    client = SchedulerClient("127.0.0.1", cluster.master_port)
    try:
        client.subscribe(framework_info("killer"))
        tid = "sleeper"
        agent_id = None
        running = False
        deadline = time.monotonic() + 120
        while not running:
            ev = client.next_event(timeout=max(0.1, deadline - time.monotonic()))
            if ev["type"] == "OFFERS":
                for offer in ev["offers"]["offers"]:
                    res = [dict(r) for r in offer["resources"]]
                    taken = take_scalars(res, TASK_RES) if agent_id is None else None
                    if taken is None:
                        client.decline([offer["id"]], refuse_seconds=60.0)
                        continue
                    agent_id = offer["agent_id"]["value"]
                    client.launch([offer["id"]], [{
                        "name": tid, "task_id": {"value": tid}, "agent_id": offer["agent_id"],
                        "resources": taken, "command": {"shell": True, "value": "sleep 1000"}}])
            elif ev["type"] == "UPDATE":
                st = ev["update"]["status"]
                client.acknowledge(st)
                assert st["state"] not in TERMINAL, st
                running = st["state"] == "TASK_RUNNING"

        # Explicit reconciliation answers with the task's latest state (no uuid: not to be acknowledged).
        client.reconcile([(tid, agent_id)])
        ev = client.next_event(timeout=30)
        while ev["type"] != "UPDATE":
            ev = client.next_event(timeout=30)
        st = ev["update"]["status"]
        assert st["task_id"]["value"] == tid and st["state"] == "TASK_RUNNING", st
        assert "uuid" not in st, "reconciliation updates are not acknowledged"

        # An unknown task reconciles to TASK_LOST (Mesos 1.x without PARTITION_AWARE).
        client.reconcile([("no-such-task", agent_id)])
        while True:
            ev = client.next_event(timeout=30)
            if ev["type"] == "UPDATE":
                st = ev["update"]["status"]
                if st["task_id"]["value"] == "no-such-task":
                    assert st["state"] == "TASK_LOST", st
                    break
                client.acknowledge(st)

        client.kill(tid, agent_id)
        while True:
            ev = client.next_event(timeout=60)
            if ev["type"] == "UPDATE":
                st = ev["update"]["status"]
                client.acknowledge(st)
                if st["task_id"]["value"] == tid and st["state"] in TERMINAL:
                    assert st["state"] == "TASK_KILLED", st
                    break
        assert client.teardown()[0] == 202
    finally:
        client.close()


def test_calls_need_the_stream_id(cluster):
    """The document: calls other than SUBSCRIBE without subscription answer 403 (or 400 without the header)."""
    client = SchedulerClient("127.0.0.1", cluster.master_port)
    try:
        client.subscribe(framework_info("stream-id"))
        good = client.stream_id
        client.stream_id = "not-the-stream-id"
        status, _ = client.call({"type": "REVIVE"}, expect=None)
        assert status in (400, 403), status
        client.stream_id = good
        assert client.revive()[0] == 202
        assert client.teardown()[0] == 202
    finally:
        client.close()


def test_subscribe_refused_with_4xx_for_bad_framework_info(cluster):
    client = SchedulerClient("127.0.0.1", cluster.master_port)
    try:
        with pytest.raises(Exception) as e:
            client.subscribe({"name": "no-user"})  # user is required
        assert "400" in str(e.value) or "ERROR" in str(e.value), str(e.value)
    finally:
        client.close()
