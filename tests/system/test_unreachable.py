"""Agents that fail health checks and frameworks that fail over, on a real
master with fake agents over the link (test_master.AgentLink), and once with a
real agent stopped with SIGSTOP (chaos test 5):
- an agent whose link stops answering PINGs is marked unreachable (recorded in
  the registry first): its tasks go TASK_UNREACHABLE for a PARTITION_AWARE
  framework and TASK_LOST for another, offers are rescinded; when it
  re-registers, the partition-aware framework hears its task RUNNING again
  (REASON_AGENT_REREGISTERED, and through reconciliation);
- --agent_removal_rate_limit spaces the markings; --registry_max_agent_count
  expires the oldest unreachable agents;
- FrameworkInfo.failover_timeout: re-subscribing within it keeps the tasks;
  never coming back gets them killed after it."""
import signal
import sqlite3
import time

from cluster import Cluster, poll
from taskrunner import TaskRunner
from test_master import (WAIT, AgentLink, Framework, command_task, launch, master, master_factory,  # noqa: F401
                         scalar, typ)

PING = ("--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=3")


def registry_states(m):
    db = m.tmp / "master-work-0" / "registry.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return dict(con.execute("SELECT id, state FROM agents").fetchall())
    finally:
        con.close()


def running_task(fw, link, aid, tid, refuse=3600):
    oid = fw.offers(1)[0]["id"]["value"]
    fw.accept([oid], [launch(command_task(tid, aid))], refuse=refuse)
    link.run_task(tid)
    link.status(aid, fw.id, tid, "TASK_RUNNING")
    fw.update(tid, "TASK_RUNNING")


def reported(fw, tid, aid):
    return {"name": tid, "task_id": {"value": tid}, "framework_id": {"value": fw.id}, "agent_id": {"value": aid},
            "state": "TASK_RUNNING", "resources": [scalar("cpus", 1, "*"), scalar("mem", 128, "*")]}


def test_unreachable_agent_and_partition_aware_reconciliation(master_factory):
    m = master_factory(*PING)
    link = AgentLink(m.port)
    aid = link.register("k", hostname="partitioned")
    pa = Framework(m.port, info={"user": "u", "name": "pa", "failover_timeout": 3600,
                                 "capabilities": [{"type": "PARTITION_AWARE"}]})
    running_task(pa, link, aid, "pa-task")
    plain = Framework(m.port, info={"user": "u", "name": "plain", "failover_timeout": 3600})
    running_task(plain, link, aid, "plain-task", refuse=0)
    plain.offers(1)  # it holds an offer for the rest: rescinded when the agent is lost

    link.auto_pong = False  # the agent stops answering health checks
    s = pa.update("pa-task", "TASK_UNREACHABLE")
    assert s["source"] == "SOURCE_MASTER" and s["reason"] == "REASON_AGENT_REMOVED"
    s = plain.update("plain-task", "TASK_LOST")
    assert s["source"] == "SOURCE_MASTER" and s["reason"] == "REASON_AGENT_REMOVED"
    plain.stream.expect(typ("RESCIND"), what="RESCIND of the lost agent's offer")
    assert registry_states(m)[aid] == 2  # recorded unreachable
    assert link.stream.closed.wait(WAIT)
    poll(lambda: not m.state()["slaves"], WAIT, what="the agent out of the registered ones")
    pa.ok("RECONCILE", {"reconcile": {"tasks": [{"task_id": {"value": "pa-task"}, "agent_id": {"value": aid}}]}})
    assert pa.update("pa-task")["state"] == "TASK_UNREACHABLE"
    # Implicit reconciliation (no task ids) includes the tasks on unreachable agents, and
    # /master/state shows them and counts the agent, as Mesos does.
    pa.ok("RECONCILE", {"reconcile": {"tasks": []}})
    s = pa.update("pa-task")
    assert s["state"] == "TASK_UNREACHABLE" and s["reason"] == "REASON_RECONCILIATION"
    st = m.state()
    assert st["unreachable_slaves"] == 1
    fwst = [f for f in st["frameworks"] if f["id"] == pa.id][0]
    assert [t["id"] for t in fwst["unreachable_tasks"]] == ["pa-task"] and not fwst["tasks"]
    assert fwst["unreachable_tasks"][0]["state"] == "TASK_UNREACHABLE"

    # The partition heals: the agent re-registers with its id and the tasks it still runs.
    link2 = AgentLink(m.port)
    got = link2.register("k2", hostname="partitioned", agent_id=aid,
                         tasks=[reported(pa, "pa-task", aid), reported(plain, "plain-task", aid)],
                         frameworks=[{"user": "u", "name": "pa", "id": {"value": pa.id}},
                                     {"user": "u", "name": "plain", "id": {"value": plain.id}}])
    assert got == aid
    s = pa.update("pa-task", "TASK_RUNNING")
    assert s["reason"] == "REASON_AGENT_REREGISTERED"
    pa.ok("RECONCILE", {"reconcile": {"tasks": [{"task_id": {"value": "pa-task"}, "agent_id": {"value": aid}}]}})
    s = pa.update("pa-task")
    assert s["state"] == "TASK_RUNNING" and s["reason"] == "REASON_RECONCILIATION"
    assert registry_states(m)[aid] == 1
    poll(lambda: m.state()["slaves"] and m.state()["slaves"][0]["active"], WAIT, what="the agent active again")
    st = m.state()
    fwst = [f for f in st["frameworks"] if f["id"] == pa.id][0]
    assert st["unreachable_slaves"] == 0 and not fwst["unreachable_tasks"]
    assert [t["id"] for t in fwst["tasks"]] == ["pa-task"]
    for f in (pa, plain):
        f.close()
    link2.close()


def test_agent_removal_rate_limit(master_factory):
    m = master_factory(*PING, "--agent_removal_rate_limit=1/4secs")
    links = [AgentLink(m.port) for _ in range(2)]
    ids = [lk.register(f"k{i}", hostname=f"h{i}") for i, lk in enumerate(links)]
    for lk in links:
        lk.auto_pong = False
    poll(lambda: len(m.state()["slaves"]) == 1, WAIT, what="the first agent marked unreachable")
    first = time.monotonic()
    # The second waits for its permit: still registered (inactive) right after the first went.
    assert len(m.state()["slaves"]) == 1
    poll(lambda: not m.state()["slaves"], WAIT, what="the second agent marked unreachable")
    assert time.monotonic() - first > 2.0
    assert set(registry_states(m).values()) == {2} and set(registry_states(m)) == set(ids)
    for lk in links:
        lk.close()


def test_registry_max_agent_count_expires_oldest(master_factory):
    m = master_factory(*PING, "--registry_max_agent_count=1")
    first = AgentLink(m.port)
    old = first.register("old")
    first.auto_pong = False
    poll(lambda: registry_states(m).get(old) == 2, WAIT, what="the first agent unreachable")
    second = AgentLink(m.port)
    new = second.register("new")
    second.auto_pong = False
    poll(lambda: registry_states(m) == {new: 2}, WAIT, what="the oldest unreachable agent forgotten")
    first.close()
    second.close()


def test_failover_timeout_keeps_or_kills_tasks(master):
    link = AgentLink(master.port)
    aid = link.register("f")
    keeper = Framework(master.port, info={"user": "u", "name": "keeper", "failover_timeout": 3600})
    running_task(keeper, link, aid, "kept")
    goner = Framework(master.port, info={"user": "u", "name": "goner", "failover_timeout": 1})
    running_task(goner, link, aid, "doomed")
    keeper.close()
    goner.close()
    # The one that never comes back: its tasks are shut down after its timeout.
    sd = link.expect(typ("SHUTDOWN_FRAMEWORK"), what="SHUTDOWN_FRAMEWORK after the failover timeout")
    assert sd["shutdown_framework"]["framework_id"]["value"] == goner.id
    done = poll(lambda: [f for f in master.state()["completed_frameworks"] if f["id"] == goner.id], WAIT,
                what="the framework completed")[0]
    assert [t["state"] for t in done["completed_tasks"]] == ["TASK_KILLED"]
    # The one that re-subscribes (well within its timeout) finds its task intact.
    again = Framework(master.port, info={"user": "u", "name": "keeper", "failover_timeout": 3600}, fid=keeper.id)
    again.ok("RECONCILE", {"reconcile": {"tasks": []}})
    assert again.update("kept")["state"] == "TASK_RUNNING"
    f = [x for x in master.state()["frameworks"] if x["id"] == keeper.id][0]
    assert [t["id"] for t in f["tasks"]] == ["kept"] and f["connected"]
    again.close()
    link.close()


def test_stopped_real_agent_goes_unreachable_then_back_to_running(tmp_path):
    """Chaos test 5: a real mezzo-agent stopped with SIGSTOP past the ping timeout is
    marked unreachable (its task TASK_UNREACHABLE for a partition-aware framework);
    resumed with SIGCONT it re-registers under its id with the task still running,
    and reconciliation reports the task TASK_RUNNING again."""
    with Cluster(tmp_path, agents=1, master_flags=["--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=2"]) as c:
        agent = c.agents[0]
        fw = TaskRunner(c.master_port, name="partition-aware",
                        info={"failover_timeout": 3600, "capabilities": [{"type": "PARTITION_AWARE"}]})
        try:
            fw.launch("survivor", "sleep 600")
            fw.wait_state("survivor", "TASK_RUNNING")
            agent.process.signal(signal.SIGSTOP)
            try:
                fw.wait_state("survivor", "TASK_UNREACHABLE", timeout=WAIT)
                assert fw.last("survivor")["reason"] == "REASON_AGENT_REMOVED"
                poll(lambda: c.master_state()["unreachable_slaves"] == 1, WAIT, what="the agent counted unreachable")
            finally:
                agent.process.signal(signal.SIGCONT)

            def running_again():
                last = fw.last("survivor")
                return last["state"] == "TASK_RUNNING" and last.get("reason") == "REASON_AGENT_REREGISTERED"
            poll(running_again, WAIT, what="the task RUNNING again when its agent re-registers")
            slaves = c.master_state()["slaves"]
            assert [s["id"] for s in slaves] == [agent.id] and slaves[0]["active"]
            fw.client.reconcile([("survivor", agent.id)])

            def reconciled():
                last = fw.last("survivor")
                return last.get("reason") == "REASON_RECONCILIATION" and last
            assert poll(reconciled, WAIT, what="the reconciliation answer")["state"] == "TASK_RUNNING"
        finally:
            fw.close()
