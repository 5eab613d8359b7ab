"""The allocator through a running master, over the real HTTP APIs: MULTI_ROLE
offers carry allocation_info.role, static reservations go only to their role,
dynamic reservations (ACCEPT with RESERVE / UNRESERVE, and the operator's
RESERVE_RESOURCES) change what is offered and survive an agent's
re-registration, weights and quota set through the operator API shape the
offers, and an out-of-tree allocator module loads with --allocator=."""
import json
import pathlib

from test_master import (AGENT_RES, AgentLink, Framework, command_task, cpus_of, launch, offer_with,  # noqa: F401
                         master, master_factory, scalar, typ)
from test_operator_api import call as op_call

from cluster import BIN


def reserved(name, value, role, principal=None, dynamic=True, alloc_role=None):
    r = scalar(name, value, alloc_role)
    resv = {"type": "DYNAMIC" if dynamic else "STATIC", "role": role}
    if principal:
        resv["principal"] = principal
    r["reservations"] = [resv]
    return r


def drain_offers(fw, quiet=2.0):
    """Declines (for an hour) every offer fw holds, until none comes for `quiet` seconds."""
    while True:
        try:
            ev = fw.stream.expect(typ("OFFERS"), timeout=quiet, what="offers")
        except AssertionError:
            return
        ids = [o["id"] for o in ev["offers"]["offers"]]
        fw.ok("DECLINE", {"decline": {"offer_ids": ids, "filters": {"refuse_seconds": 3600}}})


def roles_of(offer):
    return {res.get("reservations", [{}])[-1].get("role", "*") for res in offer["resources"]}


def test_multi_role_offers_carry_allocation_role(master):
    link = AgentLink(master.port)
    link.register("a1")
    link.register("a2")
    fw = Framework(master.port, capabilities=["MULTI_ROLE"], roles=["blue", "green"])
    got = fw.offers(2)
    roles = sorted(o["allocation_info"]["role"] for o in got)
    assert roles == ["blue", "green"]
    for o in got:
        for r in o["resources"]:
            assert r["allocation_info"]["role"] == o["allocation_info"]["role"]
    fw.close()
    link.close()


def test_static_reservation_offered_only_to_its_role(master):
    link = AgentLink(master.port)
    res = [dict(scalar("cpus", 2), reservations=[{"type": "STATIC", "role": "eng"}]),
           dict(scalar("mem", 1024), reservations=[{"type": "STATIC", "role": "eng"}]),
           scalar("cpus", 1), scalar("mem", 512)]
    link.register("r1", resources=res)
    other = Framework(master.port, capabilities=["MULTI_ROLE"], roles=["ops"], name="other")
    o = other.offers(1)[0]
    assert roles_of(o) == {"*"} and cpus_of(o) == 1
    eng = Framework(master.port, capabilities=["MULTI_ROLE"], roles=["eng"], name="eng")
    o2 = eng.offers(1)[0]
    assert "eng" in roles_of(o2) and cpus_of(o2) == 2
    other.close()
    eng.close()
    link.close()


def test_dynamic_reservation_through_accept_survives_reregistration(master):
    link = AgentLink(master.port)
    aid = link.register("d1")
    fw = Framework(master.port, info={"user": "tester", "name": "reserver", "principal": "alice",
                                      "roles": ["db"], "capabilities": [{"type": "MULTI_ROLE"}]})
    o = fw.offers(1)[0]
    want = [reserved("cpus", 1, "db", "alice", alloc_role="db"), reserved("mem", 256, "db", "alice", alloc_role="db")]
    task = command_task("on-reserved", aid, cpus=1, mem=256)
    task["resources"] = want
    fw.accept([o["id"]["value"]], [{"type": "RESERVE", "reserve": {"resources": want}}, launch(task)], refuse=0)
    rt = link.run_task("on-reserved")
    assert any(r.get("reservations") for r in rt["run_task"]["task"]["resources"])
    # The master's view of the agent now holds the reservation.
    agents = json.loads(op_call(master.port, {"type": "GET_AGENTS"})[2])["get_agents"]["agents"]
    total = agents[0]["total_resources"]
    assert any(r.get("reservations", [{}])[0].get("role") == "db" and r["name"] == "cpus" for r in total)
    # A framework of another role is never offered it: the reserver steps aside
    # (declines what it holds, suppresses), and the other role gets only the rest.
    link.status(aid, fw.id, "on-reserved", "TASK_FINISHED")
    fw.ok("SUPPRESS")
    drain_offers(fw)
    other = Framework(master.port, capabilities=["MULTI_ROLE"], roles=["web"], name="web")
    for off in other.offers(1):
        assert roles_of(off) == {"*"}
    # ...and it survives the agent's re-registration.
    link.close()
    link2 = AgentLink(master.port)
    assert link2.register("d1", agent_id=aid) == aid
    agents = json.loads(op_call(master.port, {"type": "GET_AGENTS"})[2])["get_agents"]["agents"]
    assert any(r.get("reservations", [{}])[0].get("role") == "db" for r in agents[0]["total_resources"])
    # UNRESERVE gives it back to everyone.
    fw.ok("REVIVE")
    o = offer_with(fw, lambda off: "db" in roles_of(off), "an offer with the reservation")
    back = [r for r in o["resources"] if r.get("reservations")]
    fw.accept([o["id"]["value"]], [{"type": "UNRESERVE", "unreserve": {"resources": back}}], refuse=0)
    agents = json.loads(op_call(master.port, {"type": "GET_AGENTS"})[2])["get_agents"]["agents"]
    assert not any(r.get("reservations") for r in agents[0]["total_resources"])
    fw.close()
    other.close()
    link2.close()


def test_reserve_validation_drops_bad_operations(master):
    link = AgentLink(master.port)
    aid = link.register("v1")
    fw = Framework(master.port, info={"user": "tester", "name": "v", "principal": "alice",
                                      "roles": ["db"], "capabilities": [{"type": "MULTI_ROLE"}]})
    o = fw.offers(1)[0]
    bad_role = [reserved("cpus", 1, "other", "alice", alloc_role="db")]
    bad_principal = [reserved("cpus", 1, "db", "mallory", alloc_role="db")]
    too_much = [reserved("cpus", 100, "db", "alice", alloc_role="db")]
    fw.accept([o["id"]["value"]], [{"type": "RESERVE", "reserve": {"resources": r}}
                                   for r in (bad_role, bad_principal, too_much)], refuse=0)
    agents = json.loads(op_call(master.port, {"type": "GET_AGENTS"})[2])["get_agents"]["agents"]
    assert not any(r.get("reservations") for r in agents[0]["total_resources"])
    master.assert_serving()
    fw.close()
    link.close()


def test_operator_reservations_weights_and_quota(master):
    port = master.port
    link = AgentLink(port)
    aid = link.register("q1")
    res = [reserved("cpus", 2, "gold", "ops")]
    status, _, body = op_call(port, {"type": "RESERVE_RESOURCES",
                                     "reserve_resources": {"agent_id": {"value": aid}, "resources": res}})
    assert status == 202, body
    status, _, body = op_call(port, {"type": "RESERVE_RESOURCES",
                                     "reserve_resources": {"agent_id": {"value": aid},
                                                           "resources": [reserved("cpus", 100, "gold", "ops")]}})
    assert status == 409 and b"not available" in body
    status, _, body = op_call(port, {"type": "RESERVE_RESOURCES",
                                     "reserve_resources": {"agent_id": {"value": "nope"}, "resources": res}})
    assert status == 404
    gold = Framework(port, capabilities=["MULTI_ROLE"], roles=["gold"], name="gold")
    o = gold.offers(1)[0]
    assert "gold" in roles_of(o)
    gold.close()
    status, _, body = op_call(port, {"type": "UNRESERVE_RESOURCES",
                                     "unreserve_resources": {"agent_id": {"value": aid}, "resources": res}})
    assert status == 202, body

    status, _, _ = op_call(port, {"type": "UPDATE_WEIGHTS",
                                  "update_weights": {"weight_infos": [{"role": "gold", "weight": 3.0}]}})
    assert status == 202
    assert op_call(port, {"type": "UPDATE_WEIGHTS",
                          "update_weights": {"weight_infos": [{"role": "gold", "weight": -1}]}})[0] == 400
    w = json.loads(op_call(port, {"type": "GET_WEIGHTS"})[2])["get_weights"]["weight_infos"]
    assert {"role": "gold", "weight": 3.0} in w

    q = {"role": "gold", "guarantees": {"cpus": {"value": 1.0}}, "limits": {"cpus": {"value": 2.0}}}
    status, _, body = op_call(port, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [q]}})
    assert status == 200, body
    too_big = {"role": "silver", "guarantees": {"cpus": {"value": 1000.0}}}
    status, _, body = op_call(port, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [too_big]}})
    assert status == 400 and b"force" in body
    bad = {"role": "gold", "guarantees": {"cpus": {"value": 3.0}}, "limits": {"cpus": {"value": 2.0}}}
    assert op_call(port, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [bad]}})[0] == 400
    got = json.loads(op_call(port, {"type": "GET_QUOTA"})[2])["get_quota"]["status"]["configs"]
    assert got == [q]
    # The limit holds: gold is never offered more than 2 cpus of this 4-cpu agent.
    gold = Framework(port, capabilities=["MULTI_ROLE"], roles=["gold"], name="gold2")
    o = gold.offers(1)[0]
    assert cpus_of(o) <= 2.0
    gold.close()
    link.close()


def test_allocator_module_loads_and_offers(master_factory, tmp_path):
    lib = pathlib.Path(BIN).parent / "lib" / "libmezzo_first_fit.so"
    assert lib.is_file(), f"{lib} was not built"
    m = master_factory(f"--allocator={lib}")
    link = AgentLink(m.port)
    link.register("m1")
    fw = Framework(m.port)
    assert fw.offers(1)
    fw.close()
    link.close()
    assert "loaded allocator module 'first_fit'" in m.proc.log()


def test_unknown_allocator_is_a_clear_error(tmp_path):
    import subprocess
    p = subprocess.run([str(BIN / "mezzo-master"), "--port=0", f"--work_dir={tmp_path}", "--allocator=nosuch"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "unknown allocator 'nosuch'" in p.stdout + p.stderr
    p = subprocess.run([str(BIN / "mezzo-master"), "--port=0", f"--work_dir={tmp_path}", "--weights=eng=x"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "weight" in p.stdout + p.stderr
