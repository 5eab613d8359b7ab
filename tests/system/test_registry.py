"""The master's registry (<work_dir>/registry.db) across restarts of a standalone
master: agents told REGISTERED are recorded before they are told (even when the
master is SIGKILLed in the middle of a burst of registrations) and may
re-register with their ids after the restart; agents that do not come back
within --agent_reregister_timeout are marked unreachable; weights, quota and
dynamic reservations survive a restart.

Fake agents speak the link protocol (test_master.AgentLink). The registry file is
read directly with Python's sqlite3 (a second reader of a WAL database)."""
import json
import signal
import sqlite3
import threading

import pytest

from cluster import poll
from test_master import (AGENT_RES, WAIT, AgentLink, Framework, Master, command_task, cpus_of, launch,  # noqa: F401
                         typ)
from test_operator_api import call as op_call

ADMITTED, UNREACHABLE, GONE = 1, 2, 3


class Masters:
    """Masters sharing one work_dir (tmp/m/master-work-0), started one after another."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path / "m"
        self.live = []

    def start(self, *flags):
        m = Master(self.tmp, flags)
        self.live.append(m)
        return m

    def kill(self, m):
        """SIGKILL: no clean shutdown, nothing flushed beyond what was committed."""
        m.proc.proc.send_signal(signal.SIGKILL)
        m.proc.proc.wait(timeout=WAIT)
        m.proc.stopping = True
        self.live.remove(m)

    @property
    def db(self):
        return self.tmp / "master-work-0" / "registry.db"

    def agents(self, state=None):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute("SELECT id, state FROM agents").fetchall()
        finally:
            con.close()
        return {i: s for i, s in rows if state is None or s == state}

    def stop_all(self):
        for m in list(self.live):
            m.stop()
        self.live = []


@pytest.fixture
def masters(tmp_path):
    ms = Masters(tmp_path)
    yield ms
    ms.stop_all()


def test_registry_survives_sigkill_during_registrations(masters):
    m = masters.start()
    link = AgentLink(m.port)
    told = []
    lock = threading.Lock()
    enough = threading.Event()

    def on_event(ev):
        if ev.get("type") == "REGISTERED":
            with lock:
                told.append(ev["registered"]["agent_id"]["value"])
                if len(told) >= 25:
                    enough.set()
    link.stream.on_event = on_event
    # A burst of 400 registrations, sent without waiting; the master dies in its middle.
    for i in range(400):
        link.send({"type": "REGISTER", "link_key": f"burst-{i}",
                   "register": {"agent_info": {"hostname": f"h{i}", "resources": AGENT_RES}}})
    assert enough.wait(WAIT), "no REGISTERED came"
    masters.kill(m)
    link.stream.closed.wait(WAIT)
    with lock:
        ids = list(told)
    link.close()
    assert len(ids) >= 25 and len(set(ids)) == len(ids)

    # Every agent that was told REGISTERED is in the registry, as admitted.
    recorded = masters.agents(ADMITTED)
    missing = [i for i in ids if i not in recorded]
    assert not missing, f"{len(missing)} agent(s) told REGISTERED but not recorded: {missing[:5]}"

    # After the restart, they re-register with their ids and are taken back as recovered.
    m2 = masters.start()
    assert "recovered: %d agent(s) to re-register" % len(recorded) in m2.proc.log()
    link2 = AgentLink(m2.port)
    sample = ids[:5] + ids[-5:]
    for i, aid in enumerate(sample):
        assert link2.register(f"back-{i}", hostname=f"back{i}", agent_id=aid) == aid
    poll(lambda: {s["id"] for s in m2.state()["slaves"]} == set(sample), WAIT, what="re-registered agents in state")
    assert m2.proc.log().count("recovered from the registry") == len(sample)
    link2.close()


def test_unreregistered_agents_become_unreachable_after_restart(masters):
    m = masters.start()
    link = AgentLink(m.port)
    back = link.register("a", hostname="comes-back")
    lost = link.register("b", hostname="stays-away")
    masters.kill(m)
    link.close()

    m2 = masters.start("--agent_reregister_timeout=1secs")
    link2 = AgentLink(m2.port)
    assert link2.register("a2", hostname="comes-back", agent_id=back) == back
    poll(lambda: masters.agents(UNREACHABLE) == {lost: UNREACHABLE}, WAIT, what="the absent agent marked unreachable")
    assert masters.agents()[back] == ADMITTED
    # A partition-aware framework asking about a task on it hears TASK_UNREACHABLE.
    fw = Framework(m2.port, name="pa", capabilities=["PARTITION_AWARE"])
    fw.ok("RECONCILE", {"reconcile": {"tasks": [{"task_id": {"value": "t-on-lost"}, "agent_id": {"value": lost}}]}})
    assert fw.update("t-on-lost")["state"] == "TASK_UNREACHABLE"
    # It may still come back, later.
    assert link2.register("b2", hostname="stays-away", agent_id=lost) == lost
    poll(lambda: masters.agents()[lost] == ADMITTED, WAIT, what="the agent admitted again")
    poll(lambda: len(m2.state()["slaves"]) == 2, WAIT, what="both agents registered")
    fw.close()
    link2.close()


def test_unregistered_agent_is_gone_across_restart(masters):
    m = masters.start()
    link = AgentLink(m.port)
    aid = link.register("g")
    link.send({"type": "UNREGISTER", "agent_id": {"value": aid}})
    poll(lambda: masters.agents().get(aid) == GONE, WAIT, what="the agent recorded gone")
    masters.kill(m)
    link.close()
    m2 = masters.start()
    link2 = AgentLink(m2.port)
    link2.send({"type": "REGISTER", "link_key": "again", "agent_id": {"value": aid},
                "register": {"agent_info": {"hostname": "fake-host", "resources": AGENT_RES}}})
    assert link2.expect(lambda e: e.get("link_key") == "again")["type"] == "SHUTDOWN"
    link2.close()


def test_weights_quota_and_reservations_survive_restart(masters):
    m = masters.start()
    port = m.port
    link = AgentLink(port)
    aid = link.register("r")
    res = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
            "reservations": [{"type": "DYNAMIC", "role": "gold", "principal": "ops"}]}]
    status, _, body = op_call(port, {"type": "RESERVE_RESOURCES",
                                     "reserve_resources": {"agent_id": {"value": aid}, "resources": res}})
    assert status == 202, body
    assert op_call(port, {"type": "UPDATE_WEIGHTS",
                          "update_weights": {"weight_infos": [{"role": "gold", "weight": 2.5}]}})[0] == 202
    q = {"role": "gold", "guarantees": {"cpus": {"value": 1.0}}, "limits": {"cpus": {"value": 2.0}}}
    status, _, body = op_call(port, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [q]}})
    assert status == 200, body
    masters.kill(m)
    link.close()

    m2 = masters.start()
    port = m2.port
    w = json.loads(op_call(port, {"type": "GET_WEIGHTS"})[2])["get_weights"]["weight_infos"]
    assert {"role": "gold", "weight": 2.5} in w
    got = json.loads(op_call(port, {"type": "GET_QUOTA"})[2])["get_quota"]["status"]["configs"]
    assert got == [q]
    # The agent comes back with its static resources only; the registry keeps its reservation.
    link2 = AgentLink(port)
    assert link2.register("r2", agent_id=aid) == aid
    slave = poll(lambda: m2.state()["slaves"], WAIT, what="the agent")[0]
    assert slave["reserved_resources"].get("gold", {}).get("cpus") == 1
    # The quota is back in the allocator: gold is offered at most its 2-cpu limit of 4 cpus.
    gold = Framework(port, capabilities=["MULTI_ROLE"], roles=["gold"], name="gold")
    assert cpus_of(gold.offers(1)[0]) <= 2.0
    gold.close()
    link2.close()
