"""Chaos tests of master failover (issue 6), on real processes: a real 3-node
ZooKeeper ensemble (Debian's zookeeper package, started by the test on loopback
ports; one node if the ensemble does not form, as test_zk.py does), three
mezzo-masters with --zk (the registry in ZooKeeper), real mezzo-agents with
--master=zk://... and a framework written from the Mesos documents
(mesos_client.py) that follows the leader: it tries the masters, follows a 307
to the leader, retries 503, and re-subscribes with its framework id whenever
its stream ends.

1. 200 long tasks (task groups under the default executor, 5 agents): the
   leading master is SIGKILLed ten times in a row; after each, a new leader is
   elected, all 5 agents and the framework come back to it and the 200 tasks
   are there, RUNNING, with the same ids, none lost, none twice: the master's
   state, the agents' states and the sleeping processes themselves agree. No
   offer ever exceeds what the agent has free (nothing double-offered while the
   new leader rebuilds its state).
3. 500 short tasks: the leader is SIGKILLed while they are finishing; after the
   failover the framework has every task's terminal update, exactly once per
   task after de-duplication by uuid, and each task's updates in order.

Nothing waits a fixed time for correctness: every wait polls with a generous
deadline (a slow, noisy 2-core machine, sanitizer builds)."""
import http.client
import json
import os
import pathlib
import random
import signal
import threading
import time

from cluster import BIN, ClusterError, Process, free_port, kill_processes_under, poll, sanitizer_report
from mesos_client import CallError, MesosError, SchedulerClient, scalar, take_scalars
from test_zk import SESSION_TIMEOUT, get, zookeeper  # noqa: F401  (the ensemble fixture)

WAIT = 120.0
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE",
            "TASK_GONE_BY_OPERATOR"}
ORDER = {"TASK_STAGING": 0, "TASK_STARTING": 1, "TASK_RUNNING": 2}
AGENT_CPUS = 8.0
AGENT_RES = f"cpus:{AGENT_CPUS:g};mem:4096;disk:4096"


class ChaosCluster:
    """3 masters with --zk and n real agents with --master=zk://..., under root."""

    def __init__(self, root, zk, n_agents):
        self.root = pathlib.Path(root)
        self.url = f"zk://{zk.hosts}/mezzo"
        self.masters = {}  # port -> Process
        self.agents = []   # (Process, port, work_dir)
        self.restarts = 0
        for i in range(3):
            self.start_master(free_port(), i)
        for i in range(n_agents):
            port = free_port()
            wd = self.root / f"agent{i}"
            wd.mkdir(parents=True, exist_ok=True)
            p = Process(f"agent{i}", [BIN / "mezzo-agent", f"--master={self.url}", "--ip=127.0.0.1", f"--port={port}",
                                      f"--work_dir={wd}", f"--resources={AGENT_RES}"],
                        self.root / "logs" / f"agent{i}.log").start()
            self.agents.append((p, port, wd))

    def start_master(self, port, i):
        wd = self.root / f"master{i}"
        wd.mkdir(parents=True, exist_ok=True)
        self.restarts += 1
        p = Process(f"master{i}", [BIN / "mezzo-master", "--ip=127.0.0.1", f"--port={port}", f"--work_dir={wd}",
                                   f"--zk={self.url}", "--quorum=2", f"--zk_session_timeout={SESSION_TIMEOUT}",
                                   "--agent_reregister_timeout=10mins"],
                    self.root / "logs" / f"master{i}-{self.restarts}.log").start()
        self.masters[port] = p

    @property
    def ports(self):
        return list(self.masters)

    def check_alive(self):
        for p in list(self.masters.values()) + [a[0] for a in self.agents]:
            if not p.alive() and not p.stopping:
                raise ClusterError(f"{p.name} exited with {p.proc.returncode}:\n{p.log_tail()}")

    def leader(self):
        """The port of the one master answering /master/state while the others redirect to it."""
        self.check_alive()
        codes = {}
        for port, p in self.masters.items():
            if p.alive() and not p.stopping:
                try:
                    codes[port] = get(port, "/master/state")
                except OSError:
                    return None
        leaders = [port for port, (st, _, _) in codes.items() if st == 200]
        if len(leaders) != 1:
            return None
        for port, (st, hdrs, _) in codes.items():
            if port != leaders[0] and st != 307:
                return None
        return leaders[0]

    def state(self, port):
        st, _, body = get(port, "/master/state")
        if st != 200:
            return None
        return json.loads(body)

    def kill_leader(self, lead):
        """SIGKILL the leader, then start a fresh master on its port (three masters again)."""
        p = self.masters[lead]
        p.signal(signal.SIGKILL)
        p.proc.wait(timeout=30)
        p.stopping = True
        idx = int(p.name[len("master"):])
        self.dead = getattr(self, "dead", []) + [p]
        self.start_master(lead, idx)

    def stop(self):
        problems = []
        procs = [a[0] for a in self.agents] + list(self.masters.values()) + getattr(self, "dead", [])
        for p in procs:
            p.stop()
        for _, _, wd in self.agents:
            kill_processes_under(wd)
        for p in procs:
            rep = sanitizer_report(p.log())
            if rep:
                problems.append(f"sanitizer report in {p.name}:\n{rep}")
        if problems:
            raise ClusterError("\n\n".join(problems))


class FollowingFramework:
    """A framework that follows the leading master. A thread owns the client: it
    (re-)subscribes, launches what `plan` asks for on offers, declines the rest,
    records and acknowledges every update. Failures are kept in self.errors."""

    def __init__(self, cluster, name, plan, groups_per_offer=2, check_offers=True):
        self.cluster = cluster
        self.groups_per_offer = groups_per_offer
        self.check_offers = check_offers
        self.info = {"user": os.environ.get("USER", "root"), "name": name, "failover_timeout": 3600.0,
                     "checkpoint": True, "capabilities": [{"type": "PARTITION_AWARE"}]}
        self.plan = plan  # list of (agent-free) task groups still to launch: [[task ids...], ...]
        self.plan_lock = threading.Lock()
        self.per_task = (0.01, 8.0)  # cpus, mem of each task
        self.c = None
        self.port = None
        self.fid = None
        self.subscriptions = 0
        self.subscribed_at = []   # monotonic times of each SUBSCRIBED
        self.updates = []         # (task id, state, uuid or None) in arrival order
        self.last_status = {}     # task id -> its latest TaskStatus (for failure messages)
        self.lock = threading.Lock()
        self.launched = {}        # task id -> agent id
        self.used = {}            # agent id -> cpus our tasks and executors use there
        self.errors = []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    # -------------------------------------------------------------- leader
    def _subscribe_somewhere(self):
        """Tries each master; a 307 names the leader (followed), a 503 or a dead master means try again."""
        info = dict(self.info)
        if self.fid:
            info["id"] = self.fid
        ports = self.cluster.ports
        random.shuffle(ports)
        for port in ports:
            for _hop in range(3):
                c = SchedulerClient("127.0.0.1", port, timeout=30)
                try:
                    c.subscribe(info, timeout=30)
                    return c, port
                except CallError as e:
                    c.close()
                    if e.status != 307:
                        break
                    st, hdrs, _ = get(port, "/master/redirect")
                    loc = hdrs.get("Location", "")
                    if st != 307 or ":" not in loc:
                        break
                    port = int(loc.rsplit(":", 1)[1].split("/")[0])
                except (MesosError, OSError, http.client.HTTPException):
                    c.close()
                    break
        return None, None

    def run(self):
        while not self.stop_flag.is_set():
            c, port = self._subscribe_somewhere()
            if not c:
                time.sleep(0.1)
                continue
            with self.lock:
                self.c, self.port = c, port
                self.fid = c.framework_id
                self.subscriptions += 1
                self.subscribed_at.append(time.monotonic())
            try:
                self._pump(c)
            except (MesosError, OSError, http.client.HTTPException):
                pass  # the stream ended: the master went away; find the next leader
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
            finally:
                c.close()
                with self.lock:
                    self.c = None

    def _pump(self, c):
        while not self.stop_flag.is_set():
            try:
                ev = c.next_event(timeout=1.0)
            except MesosError:
                if c.stream_closed.is_set() and c.events.empty():
                    raise
                continue
            t = ev.get("type")
            if t == "OFFERS":
                self._offers(c, ev["offers"].get("offers", []))
            elif t == "UPDATE":
                st = ev["update"]["status"]
                with self.lock:
                    self.updates.append((st["task_id"]["value"], st["state"], st.get("uuid")))
                    self.last_status[st["task_id"]["value"]] = st
                if "uuid" in st:
                    c.acknowledge(st)
            elif t == "ERROR":
                self.errors.append(f"ERROR event: {ev}")

    def _offers(self, c, offers):
        decline = []
        for o in offers:
            aid = o["agent_id"]["value"]
            res = [dict(r) for r in o["resources"]]
            with self.lock:
                used = self.used.get(aid, 0.0)
            offered = scalar(res, "cpus")
            if self.check_offers and offered > AGENT_CPUS - used + 1e-6:
                self.errors.append(f"offer of {offered} cpus on agent {aid} where only {AGENT_CPUS - used} are free "
                                   "(resources offered twice)")
            ops = []
            with self.plan_lock:
                while self.plan and len(ops) < self.groups_per_offer:
                    group = self.plan[0]
                    ex = take_scalars(res, {"cpus": 0.1, "mem": 32, "disk": 32})
                    if ex is None:
                        break
                    tasks = []
                    for tid, cmd in group:
                        r = take_scalars(res, {"cpus": self.per_task[0], "mem": self.per_task[1]})
                        if r is None:
                            break
                        tasks.append({"name": tid, "task_id": {"value": tid}, "agent_id": o["agent_id"],
                                      "resources": r, "command": {"value": cmd, "shell": True}})
                    if len(tasks) < len(group):
                        break
                    self.plan.pop(0)
                    eid = f"ex-{group[0][0]}"
                    ops.append({"type": "LAUNCH_GROUP", "launch_group": {
                        "executor": {"executor_id": {"value": eid}, "type": "DEFAULT", "resources": ex},
                        "task_group": {"tasks": tasks}}})
                    with self.lock:
                        for tid, _ in group:
                            self.launched[tid] = aid
                        self.used[aid] = used = used + 0.1 + self.per_task[0] * len(group)
            if ops:
                c.accept([o["id"]], ops, refuse_seconds=1.0)
            else:
                decline.append(o["id"])
        if decline:
            c.decline(decline, refuse_seconds=3600.0)

    def stop(self):
        self.stop_flag.set()
        with self.lock:
            c = self.c
        if c:
            c.close()
        self.thread.join(timeout=30)

    def latest(self):
        with self.lock:
            out = {}
            for tid, st, _ in self.updates:
                out[tid] = st
            return out


def sleeping_tasks(tag):
    """Task ids of the live `sleep` processes of this test (their argument ends in .<tag>)."""
    out = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) >= 2 and argv[0].endswith(b"sleep") and argv[1].endswith(f".{tag}".encode()):
            out.append(argv[1].decode())
    return out


def fw_state(state, fid):
    fws = [f for f in state.get("frameworks", []) if f["id"] == fid]
    return fws[0] if fws else None


def test_leader_sigkilled_ten_times_with_200_long_tasks(zookeeper, tmp_path):  # noqa: F811
    n_tasks, n_agents, per_group, rounds = 200, 5, 20, 10
    tag = f"{random.randrange(10**6):06d}"
    # Each task sleeps a unique, recognisable time: 86400 + its index, ending in .<tag>.
    ids = [f"long-{i:03d}" for i in range(n_tasks)]
    plan = [[(tid, f"sleep {86400 + i}.{tag}") for i, tid in enumerate(ids)][g:g + per_group]
            for g in range(0, n_tasks, per_group)]
    c = ChaosCluster(tmp_path, zookeeper, n_agents)
    fw = None
    ok = False
    try:
        lead = poll(c.leader, WAIT, what="one leading master")
        poll(lambda: len([a for a in c.state(lead)["slaves"] if a.get("active")]) == n_agents, WAIT,
             what=f"{n_agents} agents registered")
        fw = FollowingFramework(c, "chaos-long", plan)
        poll(lambda: sum(1 for s in fw.latest().values() if s == "TASK_RUNNING") == n_tasks, 300,
             what=f"{n_tasks} tasks running")
        fid = fw.fid["value"]
        expect_procs = sorted(f"{86400 + i}.{tag}" for i in range(n_tasks))
        poll(lambda: sorted(sleeping_tasks(tag)) == expect_procs, WAIT, what=f"{n_tasks} sleep processes")
        agent_ids = sorted(a["id"] for a in c.state(lead)["slaves"])

        for rnd in range(rounds):
            subs = fw.subscriptions
            killed_at = time.monotonic()
            c.kill_leader(lead)
            # A fresh master started on the old port may win; any single leader will do.
            new = poll(c.leader, WAIT, what=f"round {rnd}: a new leading master")
            elected = time.monotonic() - killed_at

            why = ["nothing yet"]

            def recovered():
                s = c.state(new)
                if s is None:
                    return None
                slaves = sorted(a["id"] for a in s["slaves"] if a.get("active"))
                f = fw_state(s, fid)
                tasks = (f or {}).get("tasks", [])
                why[0] = (f"{len(slaves)} agent(s) active, framework {'active' if f and f.get('active') else 'absent'}"
                          f", {fw.subscriptions - subs} new subscription(s), {len(tasks)} task(s), "
                          f"{sum(1 for t in tasks if t['state'] == 'TASK_RUNNING')} running")
                if slaves != agent_ids or not f or not f.get("active") or fw.subscriptions <= subs:
                    return None
                if len(tasks) != n_tasks or any(t["state"] != "TASK_RUNNING" for t in tasks):
                    return None
                return tasks

            try:
                tasks = poll(recovered, WAIT, what=f"round {rnd}: agents, framework and {n_tasks} tasks back")
            except ClusterError as e:
                raise ClusterError(f"{e}: {why[0]}; framework errors {fw.errors[:3]}") from None
            took = time.monotonic() - killed_at
            assert sorted(t["id"] for t in tasks) == ids, "task ids changed"
            assert {t["id"]: t["slave_id"] for t in tasks} == fw.launched, "tasks moved between agents"
            s = c.state(new)
            assert not s.get("completed_frameworks") or all(f["id"] != fid for f in s["completed_frameworks"])
            assert not fw_state(s, fid).get("completed_tasks"), "a task ended"
            # The processes themselves: each task once, none twice, none gone.
            assert sorted(sleeping_tasks(tag)) == expect_procs
            # The agents agree.
            on_agents = []
            for p, port, _ in c.agents:
                st, _, body = get(port, "/state")
                assert st == 200
                for f in json.loads(body).get("frameworks", []):
                    for ex in f.get("executors", []):
                        on_agents += [t["id"] for t in ex.get("tasks", [])]
            assert sorted(on_agents) == ids
            assert not fw.errors, fw.errors
            bad = [u for u in fw.updates if u[1] != "TASK_RUNNING" and u[1] not in ORDER]
            assert not bad, f"unexpected updates: {bad[:5]}"
            print(f"round {rnd}: new leader {new} elected {elected:.1f}s, all back {took:.1f}s after the SIGKILL")
            lead = new
        ok = True
    finally:
        if fw:
            fw.stop()
        try:
            c.stop()
        except ClusterError:
            if ok:
                raise


def test_leader_sigkilled_while_500_tasks_finish(zookeeper, tmp_path):  # noqa: F811
    n_tasks, n_agents, per_group = 500, 5, 25
    tag = f"{random.randrange(10**6):06d}"
    ids = [f"short-{i:03d}" for i in range(n_tasks)]
    # Every task starts as soon as its group is launched and ends at its own time,
    # spread over a window that opens once all should be running.
    c = ChaosCluster(tmp_path, zookeeper, n_agents)
    fw = None
    go_fd = None
    ok = False
    try:
        lead = poll(c.leader, WAIT, what="one leading master")
        poll(lambda: len([a for a in c.state(lead)["slaves"] if a.get("active")]) == n_agents, WAIT,
             what=f"{n_agents} agents registered")
        # Tasks wait until the test opens a FIFO (opening it for reading blocks until
        # there is a writer), then sleep their share of a 10 s window.
        go = tmp_path / f"go-{tag}"
        os.mkfifo(go)
        cmds = [f": < {go}; sleep {(i % 50) * 0.2:.1f}" for i in range(n_tasks)]
        plan = [list(zip(ids, cmds))[g:g + per_group] for g in range(0, n_tasks, per_group)]
        fw = FollowingFramework(c, "chaos-short", plan, groups_per_offer=4, check_offers=False)
        poll(lambda: sum(1 for s in fw.latest().values() if s == "TASK_RUNNING") == n_tasks, 300,
             what=f"{n_tasks} tasks running")
        go_fd = os.open(go, os.O_RDWR)  # kept open: every reader gets through
        # SIGKILL the leader once the first tasks have finished (the rest are finishing).
        poll(lambda: sum(1 for s in fw.latest().values() if s in TERMINAL) >= 30, WAIT,
             what="the first tasks to finish")
        done_before = sum(1 for s in fw.latest().values() if s in TERMINAL)
        c.kill_leader(lead)
        poll(c.leader, WAIT, what="a new leading master")
        poll(lambda: len([t for t, s in fw.latest().items() if s in TERMINAL]) == n_tasks, WAIT,
             what=f"a terminal update for every one of the {n_tasks} tasks")
        assert done_before < n_tasks, "every task finished before the failover"
        assert fw.subscriptions >= 2, "the framework never re-subscribed"
        # Exactly one terminal update per task after de-duplication by uuid; per-task order kept.
        with fw.lock:
            updates = list(fw.updates)
        seen = set()
        per_task = {}
        for tid, st, u in updates:
            if u is not None:
                if (tid, u) in seen:
                    continue  # a retry of an update already received
                seen.add((tid, u))
            per_task.setdefault(tid, []).append(st)
        assert sorted(per_task) == ids
        for tid, states in per_task.items():
            terminal = [s for s in states if s in TERMINAL]
            assert terminal == ["TASK_FINISHED"], f"{tid}: {states}, last {fw.last_status.get(tid)}"
            assert states[-1] == "TASK_FINISHED", f"{tid}: update after its terminal one: {states}"
            ranks = [ORDER.get(s, 3) for s in states]
            assert ranks == sorted(ranks), f"{tid}: out of order: {states}"
        assert not fw.errors, fw.errors
        print(f"{done_before} task(s) had finished before the SIGKILL; all {n_tasks} accounted for after it")
        ok = True
    finally:
        if go_fd is not None:
            os.close(go_fd)
        if fw:
            fw.stop()
        try:
            c.stop()
        except ClusterError:
            if ok:
                raise
