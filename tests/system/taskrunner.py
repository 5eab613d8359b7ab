"""A small framework for the operator-view tests (web UI, CLI, endpoints):
subscribes through mesos_client.SchedulerClient, launches command tasks on
demand from the offers it gets, and acknowledges every update on a background
thread, recording each task's states.

    fw = TaskRunner(cluster.master_port, name="ui", roles=["web"])
    fw.launch("t1", "echo hi; sleep 600")
    fw.wait_state("t1", "TASK_RUNNING")
    ...
    fw.close()
"""
import getpass
import threading
import time

from mesos_client import MesosError, SchedulerClient, take_scalars

TASK_RES = {"cpus": 0.1, "mem": 32.0}


class TaskRunner:
    def __init__(self, port, name="taskrunner", roles=None, info=None):
        self.client = SchedulerClient("127.0.0.1", port)
        info = {"user": getpass.getuser(), "name": name, **(info or {})}
        if roles:
            info["roles"] = list(roles)
            info["capabilities"] = [{"type": "MULTI_ROLE"}]
        self.client.subscribe(info)
        self.framework_id = self.client.framework_id["value"]
        self.lock = threading.Lock()
        self.pending = []  # (task id, command, resources) waiting for an offer
        self.states = {}  # task id -> [states]
        self.updates = {}  # task id -> [whole statuses]
        self.agents = {}  # task id -> agent id
        self.errors = []
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def launch(self, task_id, command, resources=None):
        with self.lock:
            self.pending.append((task_id, command, resources or TASK_RES))
            self.states.setdefault(task_id, [])
        self.client.call({"type": "REVIVE"})

    def _loop(self):
        while not self.stopped:
            try:
                ev = self.client.next_event(timeout=1.0)
            except MesosError as e:
                if self.client.stream_closed.is_set():
                    if not self.stopped:
                        self.errors.append(str(e))
                    return
                continue
            try:
                self._handle(ev)
            except Exception as e:  # noqa: BLE001 - reported by wait_state
                self.errors.append(repr(e))

    def _handle(self, ev):
        t = ev["type"]
        if t == "OFFERS":
            for offer in ev["offers"]["offers"]:
                res = [dict(r) for r in offer.get("resources", [])]
                infos = []
                with self.lock:
                    while self.pending:
                        tid, cmd, want = self.pending[0]
                        taken = take_scalars(res, want)
                        if taken is None:
                            break
                        self.pending.pop(0)
                        self.agents[tid] = offer["agent_id"]["value"]
                        infos.append({"name": tid, "task_id": {"value": tid}, "agent_id": offer["agent_id"],
                                      "resources": taken, "command": {"value": cmd}})
                if infos:
                    self.client.launch([offer["id"]], infos, refuse_seconds=0.1)
                else:
                    self.client.decline([offer["id"]], refuse_seconds=1.0)
        elif t == "UPDATE":
            st = ev["update"]["status"]
            with self.lock:
                self.states.setdefault(st["task_id"]["value"], []).append(st["state"])
                self.updates.setdefault(st["task_id"]["value"], []).append(st)
            self.client.acknowledge(st)

    def wait_state(self, task_id, state, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if state in self.states.get(task_id, []):
                    return
            if self.errors:
                raise AssertionError(f"framework errors: {self.errors}")
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} did not reach {state} in {timeout}s: {self.states.get(task_id)}")

    def last(self, task_id):
        """The latest status of task_id (a dict), or None."""
        with self.lock:
            u = self.updates.get(task_id, [])
            return u[-1] if u else None

    def kill(self, task_id):
        self.client.kill(task_id, self.agents.get(task_id))

    def close(self):
        self.stopped = True
        self.client.close()
        self.thread.join(timeout=5)
