"""Agent maintenance through the operator API (as Mesos's DEACTIVATE_AGENT,
REACTIVATE_AGENT, DRAIN_AGENT and MARK_AGENT_GONE), on a real master with a
fake agent over the link and a framework over the scheduler API: a drained
agent's tasks are killed with the drain's grace period, it gets no new offers,
shows DRAINING then DRAINED, and comes back with REACTIVATE_AGENT; a gone agent
is told to shut down, its tasks end TASK_GONE_BY_OPERATOR and it cannot return."""
import json

from test_master import (AgentLink, Framework, command_task, launch, master, master_factory,  # noqa: F401
                         typ)
from test_operator_api import call as op_call


def agents(port):
    return json.loads(op_call(port, {"type": "GET_AGENTS"})[2])["get_agents"].get("agents", [])


def op(port, kind, body):
    status, _, data = op_call(port, dict({"type": kind}, **body))
    return status, data


def test_drain_deactivate_reactivate(master):
    port = master.port
    link = AgentLink(port)
    aid = link.register("m1")
    fw = Framework(port, capabilities=["PARTITION_AWARE"])
    o = fw.offers(1)[0]
    fw.accept([o["id"]["value"]], [launch(command_task("t1", aid))], refuse=0)
    link.run_task("t1")
    link.status(aid, fw.id, "t1", "TASK_RUNNING")
    fw.update("t1", "TASK_RUNNING")

    assert op(port, "DRAIN_AGENT", {"drain_agent": {"agent_id": {"value": "nope"}}})[0] == 404
    assert op(port, "DRAIN_AGENT", {"drain_agent": {}})[0] == 400
    assert op(port, "DRAIN_AGENT", {"drain_agent": {"agent_id": {"value": aid},
                                                    "max_grace_period": {"seconds": -1}}})[0] == 400
    status, body = op(port, "DRAIN_AGENT", {"drain_agent": {"agent_id": {"value": aid},
                                                            "max_grace_period": {"seconds": 2}}})
    assert status == 200, body
    kill = link.expect(lambda e: e.get("type") == "KILL_TASK", what="KILL_TASK from the drain")
    assert kill["kill_task"]["task_id"]["value"] == "t1"
    assert kill["kill_task"]["kill_policy"]["grace_period"]["nanoseconds"] == 2 * 10**9
    a = agents(port)[0]
    assert a["deactivated"] is True and a["drain_info"]["state"] == "DRAINING"
    state = master.state()
    assert state["slaves"][0]["drain_info"]["state"] == "DRAINING"

    link.status(aid, fw.id, "t1", "TASK_KILLED")
    fw.update("t1", "TASK_KILLED")
    fw.ok("REVIVE")
    fw.stream.none_within(typ("OFFERS"), 1.5)  # no offers from a drained agent
    assert agents(port)[0]["drain_info"]["state"] == "DRAINED"

    assert op(port, "REACTIVATE_AGENT", {"reactivate_agent": {"agent_id": {"value": aid}}})[0] == 200
    assert "drain_info" not in agents(port)[0]
    assert fw.offers(1)  # offered again

    assert op(port, "DEACTIVATE_AGENT", {"deactivate_agent": {"agent_id": {"value": aid}}})[0] == 200
    fw.stream.expect(typ("RESCIND"), what="the deactivated agent's offer rescinded")
    assert agents(port)[0]["deactivated"] is True
    assert op(port, "REACTIVATE_AGENT", {"reactivate_agent": {"agent_id": {"value": aid}}})[0] == 200
    assert op(port, "REACTIVATE_AGENT", {"reactivate_agent": {"agent_id": {"value": aid}}})[0] == 400
    fw.close()
    link.close()


def test_mark_agent_gone(master):
    port = master.port
    link = AgentLink(port)
    aid = link.register("g1")
    fw = Framework(port, capabilities=["PARTITION_AWARE"])
    o = fw.offers(1)[0]
    fw.accept([o["id"]["value"]], [launch(command_task("t2", aid))], refuse=0)
    link.run_task("t2")
    link.status(aid, fw.id, "t2", "TASK_RUNNING")
    fw.update("t2", "TASK_RUNNING")
    assert op(port, "MARK_AGENT_GONE", {"mark_agent_gone": {"agent_id": {"value": aid}}})[0] == 200
    link.expect(lambda e: e.get("type") == "SHUTDOWN", what="SHUTDOWN for the gone agent")
    fw.update("t2", "TASK_GONE_BY_OPERATOR")
    assert agents(port) == []
    # It cannot come back under its id.
    link2 = AgentLink(port)
    link2.send({"type": "REGISTER", "link_key": "again", "agent_id": {"value": aid},
                "register": {"agent_info": {"hostname": "g1", "resources": []}, "version": "test"}})
    link2.expect(lambda e: e.get("type") == "SHUTDOWN", what="SHUTDOWN for the returning gone agent")
    master.assert_serving()
    fw.close()
    link.close()
    link2.close()


def test_cli_maintenance_commands(master):
    import subprocess
    from cluster import BIN
    port = master.port
    link = AgentLink(port)
    aid = link.register("c1")
    mz = [str(BIN / "mezzo"), "maintenance"]
    m = f"--master=127.0.0.1:{port}"
    p = subprocess.run(mz + ["drain", aid, "--grace=1secs", m], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert agents(port)[0]["drain_info"]["state"] == "DRAINED"  # nothing ran on it
    p = subprocess.run(mz + ["reactivate", aid, m], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(mz + ["drain", "no-such-agent", m], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "no-such-agent" in p.stderr
    p = subprocess.run(mz + ["deactivate", aid, "--grace=1secs", m], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "drain only" in p.stderr
    p = subprocess.run(mz + ["explode", aid, m], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "unknown subcommand" in p.stderr
    p = subprocess.run(mz + ["gone", aid, m], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert agents(port) == []
    link.close()
