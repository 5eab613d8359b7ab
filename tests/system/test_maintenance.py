"""Agent maintenance through the operator API (as Mesos's DEACTIVATE_AGENT,
REACTIVATE_AGENT, DRAIN_AGENT and MARK_AGENT_GONE), on a real master with a
fake agent over the link and a framework over the scheduler API: a drained
agent's tasks are killed with the drain's grace period, it gets no new offers,
shows DRAINING then DRAINED, and comes back with REACTIVATE_AGENT; a gone agent
is told to shut down, its tasks end TASK_GONE_BY_OPERATOR and it cannot return.

Maintenance primitives (Mesos's docs/maintenance.md): the schedule through the
operator API and /master/maintenance/schedule with Mesos's validation, inverse
offers to frameworks using a DRAINING machine and their answers in the status,
offers carrying the unavailability, machine down / up, and the schedule kept
across a restart of the master (SQLite registry)."""
import json
import subprocess
import time

from cluster import BIN, poll
from test_master import (JSON_CT, WAIT, AgentLink, Framework, command_task, launch, master,  # noqa: F401
                         master_factory, request, typ)
from mesos_client import pb_field, pb_varint
from test_operator_api import call as op_call
from test_registry import masters  # noqa: F401


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


# --------------------------------------------------------------------------- maintenance primitives

HOUR_NS = 3600 * 10**9


def window(machines, start_ns=None, duration_ns=HOUR_NS):
    u = {"start": {"nanoseconds": start_ns if start_ns is not None else time.time_ns() + HOUR_NS}}
    if duration_ns is not None:
        u["duration"] = {"nanoseconds": duration_ns}
    return {"machine_ids": machines, "unavailability": u}


def post_json(port, path, obj, raw=None):
    body = raw if raw is not None else json.dumps(obj).encode()
    status, _, data = request(port, "POST", path, body, {"Content-Type": JSON_CT})
    return status, data.decode(errors="replace")


def get_json(port, path):
    status, _, data = request(port, "GET", path)
    assert status == 200, (path, status, data)
    return json.loads(data)


def status_of(port):
    status, _, data = op_call(port, {"type": "GET_MAINTENANCE_STATUS"})
    assert status == 200, data
    return json.loads(data)["get_maintenance_status"]["status"]


def schedule_of(port):
    status, _, data = op_call(port, {"type": "GET_MAINTENANCE_SCHEDULE"})
    assert status == 200, data
    return json.loads(data)["get_maintenance_schedule"]["schedule"]


def test_schedule_round_trip_and_validation(master):
    port = master.port
    assert get_json(port, "/master/maintenance/schedule") == {}
    assert schedule_of(port) == {}
    sched = {"windows": [window([{"hostname": "Host-A", "ip": "10.0.0.1"}, {"hostname": "host-b"}]),
                         window([{"ip": "10.0.0.3"}], duration_ns=None)]}
    assert post_json(port, "/master/maintenance/schedule", sched) == (200, "")
    got = get_json(port, "/master/maintenance/schedule")
    assert got["windows"][0]["machine_ids"][0] == {"hostname": "host-a", "ip": "10.0.0.1"}  # not case-sensitive
    assert got["windows"][1]["machine_ids"] == [{"ip": "10.0.0.3"}]
    assert schedule_of(port) == got
    st = status_of(port)
    assert len(st["draining_machines"]) == 3 and "down_machines" not in st
    assert get_json(port, "/master/maintenance/status") == st

    # Mesos's validation: 400 with a message, nothing changed.
    bad = [
        ({"windows": [window([])]}, "List of machines in the maintenance window is empty"),
        ({"windows": [window([{}])]}, "Both 'hostname' and 'ip' for a machine are empty"),
        ({"windows": [window([{"hostname": "x"}]), window([{"hostname": "X"}])]}, "appears more than once"),
        ({"windows": [window([{"ip": "300.1.2.3"}])]}, "Failed to parse IP"),
        ({"windows": [window([{"hostname": "x"}], duration_ns=-1)]}, "Unavailability 'duration' is negative"),
        ({"windows": [{"machine_ids": [{"hostname": "x"}]}]}, "unavailability"),
    ]
    for body, msg in bad:
        status, text = post_json(port, "/master/maintenance/schedule", body)
        assert status == 400 and msg in text, (body, status, text)
        status, _, data = op_call(port, {"type": "UPDATE_MAINTENANCE_SCHEDULE",
                                         "update_maintenance_schedule": {"schedule": body}})
        assert status == 400 and msg.encode() in data, (body, status, data)
    assert post_json(port, "/master/maintenance/schedule", None, raw=b"{not json")[0] == 400
    assert op_call(port, {"type": "UPDATE_MAINTENANCE_SCHEDULE"})[0] == 400
    assert get_json(port, "/master/maintenance/schedule") == got

    # Machines down / up: only scheduled machines, in the right mode.
    status, text = post_json(port, "/master/machine/down", [{"hostname": "nowhere"}])
    assert status == 400 and "is not part of a maintenance schedule" in text
    status, text = post_json(port, "/master/machine/down", [])
    assert status == 400 and "List of machines is empty" in text
    status, text = post_json(port, "/master/machine/down", {"hostname": "host-b"})
    assert status == 400
    status, text = post_json(port, "/master/machine/up", [{"hostname": "host-b"}])
    assert status == 400 and "is not in DOWN mode and cannot be brought up" in text
    assert request(port, "GET", "/master/machine/down")[0] == 405
    assert post_json(port, "/master/machine/down", [{"hostname": "HOST-B"}]) == (200, "")
    status, text = post_json(port, "/master/machine/down", [{"hostname": "host-b"}])
    assert status == 400 and "is not in DRAINING mode" in text
    assert status_of(port)["down_machines"] == [{"hostname": "host-b"}]
    # A DOWN machine cannot leave the schedule.
    status, text = post_json(port, "/master/maintenance/schedule", {"windows": [window([{"ip": "10.0.0.3"}])]})
    assert status == 400 and "cannot be removed from the schedule" in text, text
    assert post_json(port, "/master/maintenance/schedule", {}) [0] == 400
    # Up again: out of the schedule; then an empty schedule cancels the rest.
    status, _, data = op_call(port, {"type": "STOP_MAINTENANCE",
                                     "stop_maintenance": {"machines": [{"hostname": "host-b"}]}})
    assert status == 200, data
    ids = [m for w in schedule_of(port)["windows"] for m in w["machine_ids"]]
    assert {"hostname": "host-b"} not in ids and len(ids) == 2
    assert post_json(port, "/master/maintenance/schedule", {}) == (200, "")
    assert get_json(port, "/master/maintenance/schedule") == {}
    assert status_of(port) == {}
    master.assert_serving()


def test_schedule_in_protobuf(master):
    port = master.port
    start = time.time_ns()
    unav = pb_field(1, pb_varint(1 << 3) + pb_varint(start))  # start { nanoseconds }
    win = pb_field(1, pb_field(1, b"proto-host")) + pb_field(2, unav)  # machine_ids { hostname }, unavailability
    call = pb_varint(1 << 3) + pb_varint(25) + pb_field(11, pb_field(1, pb_field(1, win)))  # UPDATE_MAINTENANCE_SCHEDULE
    status, _, data = op_call(port, None, ctype="application/x-protobuf", accept="application/x-protobuf", raw=call)
    assert status == 200, data
    status, ctype, data = op_call(port, None, ctype="application/x-protobuf", accept="application/x-protobuf",
                                  raw=pb_varint(1 << 3) + pb_varint(24))  # GET_MAINTENANCE_SCHEDULE
    assert status == 200 and ctype.startswith("application/x-protobuf")
    assert b"proto-host" in data and data[:2] == b"\x08\x11"  # Response.type = GET_MAINTENANCE_SCHEDULE (17)
    assert schedule_of(port)["windows"][0]["unavailability"]["start"]["nanoseconds"] == start


def test_inverse_offers_unavailability_and_answers(master):
    port = master.port
    link = AgentLink(port)
    aid = link.register("io", hostname="io-host")
    fw = Framework(port, name="io-fw")
    o = fw.offers(1)[0]
    assert "unavailability" not in o
    fw.accept([o["id"]["value"]], [launch(command_task("io1", aid))], refuse=0)
    link.run_task("io1")
    link.status(aid, fw.id, "io1", "TASK_RUNNING")
    fw.update("io1", "TASK_RUNNING")

    start = time.time_ns() + HOUR_NS
    assert post_json(port, "/master/maintenance/schedule",
                     {"windows": [window([{"hostname": "IO-HOST"}], start_ns=start)]}) == (200, "")
    ev = fw.stream.expect(typ("INVERSE_OFFERS"), what="an inverse offer for the draining agent")
    io = ev["inverse_offers"]["inverse_offers"][0]
    assert io["agent_id"]["value"] == aid and io["framework_id"]["value"] == fw.id
    assert io["unavailability"]["start"]["nanoseconds"] == start
    assert io["url"]["address"]["hostname"] == "io-host"
    # Offers of the draining agent carry the unavailability.
    fw.ok("REVIVE")
    o = fw.stream.expect(lambda e: e.get("type") == "OFFERS" and
                         any("unavailability" in x for x in e["offers"]["offers"]),
                         what="an offer with unavailability")["offers"]["offers"][0]
    assert o["unavailability"]["start"]["nanoseconds"] == start

    # Validation as Mesos: a missing body is a 400; ids no longer valid are ignored (202).
    status, _, data = fw.call("ACCEPT_INVERSE_OFFERS")
    assert status == 400 and b"accept_inverse_offers" in data
    fw.ok("ACCEPT_INVERSE_OFFERS", {"accept_inverse_offers": {"inverse_offer_ids": [{"value": "no-such-offer"}]}})
    assert status_of(port)["draining_machines"][0].get("statuses", []) == []

    fw.ok("ACCEPT_INVERSE_OFFERS", {"accept_inverse_offers": {"inverse_offer_ids": [io["id"]],
                                                              "filters": {"refuse_seconds": 0}}})

    def answer():
        sts = status_of(port)["draining_machines"][0].get("statuses", [])
        return sts[0] if sts else None
    poll(answer, WAIT, what="the ACCEPT in the maintenance status")
    st = answer()
    assert st["status"] == "ACCEPT" and st["framework_id"]["value"] == fw.id and st["timestamp"]["nanoseconds"] > 0
    # The filter (0 s) has run out: a new inverse offer, declined this time.
    ev = fw.stream.expect(typ("INVERSE_OFFERS"), what="the next inverse offer")
    io2 = ev["inverse_offers"]["inverse_offers"][0]
    assert io2["id"] != io["id"]
    fw.ok("DECLINE_INVERSE_OFFERS", {"decline_inverse_offers": {"inverse_offer_ids": [io2["id"]],
                                                                "filters": {"refuse_seconds": 0}}})
    poll(lambda: (answer() or {}).get("status") == "DECLINE", WAIT, what="the DECLINE in the maintenance status")
    # The machine leaves the schedule: the outstanding inverse offer is rescinded.
    io3 = fw.stream.expect(typ("INVERSE_OFFERS"), what="a third inverse offer")["inverse_offers"]["inverse_offers"][0]
    assert post_json(port, "/master/maintenance/schedule", {}) == (200, "")
    ev = fw.stream.expect(typ("RESCIND_INVERSE_OFFER"), what="RESCIND_INVERSE_OFFER")
    assert ev["rescind_inverse_offer"]["inverse_offer_id"] == io3["id"]
    fw.stream.none_within(typ("INVERSE_OFFERS"), 1.5)
    master.assert_serving()
    fw.close()
    link.close()


def test_machine_down_removes_agent_and_up_lets_it_back(master):
    port = master.port
    link = AgentLink(port)
    aid = link.register("d", hostname="down-host")
    fw = Framework(port, capabilities=["PARTITION_AWARE"])
    o = fw.offers(1)[0]
    fw.accept([o["id"]["value"]], [launch(command_task("d1", aid))], refuse=0)
    link.run_task("d1")
    link.status(aid, fw.id, "d1", "TASK_RUNNING")
    fw.update("d1", "TASK_RUNNING")
    machine = {"hostname": "down-host", "ip": "127.0.0.1"}
    assert post_json(port, "/master/maintenance/schedule", {"windows": [window([machine])]}) == (200, "")
    status, _, data = op_call(port, {"type": "START_MAINTENANCE", "start_maintenance": {"machines": [machine]}})
    assert status == 200, data
    link.expect(lambda e: e.get("type") == "SHUTDOWN", what="SHUTDOWN for the agent of the DOWN machine")
    fw.update("d1", "TASK_GONE")
    assert agents(port) == []
    assert status_of(port)["down_machines"] == [machine]
    # No agent of the machine may register while it is DOWN.
    link.send({"type": "REGISTER", "link_key": "again",
               "register": {"agent_info": {"hostname": "down-host", "port": 5051, "resources": []}}})
    ev = link.expect(lambda e: e.get("link_key") == "again", what="the answer to a registration while DOWN")
    assert ev["type"] == "ERROR" and "DOWN for maintenance" in ev["error"]["message"]
    assert agents(port) == []
    # Up: out of the schedule, and the machine's agent registers again.
    assert post_json(port, "/master/machine/up", [machine]) == (200, "")
    assert schedule_of(port) == {} and status_of(port) == {}
    aid2 = link.register("back", hostname="down-host")
    assert [a["agent_info"]["id"]["value"] for a in agents(port)] == [aid2]
    master.assert_serving()
    fw.close()
    link.close()


def test_schedule_and_drain_survive_restart(masters):  # noqa: F811
    m = masters.start()
    port = m.port
    link = AgentLink(port)
    aid = link.register("k", hostname="keep-host")
    sched = {"windows": [window([{"hostname": "keep-host"}, {"hostname": "gone-host"}], start_ns=12345)]}
    assert post_json(port, "/master/maintenance/schedule", sched) == (200, "")
    assert post_json(port, "/master/machine/down", [{"hostname": "gone-host"}]) == (200, "")
    assert op(port, "DEACTIVATE_AGENT", {"deactivate_agent": {"agent_id": {"value": aid}}})[0] == 200
    before = schedule_of(port)
    masters.kill(m)
    link.close()

    m2 = masters.start()
    port = m2.port
    assert schedule_of(port) == before
    st = status_of(port)
    assert st["down_machines"] == [{"hostname": "gone-host"}]
    assert [d["id"] for d in st["draining_machines"]] == [{"hostname": "keep-host"}]
    link2 = AgentLink(port)
    link2.send({"type": "REGISTER", "link_key": "again",
                "register": {"agent_info": {"hostname": "gone-host", "port": 5051, "resources": []}}})
    assert link2.expect(lambda e: e.get("link_key") == "again")["type"] == "ERROR"
    # The deactivated agent comes back deactivated.
    assert link2.register("k2", hostname="keep-host", agent_id=aid) == aid
    a = agents(port)[0]
    assert a["deactivated"] is True and a["active"] is False
    link2.close()


def run_cli(*args):
    return subprocess.run([str(BIN / "mezzo"), "maintenance", *args], capture_output=True, text=True, timeout=30)


def test_cli_schedule_status_down_up(master, tmp_path):
    port = master.port
    m = f"--master=127.0.0.1:{port}"
    link = AgentLink(port)
    link.register("cli", hostname="cli-host")
    f = tmp_path / "schedule.json"
    f.write_text(json.dumps({"windows": [window([{"hostname": "cli-host"}, {"ip": "10.1.1.1"}])]}))
    p = run_cli("schedule", f"--file={f}", m)
    assert p.returncode == 0, p.stderr
    p = run_cli("schedule", m)
    assert p.returncode == 0 and "cli-host" in p.stdout and "10.1.1.1" in p.stdout, p.stdout
    p = run_cli("schedule", "--json", m)
    assert p.returncode == 0 and len(json.loads(p.stdout)["windows"][0]["machine_ids"]) == 2
    p = run_cli("status", m)
    assert p.returncode == 0 and "DRAINING" in p.stdout and "cli-host" in p.stdout, p.stdout
    p = run_cli("down", "cli-host", m)
    assert p.returncode == 0, p.stderr
    p = run_cli("status", "--json", m)
    assert p.returncode == 0 and json.loads(p.stdout)["down_machines"] == [{"hostname": "cli-host"}]
    p = run_cli("status", m)
    assert "DOWN" in p.stdout
    p = run_cli("down", "10.1.1.1", m)  # an IP names the machine by its ip
    assert p.returncode == 0, p.stderr
    p = run_cli("up", "cli-host", m)
    assert p.returncode == 0, p.stderr
    # Bad input: the master's message, non-zero.
    p = run_cli("down", "no-such-host", m)
    assert p.returncode != 0 and "is not part of a maintenance schedule" in p.stderr
    p = run_cli("up", "cli-host", m)
    assert p.returncode != 0 and "not part of a maintenance schedule" in p.stderr
    f.write_text("{broken")
    p = run_cli("schedule", f"--file={f}", m)
    assert p.returncode != 0 and str(f) in p.stderr
    p = run_cli("schedule", f"--file={tmp_path / 'missing.json'}", m)
    assert p.returncode != 0
    f.write_text(json.dumps({"windows": [window([])]}))
    p = run_cli("schedule", f"--file={f}", m)
    assert p.returncode != 0 and "List of machines in the maintenance window is empty" in p.stderr
    p = run_cli("down", m)
    assert p.returncode != 0
    link.close()


def test_webui_shows_machine_modes(master, tmp_path):
    from test_webui import Check, ensure_browser_tools
    node = ensure_browser_tools()
    port = master.port
    sched = {"windows": [window([{"hostname": "ui-host"}, {"hostname": "ui-down"}])]}
    assert post_json(port, "/master/maintenance/schedule", sched) == (200, "")
    assert post_json(port, "/master/machine/down", [{"hostname": "ui-down"}]) == (200, "")
    check = Check(node, "maintenance", f"http://127.0.0.1:{port}", tmp_path / "screenshots", "ui-host", "ui-down")
    check.expect("OK")
    assert "maintenance" in {p.stem for p in check.finish()}


def test_real_agent_machine_down_and_up(tmp_path):
    """A real mezzo-agent: DOWN shuts it down and removes it, its fresh registrations are
    refused while the machine is DOWN, and after UP it joins again under a new id."""
    from cluster import Cluster
    with Cluster(tmp_path, agents=1, agent_flags=["--hostname=real-maint"]) as c:
        old = c.agents[0].id
        port = c.master_port
        assert post_json(port, "/master/maintenance/schedule",
                         {"windows": [window([{"hostname": "real-maint"}])]}) == (200, "")
        assert status_of(port)["draining_machines"][0]["id"] == {"hostname": "real-maint"}
        assert post_json(port, "/master/machine/down", [{"hostname": "real-maint"}]) == (200, "")
        poll(lambda: not c.master_state().get("slaves"), WAIT, what="the agent of the DOWN machine removed")
        poll(lambda: "DOWN for maintenance" in c.agents[0].process.log(), WAIT,
             what="the agent's fresh registration refused")
        assert not c.master_state().get("slaves")
        assert c.agents[0].process.alive()
        assert post_json(port, "/master/machine/up", [{"hostname": "real-maint"}]) == (200, "")
        slaves = poll(lambda: c.master_state().get("slaves"), 60, what="the agent back after machine up")
        assert slaves[0]["id"] != old and slaves[0]["hostname"] == "real-maint"
