"""Masters that contend for leadership through ZooKeeper (--zk), as Mesos's do.

A real ZooKeeper from Debian's `zookeeper` package is started by the test on free
loopback ports: a three-node ensemble, or one node if the ensemble does not form
within its deadline (the test prints which). Three mezzo-masters contend with
--zk=zk://.../mezzo; an agent and the CLI use --master=zk://...; a framework is
`mezzo execute` (libmezzo's scheduler) with a zk:// master.

Checked: exactly one master leads; the others answer the APIs and endpoints with
307 and a Location on the leader (but serve /health themselves); after a
SIGKILL of the leader a new one is elected, the agent re-registers with it
(same agent id, its task still there) and the framework re-subscribes with its
framework id; the CLI finds the leader through ZooKeeper. The registry lives in
ZooKeeper (--registry=zk, the default with --zk): the backend's own tests
(tests/unit/test_master_registry.c) run against the ensemble, and a new leader
finds the agents, weights, quota and reservations its SIGKILLed predecessor
recorded.

Skipped (with the reason printed) only when the zookeeper package is not
installed and scripts/deps.sh cannot install it."""
import contextlib
import json
import os
import pathlib
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from cluster import BIN, ClusterError, Process, free_port, kill_processes_under, poll, sanitizer_report
from zkensemble import ZooKeeper, zookeeper_available

ENSEMBLE_DEADLINE = 90.0
WAIT = 90.0  # generous: slow machines, sanitizer builds
SESSION_TIMEOUT = "2secs"


@contextlib.contextmanager
def running(cluster):
    """Stops the cluster at the end; its own errors there (a crash, a sanitizer
    report) fail a test whose body passed, and never hide the body's failure."""
    ok = False
    try:
        yield cluster
        ok = True
    finally:
        try:
            cluster.stop()
        except ClusterError:
            if ok:
                raise


@pytest.fixture
def zookeeper(tmp_path):
    ok, reason = zookeeper_available()
    if not ok:
        print(f"SKIP test_zk: {reason}")
        pytest.skip(reason)
    zk = ZooKeeper(tmp_path / "zk3", 3).start()
    try:
        zk.wait(ENSEMBLE_DEADLINE)
        print(f"ZooKeeper: a 3-node ensemble at {zk.hosts}")
    except ClusterError as e:
        zk.stop()
        print(f"ZooKeeper: the 3-node ensemble did not form ({e}); using one node")
        zk = ZooKeeper(tmp_path / "zk1", 1).start()
        zk.wait(WAIT)
        print(f"ZooKeeper: one node at {zk.hosts}")
    yield zk
    zk.stop()


def get(port, path, method="GET", body=None, headers=None):
    """(status, headers, body) without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers=headers or {"Accept": "application/json"})
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class ZkCluster:
    def __init__(self, root, zk, n_masters=3, flags=()):
        self.root = pathlib.Path(root)
        self.flags = list(flags)
        self.url = f"zk://{zk.hosts}/mezzo"
        self.masters = {}  # port -> Process
        self.agent = None
        self.agent_port = None
        self.others = []
        for i in range(n_masters):
            self.start_master(i)

    def start_master(self, i):
        port = free_port()
        wd = self.root / f"master{i}"
        wd.mkdir(parents=True, exist_ok=True)
        p = Process(f"master{i}", [BIN / "mezzo-master", "--ip=127.0.0.1", f"--port={port}", f"--work_dir={wd}",
                                   f"--zk={self.url}", "--quorum=2", f"--zk_session_timeout={SESSION_TIMEOUT}", *self.flags],
                    self.root / "logs" / f"master{i}.log").start()
        self.masters[port] = p

    def start_agent(self, master=None):
        self.agent_port = free_port()
        wd = self.root / "agent0"
        wd.mkdir(parents=True, exist_ok=True)
        self.agent_dir = wd
        self.agent = Process("agent0", [BIN / "mezzo-agent", f"--master={master or self.url}", "--ip=127.0.0.1",
                                        f"--port={self.agent_port}", f"--work_dir={wd}",
                                        "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]"],
                             self.root / "logs" / "agent0.log").start()

    def live(self):
        return {port: p for port, p in self.masters.items() if p.alive() and not p.stopping}

    def leader(self):
        """The port of the only master answering /master/state with 200, once the others redirect to it."""
        for p in self.processes():
            if not p.alive() and not p.stopping:
                raise ClusterError(f"{p.name} exited with {p.proc.returncode}:\n{p.log_tail()}")
        codes = {port: get(port, "/master/state") for port in self.live()}
        leaders = [port for port, (st, _, _) in codes.items() if st == 200]
        if len(leaders) != 1:
            return None
        lead = leaders[0]
        for port, (st, hdrs, _) in codes.items():
            if port == lead:
                continue
            if st != 307 or hdrs.get("Location") != f"http://127.0.0.1:{lead}/master/state":
                return None
        return lead

    def state(self, port):
        st, _, body = get(port, "/master/state")
        assert st == 200, (st, body[:300])
        return json.loads(body)

    def cli(self, *args):
        return subprocess.run([str(BIN / "mezzo"), *args, f"--master={self.url}"], capture_output=True, text=True,
                              timeout=120)

    def processes(self):
        out = list(self.masters.values()) + self.others
        if self.agent:
            out.append(self.agent)
        return out

    def stop(self):
        problems = []
        for p in self.others + ([self.agent] if self.agent else []) + list(self.masters.values()):
            p.stop()
        if self.agent:
            kill_processes_under(self.agent_dir)
        for p in self.processes():
            rep = sanitizer_report(p.log())
            if rep:
                problems.append(f"sanitizer report in {p.name}:\n{rep}")
        if problems:
            raise ClusterError("\n\n".join(problems))


def test_masters_fail_over_through_zookeeper(zookeeper, tmp_path):
    with running(ZkCluster(tmp_path, zookeeper)) as c:
        # One leader; the others redirect, but serve /health themselves.
        lead = poll(c.leader, WAIT, what="one leading master, the others redirecting to it")
        followers = [p for p in c.live() if p != lead]
        assert len(followers) == 2
        for f in followers:
            st, hdrs, _ = get(f, "/api/v1/scheduler", method="POST", body=b"{}",
                              headers={"Content-Type": "application/json"})
            assert st == 307 and hdrs.get("Location") == f"http://127.0.0.1:{lead}/api/v1/scheduler", (st, hdrs)
            st, hdrs, _ = get(f, "/master/flags?x=1")
            assert st == 307 and hdrs.get("Location") == f"http://127.0.0.1:{lead}/master/flags?x=1"
            assert get(f, "/health")[0] == 200
            assert get(f, "/files/debug")[0] == 200  # its own log's files (none here), as Mesos's files process
            st, hdrs, _ = get(f, "/master/redirect")
            assert st == 307 and hdrs.get("Location") == f"//127.0.0.1:{lead}"

        # An agent and a framework that find the leader through ZooKeeper.
        c.start_agent()

        def agent_registered(port):
            slaves = [s for s in c.state(port)["slaves"] if s.get("active", True)]
            return slaves[0]["id"] if len(slaves) == 1 else None

        agent_id = poll(lambda: agent_registered(lead), WAIT, what="the agent to register with the leader")
        fw = Process("framework", [BIN / "mezzo", "execute", f"--master={c.url}", "--name=zk-fw",
                                   "--command=sleep 600", "--instances=1", "--resources=cpus:0.1;mem:32"],
                     tmp_path / "logs" / "framework.log").start()
        c.others.append(fw)

        def task_running(port):
            for f in c.state(port)["frameworks"]:
                if f["name"] == "zk-fw" and f.get("active") and any(
                        t["state"] == "TASK_RUNNING" for t in f.get("tasks", [])):
                    return f["id"]
            return None

        fw_id = poll(lambda: task_running(lead), WAIT, what="the framework's task to run")

        # The CLI finds the leader through ZooKeeper.
        r = c.cli("agent", "list")
        assert r.returncode == 0 and agent_id in r.stdout, r.stdout + r.stderr

        # SIGKILL the leader: a new one is elected among the two others.
        c.masters[lead].signal(signal.SIGKILL)
        c.masters[lead].proc.wait(timeout=30)
        c.masters[lead].stopping = True
        killed_at = time.monotonic()
        new = poll(c.leader, WAIT, what="a new leading master after the SIGKILL")
        assert new in followers
        print(f"new leader elected {time.monotonic() - killed_at:.1f}s after the SIGKILL")

        # The agent re-registers with it (same id, its task with it); the framework re-subscribes with its id.
        def recovered():
            s = c.state(new)
            slaves = [a for a in s["slaves"] if a.get("active", True)]
            fws = [f for f in s["frameworks"] if f["id"] == fw_id and f.get("active")]
            if len(slaves) != 1 or slaves[0]["id"] != agent_id or len(fws) != 1:
                return None
            tasks = fws[0].get("tasks", [])
            return tasks if len(tasks) == 1 and tasks[0]["state"] == "TASK_RUNNING" else None

        poll(recovered, WAIT, what="the agent and the framework to come back to the new leader")
        assert "Subscribed to 127.0.0.1:%d" % new in fw.log() or fw.alive()

        r = c.cli("framework", "list")
        assert r.returncode == 0 and fw_id in r.stdout, r.stdout + r.stderr
        other = [p for p in followers if p != new][0]
        st, hdrs, _ = get(other, "/master/state")
        assert st == 307 and hdrs.get("Location") == f"http://127.0.0.1:{new}/master/state"


def test_agent_given_a_follower_is_redirected_to_the_leader(zookeeper, tmp_path):
    """An agent whose --master names a master that does not lead follows its 307 to the
    leader (as it would a Mesos master's), and so does the CLI."""
    with running(ZkCluster(tmp_path, zookeeper)) as c:
        lead = poll(c.leader, WAIT, what="one leading master")
        follower = [p for p in c.live() if p != lead][0]
        c.start_agent(master=f"127.0.0.1:{follower}")

        def registered():
            slaves = c.state(lead)["slaves"]
            return slaves and slaves[0]["active"]
        poll(registered, WAIT, what="the agent to register with the leader through the follower's redirect")
        assert f"following it to 127.0.0.1:{lead}" in c.agent.log()
        r = subprocess.run([str(BIN / "mezzo"), "agent", "list", f"--master=127.0.0.1:{follower}"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and c.state(lead)["slaves"][0]["id"] in r.stdout, r.stdout + r.stderr


def test_master_zk_flags_are_validated(tmp_path):
    def run(*flags):
        return subprocess.run([str(BIN / "mezzo-master"), "--ip=127.0.0.1", "--port=0",
                               f"--work_dir={tmp_path}/m", *flags], capture_output=True, text=True, timeout=60)

    r = run("--zk=zk://127.0.0.1:2181/mezzo")
    assert r.returncode != 0 and "--quorum" in r.stderr
    r = run("--zk=zk://127.0.0.1/mezzo", "--quorum=1")
    assert r.returncode != 0 and "no port" in r.stderr
    r = run("--zk=zk://127.0.0.1:2181", "--quorum=1")
    assert r.returncode != 0 and "no path" in r.stderr
    r = run("--zk=http://127.0.0.1:2181/m", "--quorum=1")
    assert r.returncode != 0 and "not a ZooKeeper URL" in r.stderr
    r = run("--quorum=2")
    assert r.returncode != 0 and "needs --zk" in r.stderr
    r = run("--registry=zk")
    assert r.returncode != 0 and "--registry=zk needs --zk" in r.stderr
    r = run("--registry=etcd")
    assert r.returncode != 0 and "expecting zk, sqlite or in_memory" in r.stderr
    r = subprocess.run([str(BIN / "mezzo-agent"), "--master=zk://h:1//x", f"--work_dir={tmp_path}/a"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "empty component" in r.stderr


def test_registry_zk_backend(zookeeper):
    """The ZooKeeper backend's unit tests (round trip, escaping, guard, 10,000 agents) against the ensemble."""
    exe = BIN / "tests" / "test_master_registry"
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "MEZZO_TEST_ZK": f"zk://{zookeeper.hosts}/unit"})
    print(r.stdout[-3000:], r.stderr[-3000:])
    assert r.returncode == 0
    assert "SKIP" not in r.stdout + r.stderr
    assert "test_zk_many_agents" in r.stdout + r.stderr


def test_new_leader_recovers_the_registry_from_zookeeper(zookeeper, tmp_path):
    from test_master import AGENT_RES, AgentLink  # noqa: F401
    from test_operator_api import call as op_call

    links = []
    with running(ZkCluster(tmp_path, zookeeper, flags=["--agent_reregister_timeout=5secs"])) as c:
        try:
            lead = poll(c.leader, WAIT, what="one leading master")
            assert "registry: zk" in c.masters[lead].log()
            # Agents, a reservation, weights and quota, recorded by the leader.
            link = AgentLink(lead)
            links.append(link)
            aid = link.register("r")
            away = link.register("away", hostname="stays-away")
            gone = link.register("g", hostname="leaves")
            link.send({"type": "UNREGISTER", "agent_id": {"value": gone}})
            res = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
                    "reservations": [{"type": "DYNAMIC", "role": "gold", "principal": "ops"}]}]
            st, _, body = op_call(lead, {"type": "RESERVE_RESOURCES",
                                         "reserve_resources": {"agent_id": {"value": aid}, "resources": res}})
            assert st == 202, body
            assert op_call(lead, {"type": "UPDATE_WEIGHTS",
                                  "update_weights": {"weight_infos": [{"role": "gold", "weight": 2.5}]}})[0] == 202
            q = {"role": "gold", "guarantees": {"cpus": {"value": 1.0}}, "limits": {"cpus": {"value": 2.0}}}
            st, _, body = op_call(lead, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [q]}})
            assert st == 200, body
            poll(lambda: len([s for s in c.state(lead)["slaves"] if s.get("active", True)]) == 2, WAIT,
                 what="two agents registered, one gone")

            # SIGKILL the leader: the new one loads what it recorded from ZooKeeper.
            c.masters[lead].signal(signal.SIGKILL)
            c.masters[lead].proc.wait(timeout=30)
            c.masters[lead].stopping = True
            link.close()
            new = poll(c.leader, WAIT, what="a new leading master after the SIGKILL")
            log = c.masters[new].log()
            assert "registry recovered: 2 agent(s) to re-register, 1 unreachable or gone, 1 weight(s), 1 quota(s)" in log
            w = json.loads(op_call(new, {"type": "GET_WEIGHTS"})[2])["get_weights"]["weight_infos"]
            assert {"role": "gold", "weight": 2.5} in w
            got = json.loads(op_call(new, {"type": "GET_QUOTA"})[2])["get_quota"]["status"]["configs"]
            assert got == [q]
            # The agent comes back with its static resources; the registry gives it its reservation.
            link2 = AgentLink(new)
            links.append(link2)
            assert link2.register("r2", agent_id=aid) == aid
            slave = poll(lambda: c.state(new)["slaves"], WAIT, what="the agent")[0]
            assert slave["reserved_resources"].get("gold", {}).get("cpus") == 1
            # The gone agent is refused; the one that stays away is marked unreachable after the timeout.
            link2.send({"type": "REGISTER", "link_key": "again", "agent_id": {"value": gone},
                        "register": {"agent_info": {"hostname": "leaves", "resources": AGENT_RES}}})
            assert link2.expect(lambda e: e.get("link_key") == "again")["type"] == "SHUTDOWN"
            poll(lambda: "1 agent(s) did not re-register" in c.masters[new].log(), WAIT,
                 what="the agent that stayed away marked unreachable")
            assert away
        finally:
            for ln in links:
                ln.close()


def test_deposed_leader_cannot_write_the_registry(zookeeper, tmp_path):
    """A leader stopped (SIGSTOP) past its session timeout is replaced; when it runs
    again it exits, and a change it was asked for meanwhile never reaches the
    registry: whichever comes first, the master sees its session expired and exits,
    or its registry write fails the check of its own (gone) election znode that
    every write carries (test_master_registry.c tests that check itself)."""
    import threading

    from test_operator_api import call as op_call

    with running(ZkCluster(tmp_path, zookeeper)) as c:
        lead = poll(c.leader, WAIT, what="one leading master")
        old = c.masters[lead]
        old.signal(signal.SIGSTOP)
        try:
            others = {p: m for p, m in c.masters.items() if p != lead}

            def new_leader():
                codes = {p: get(p, "/master/state")[0] for p in others}
                return [p for p, st in codes.items() if st == 200]
            new = poll(lambda: new_leader()[0] if len(new_leader()) == 1 else None, WAIT,
                       what="a new leader while the old one is stopped")
            # A change sent to the stopped leader: it is read once the process runs again.
            answer = {}

            def send():
                try:
                    answer["status"] = op_call(lead, {"type": "UPDATE_WEIGHTS", "update_weights": {
                        "weight_infos": [{"role": "deposed", "weight": 7.0}]}})[0]
                except OSError as e:
                    answer["error"] = repr(e)
            t = threading.Thread(target=send, daemon=True)
            t.start()
            time.sleep(0.2)  # not for correctness: lets the request reach the stopped process's socket first
        finally:
            old.signal(signal.SIGCONT)
        old.proc.wait(timeout=WAIT)
        old.stopping = True
        assert old.proc.returncode != 0
        assert "no longer the leading master" in old.log()
        t.join(timeout=WAIT)
        assert answer.get("status") not in (200, 202), answer
        w = json.loads(op_call(new, {"type": "GET_WEIGHTS"})[2])
        assert all(x["role"] != "deposed" for x in w["get_weights"].get("weight_infos", [])), w
