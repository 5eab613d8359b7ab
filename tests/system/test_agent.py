"""System tests of mezzo-agent and mezzo-executor against a fake master.

The fake master is a small HTTP server in this file that accepts the agent's
link (POST /api/v1/mezzo/agent, a chunked RecordIO stream of AgentCall records in
each direction, proto/mezzo/agent.proto) in JSON: the agent is started with
--link_content_type=application/json. The tests drive the agent with AgentEvents
(REGISTERED, RUN_TASK, KILL_TASK, ACKNOWLEDGE, PING, ...) and look at the
AgentCalls it sends back, at its sandboxes and at GET /state.

No fixed sleeps: everything is polled with generous timeouts.
"""
import glob
import http.server
import http.client
import json
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from cluster import free_port
from conftest import BIN

AGENT = BIN / "mezzo-agent"
EXECUTOR = BIN / "mezzo-executor"
TIMEOUT = 60  # generous: binaries under ASan on a shared 2-core machine

pytestmark = pytest.mark.skipif(
    not AGENT.exists() or not EXECUTOR.exists(), reason=f"{AGENT} or {EXECUTOR} not built"
)


def wait_for(pred, timeout=TIMEOUT, what="condition", interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------- fake master


class LinkHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep pytest output quiet
        pass

    def do_POST(self):
        master = self.server.master
        if self.path != "/api/v1/mezzo/agent":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        master.content_types.append(self.headers.get("Content-Type"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Mezzo-Link-Id", "link-test")
        self.end_headers()
        link = master.attach(self)
        buf = b""
        try:
            while True:
                line = self.rfile.readline()
                if not line:
                    break
                size = int(line.strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data = self.rfile.read(size)
                self.rfile.readline()  # CRLF after the chunk
                buf += data
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        break
                    n = int(buf[:nl])
                    if len(buf) < nl + 1 + n:
                        break
                    record = buf[nl + 1:nl + 1 + n]
                    buf = buf[nl + 1 + n:]
                    master.received(link, json.loads(record))
        except (OSError, ValueError):
            pass
        finally:
            master.detach(link)
            self.close_connection = True


class Link:
    def __init__(self, handler):
        self.handler = handler
        self.lock = threading.Lock()
        self.open = True

    def send(self, event):
        self.send_all([event])

    def send_all(self, events):
        """Writes the events at once: a chunk each, all in one write."""
        chunks = []
        for event in events:
            data = json.dumps(event, separators=(",", ":")).encode()
            record = str(len(data)).encode() + b"\n" + data
            chunks.append(f"{len(record):x}\r\n".encode() + record + b"\r\n")
        with self.lock:
            self.handler.wfile.write(b"".join(chunks))
            self.handler.wfile.flush()

    def close(self):
        with self.lock:
            self.open = False
            try:
                self.handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeMaster:
    """Accepts agent links; records every AgentCall; answers REGISTER and PONG-less PINGs."""

    def __init__(self, agent_id="agent-test-1", auto_register=True):
        self.agent_id = agent_id
        self.auto_register = auto_register
        self.calls = []
        self.content_types = []
        self.cond = threading.Condition()
        self.link = None
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), LinkHandler)
        self.server.daemon_threads = True
        self.server.master = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def attach(self, handler):
        link = Link(handler)
        with self.cond:
            self.link = link
            self.cond.notify_all()
        return link

    def detach(self, link):
        with self.cond:
            link.open = False
            if self.link is link:
                self.link = None
            self.cond.notify_all()

    def received(self, link, call):
        # REGISTERED goes before the call is recorded: a test that saw REGISTER and sends
        # an event must not get it to the agent ahead of REGISTERED (the agent ignores a
        # RUN_TASK before its registration, as Mesos's does).
        if call.get("type") == "REGISTER" and self.auto_register:
            link.send({
                "type": "REGISTERED",
                "agent_id": {"value": self.agent_id},
                "link_key": call.get("link_key"),
                "registered": {"agent_id": {"value": self.agent_id}, "ping_interval_seconds": 30},
            })
        with self.cond:
            self.calls.append(call)
            self.cond.notify_all()

    def send(self, event):
        self.send_all([event])

    def send_all(self, events):
        link = wait_for(lambda: self.link, what="an agent link")
        for event in events:
            event.setdefault("agent_id", {"value": self.agent_id})
        link.send_all(events)

    def wait_call(self, pred, what, timeout=TIMEOUT, start=0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, c in enumerate(self.calls[start:], start):
                    if pred(c):
                        return i, c
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; calls: {self.calls[-10:]}")
                self.cond.wait(left)

    def updates(self, task_id):
        with self.cond:
            return [c for c in self.calls if c.get("type") == "STATUS_UPDATE"
                    and c["status_update"]["status"]["task_id"]["value"] == task_id]

    def wait_update(self, task_id, state, timeout=TIMEOUT):
        return self.wait_update_at(task_id, state, timeout)[1]

    def wait_update_at(self, task_id, state, timeout=TIMEOUT):
        """(index among the calls, call) of the first update of a task to state."""
        return self.wait_call(
            lambda c: c.get("type") == "STATUS_UPDATE"
            and c["status_update"]["status"]["task_id"]["value"] == task_id
            and c["status_update"]["status"]["state"] == state,
            f"{state} for {task_id}", timeout)

    def ack(self, update):
        self.send(ack_event(update))

    def drop_link(self):
        with self.cond:
            link = self.link
        if link:
            link.close()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- agent


class Agent:
    def __init__(self, master, tmp_path, extra=(), launcher_dir=None):
        self.port = free_port()
        self.work_dir = tmp_path / "agent"
        self.log = open(tmp_path / "agent.log", "wb")
        args = [
            str(AGENT), f"--master=127.0.0.1:{master.port}", "--ip=127.0.0.1", f"--port={self.port}",
            f"--work_dir={self.work_dir}", "--hostname=agent.test", "--link_content_type=application/json",
            "--resources=cpus:2;mem:1024;disk:2048;ports:[31000-31100]", "--attributes=rack:r1;level:3",
            "--status_update_retry_interval_min=500ms", "--registration_backoff_factor=100ms",
        ]
        if launcher_dir:
            args.append(f"--launcher_dir={launcher_dir}")
        args += list(extra)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def state(self):
        with urllib.request.urlopen(self.url("/state"), timeout=10) as r:
            assert r.status == 200
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def master():
    m = FakeMaster()
    yield m
    m.close()


@pytest.fixture
def agent(master, tmp_path):
    a = Agent(master, tmp_path)
    yield a
    a.stop()


def registered(master):
    master.wait_call(lambda c: c.get("type") == "REGISTER", "REGISTER")


FRAMEWORK = {"id": {"value": "fw-1"}, "user": "nobody", "name": "test-framework",
             "capabilities": [{"type": "TASK_KILLING_STATE"}]}


def run_task(master, task_id, command, shell=True, kill_grace=None):
    master.send(run_task_event(master, task_id, command, shell, kill_grace))


def run_task_event(master, task_id, command, shell=True, kill_grace=None):
    task = {
        "name": f"name-{task_id}",
        "task_id": {"value": task_id},
        "agent_id": {"value": master.agent_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
        "command": {"value": command, "shell": shell},
    }
    if kill_grace is not None:
        task["kill_policy"] = {"grace_period": {"nanoseconds": int(kill_grace * 1e9)}}
    return {"type": "RUN_TASK", "run_task": {"framework": FRAMEWORK, "task": task}}


def ack_event(update):
    su = update["status_update"]
    return {"type": "ACKNOWLEDGE", "acknowledge": {"framework_id": su["framework_id"],
                                                   "task_id": su["status"]["task_id"],
                                                   "uuid": su["status"]["uuid"]}}


def sandbox(agent, master, task_id):
    pattern = str(agent.work_dir / "slaves" / master.agent_id / "frameworks" / "fw-1" / "executors" / task_id
                  / "runs" / "*-*")
    dirs = wait_for(lambda: glob.glob(pattern), what=f"the sandbox of {task_id}")
    return dirs[0]


def completed_executors(agent, executor_id=None):
    """The agent's completed executors (those of executor_id), under its frameworks and its completed ones."""
    st = agent.state()
    return [ex for fw in st["frameworks"] + st["completed_frameworks"] for ex in fw["completed_executors"]
            if executor_id is None or ex["id"] == executor_id]


def ack_through(master, task_id, states):
    """Acknowledges the updates of a task in order; returns them."""
    got = []
    for state in states:
        u = master.wait_update(task_id, state)
        got.append(u)
        master.ack(u)
    return got


def pgroup_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


# --------------------------------------------------------------------------- tests


def test_bad_resources_flag_is_a_clear_error(tmp_path):
    proc = subprocess.run([str(AGENT), "--master=127.0.0.1:1", f"--work_dir={tmp_path}", "--resources=cpus:abc"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode != 0
    assert "--resources" in proc.stderr


def test_bad_flag_values_are_clear_errors(tmp_path):
    for bad, flag in [("--port=notanumber", "--port"), ("--attributes=rack", "--attributes"),
                      ("--link_content_type=xml", "--link_content_type"),
                      ("--executor_registration_timeout=soon", "--executor_registration_timeout")]:
        proc = subprocess.run([str(AGENT), "--master=127.0.0.1:1", f"--work_dir={tmp_path}", bad],
                              capture_output=True, text=True, timeout=TIMEOUT)
        assert proc.returncode != 0, bad
        assert flag in proc.stderr, (bad, proc.stderr)
    proc = subprocess.run([str(AGENT), f"--work_dir={tmp_path}"], capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode != 0 and "--master" in proc.stderr


def test_registers_with_agent_info(master, agent):
    _, reg = master.wait_call(lambda c: c.get("type") == "REGISTER", "REGISTER")
    assert master.content_types[0].startswith("application/json")
    assert reg.get("link_key")
    assert "agent_id" not in reg
    info = reg["register"]["agent_info"]
    assert info["hostname"] == "agent.test"
    assert info["port"] == agent.port
    names = {r["name"] for r in info["resources"]}
    assert {"cpus", "mem", "disk", "ports"} <= names
    attrs = {a["name"] for a in info["attributes"]}
    assert attrs == {"rack", "level"}


def test_link_level_ping_gets_pong(master, agent):
    registered(master)
    master.send({"type": "PING", "agent_id": None, "ping": {"seq": 7}})
    _, pong = master.wait_call(lambda c: c.get("type") == "PONG", "PONG")
    assert pong["pong"]["seq"] == 7
    assert "agent_id" not in pong
    master.send({"type": "PING", "ping": {"seq": 8}})
    _, pong = master.wait_call(lambda c: c.get("type") == "PONG" and c["pong"].get("seq") == 8, "PONG 8")
    assert pong["agent_id"]["value"] == master.agent_id


def test_echo_task_runs_and_updates_are_retried_until_acknowledged(master, agent):
    registered(master)
    run_task(master, "echo-1", "echo hello")
    first = master.wait_update("echo-1", "TASK_STARTING")
    # Not acknowledged: the same update (same uuid) comes again.
    uuid = first["status_update"]["status"]["uuid"]
    wait_for(lambda: sum(1 for u in master.updates("echo-1")
                         if u["status_update"]["status"]["uuid"] == uuid) >= 2,
             what="a retry of the unacknowledged update")
    # Only the head is sent while it is unacknowledged, with the latest state known.
    assert all(u["status_update"]["status"]["state"] == "TASK_STARTING" for u in master.updates("echo-1"))
    latest = master.updates("echo-1")[-1]["status_update"]["latest_state"]
    assert latest in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED")
    master.ack(first)
    running, finished = ack_through(master, "echo-1", ["TASK_RUNNING", "TASK_FINISHED"])
    for u in (first, running, finished):
        su = u["status_update"]
        assert u["agent_id"]["value"] == master.agent_id
        assert su["framework_id"]["value"] == "fw-1"
        assert su["status"]["source"] == "SOURCE_EXECUTOR"
        assert su["status"]["agent_id"]["value"] == master.agent_id
        assert su["status"]["executor_id"]["value"] == "echo-1"
        assert su["status"]["timestamp"] > 0
    states = []
    for u in master.updates("echo-1"):
        s = u["status_update"]["status"]["state"]
        if not states or states[-1] != s:
            states.append(s)
    assert states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    box = sandbox(agent, master, "echo-1")
    assert open(os.path.join(box, "stdout")).read() == "hello\n"
    # Once acknowledged, the task is completed and the executor goes away.
    def done():
        return any(ex["completed_tasks"] and ex["completed_tasks"][0]["state"] == "TASK_FINISHED"
                   for ex in completed_executors(agent, "echo-1"))
    wait_for(done, what="the executor in completed_executors")
    # No more retries after the acknowledgement.
    n = len(master.updates("echo-1"))
    time.sleep(1.5)  # three retry intervals of quiet: nothing must come
    assert len(master.updates("echo-1")) == n


def test_failing_command_reports_exit_status(master, agent):
    registered(master)
    run_task(master, "fail-1", "echo oops >&2; exit 3")
    starting, running, failed = ack_through(master, "fail-1", ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"])
    assert "Command exited with status 3" in failed["status_update"]["status"]["message"]
    box = sandbox(agent, master, "fail-1")
    assert "oops" in open(os.path.join(box, "stderr")).read()


def test_non_shell_command_with_environment(master, agent):
    registered(master)
    task = {
        "name": "env", "task_id": {"value": "env-1"}, "agent_id": {"value": master.agent_id},
        "command": {"shell": False, "value": "/bin/sh", "arguments": ["sh", "-c", "echo $GREETING $MESOS_EXECUTOR_ID"],
                    "environment": {"variables": [{"name": "GREETING", "value": "bonjour"}]}},
    }
    master.send({"type": "RUN_TASK", "run_task": {"framework": FRAMEWORK, "task": task}})
    ack_through(master, "env-1", ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"])
    assert open(os.path.join(sandbox(agent, master, "env-1"), "stdout")).read() == "bonjour env-1\n"


def test_kill_task_kills_the_process_group(master, agent):
    registered(master)
    run_task(master, "sleep-1", "echo $$ > pgid; exec sleep 100", kill_grace=2)
    ack_through(master, "sleep-1", ["TASK_STARTING", "TASK_RUNNING"])
    box = sandbox(agent, master, "sleep-1")
    pgid_file = os.path.join(box, "pgid")
    pgid = int(wait_for(lambda: os.path.exists(pgid_file) and open(pgid_file).read().strip(), what="the pgid"))
    assert pgroup_alive(pgid)
    master.send({"type": "KILL_TASK", "kill_task": {"framework_id": {"value": "fw-1"},
                                                   "task_id": {"value": "sleep-1"}}})
    killing = master.wait_update("sleep-1", "TASK_KILLING")  # the framework has TASK_KILLING_STATE
    master.ack(killing)
    killed = master.wait_update("sleep-1", "TASK_KILLED")
    master.ack(killed)
    wait_for(lambda: not pgroup_alive(pgid), what="the task's process group to be gone")


def test_kill_escalates_to_sigkill(master, agent):
    registered(master)
    run_task(master, "stubborn-1", "trap '' TERM; echo $$ > pgid; while true; do sleep 0.2; done", kill_grace=0.5)
    ack_through(master, "stubborn-1", ["TASK_STARTING", "TASK_RUNNING"])
    box = sandbox(agent, master, "stubborn-1")
    pgid_file = os.path.join(box, "pgid")
    pgid = int(wait_for(lambda: os.path.exists(pgid_file) and open(pgid_file).read().strip(), what="the pgid"))
    master.send({"type": "KILL_TASK", "kill_task": {"framework_id": {"value": "fw-1"},
                                                   "task_id": {"value": "stubborn-1"}}})
    ack_through(master, "stubborn-1", ["TASK_KILLING"])
    killed = master.wait_update("stubborn-1", "TASK_KILLED")
    assert "signal" in killed["status_update"]["status"]["message"]
    master.ack(killed)
    wait_for(lambda: not pgroup_alive(pgid), what="the task's process group to be gone")


@pytest.fixture
def silent_launcher(tmp_path):
    """A launcher_dir whose mezzo-executor never subscribes (for agents with
    --direct_command_tasks=false: command tasks with a command executor)."""
    d = tmp_path / "launcher"
    d.mkdir()
    exe = d / "mezzo-executor"
    exe.write_text("#!/bin/sh\nexec sleep 100\n")
    exe.chmod(0o755)
    return d


def test_executor_registration_timeout_fails_the_task(master, tmp_path, silent_launcher):
    a = Agent(master, tmp_path, extra=["--executor_registration_timeout=1secs", "--direct_command_tasks=false"],
              launcher_dir=silent_launcher)
    try:
        registered(master)
        run_task(master, "never-1", "echo never")
        failed = master.wait_update("never-1", "TASK_FAILED")
        st = failed["status_update"]["status"]
        assert st["reason"] == "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
        assert st["source"] == "SOURCE_AGENT"
        master.ack(failed)
    finally:
        assert a.stop() == 0


def test_kill_of_a_queued_task_is_answered_by_the_agent(master, tmp_path, silent_launcher):
    a = Agent(master, tmp_path, extra=["--direct_command_tasks=false"], launcher_dir=silent_launcher)
    try:
        registered(master)
        run_task(master, "queued-1", "echo never")
        sandbox(a, master, "queued-1")  # the executor was started
        master.send({"type": "KILL_TASK", "kill_task": {"framework_id": {"value": "fw-1"},
                                                       "task_id": {"value": "queued-1"}}})
        killed = master.wait_update("queued-1", "TASK_KILLED")
        assert killed["status_update"]["status"]["source"] == "SOURCE_AGENT"
        master.ack(killed)
        wait_for(lambda: completed_executors(a, "queued-1"), what="the executor to be destroyed")
    finally:
        a.stop()


def test_executor_exit_without_terminal_update_fails_the_task(master, tmp_path):
    d = tmp_path / "launcher"
    d.mkdir()
    exe = d / "mezzo-executor"
    exe.write_text("#!/bin/sh\nexit 7\n")
    exe.chmod(0o755)
    a = Agent(master, tmp_path, extra=["--direct_command_tasks=false"], launcher_dir=d)
    try:
        registered(master)
        run_task(master, "crash-1", "echo never")
        failed = master.wait_update("crash-1", "TASK_FAILED")
        st = failed["status_update"]["status"]
        assert st["reason"] == "REASON_EXECUTOR_TERMINATED"
        assert st["source"] == "SOURCE_AGENT"
        assert "status 7" in st["message"]
    finally:
        a.stop()


def test_reregisters_with_its_tasks_after_the_link_drops(master, agent):
    registered(master)
    run_task(master, "long-1", "sleep 100")
    ack_through(master, "long-1", ["TASK_STARTING", "TASK_RUNNING"])
    n = len(master.calls)
    master.drop_link()
    _, rereg = master.wait_call(lambda c: c.get("type") == "REGISTER", "re-REGISTER", start=n)
    assert rereg["agent_id"]["value"] == master.agent_id
    assert rereg["register"]["agent_info"]["id"]["value"] == master.agent_id
    tasks = {t["task_id"]["value"]: t for t in rereg["register"].get("tasks", [])}
    assert tasks["long-1"]["state"] == "TASK_RUNNING"
    assert [f["id"]["value"] for f in rereg["register"]["frameworks"]] == ["fw-1"]
    # Still usable after re-registering.
    master.send({"type": "KILL_TASK", "kill_task": {"framework_id": {"value": "fw-1"},
                                                   "task_id": {"value": "long-1"}}})
    ack_through(master, "long-1", ["TASK_KILLING", "TASK_KILLED"])


BURST = 400  # RUN_TASKs sent at once: far more than the agent launches in a turn of its loop


def test_acknowledgements_overtake_a_burst_of_launches(master, agent):
    # The agent reads the master's stream ahead of its launches and handles an
    # ACKNOWLEDGE at once (master_link.c): the acknowledged task's next update goes
    # out while the RUN_TASKs sent before the acknowledgement are still launching.
    registered(master)
    run_task(master, "first", "sleep 100")
    starting = master.wait_update("first", "TASK_STARTING")
    burst = [run_task_event(master, f"b{i}", "true") for i in range(BURST)]
    master.send_all(burst + [ack_event(starting)])
    running, _ = master.wait_update_at("first", "TASK_RUNNING")
    last, _ = master.wait_update_at(f"b{BURST - 1}", "TASK_STARTING")
    assert running < last, (running, last)
    # The queued launches keep their order.
    firsts = [master.wait_update_at(f"b{i}", "TASK_STARTING")[0] for i in range(BURST)]
    assert firsts == sorted(firsts)


def test_reregistration_lists_every_task_sent_before_the_link_dropped(master, agent):
    # Launches read from the stream but still queued when the link drops are handled
    # before the agent registers again: the master learns of every task it sent.
    registered(master)
    burst = [run_task_event(master, f"r{i}", "true") for i in range(BURST)]
    n = len(master.calls)
    master.send_all(burst)
    master.drop_link()
    _, rereg = master.wait_call(lambda c: c.get("type") == "REGISTER", "re-REGISTER", start=n)
    listed = {t["task_id"]["value"] for t in rereg["register"].get("tasks", [])}
    assert listed == {f"r{i}" for i in range(BURST)}, sorted({f"r{i}" for i in range(BURST)} - listed)[:10]


def kill_task_event(task_id):
    return {"type": "KILL_TASK", "kill_task": {"framework_id": {"value": "fw-1"}, "task_id": {"value": task_id}}}


def first_update(master, task_id):
    return master.wait_call(lambda c: c.get("type") == "STATUS_UPDATE"
                            and c["status_update"]["status"]["task_id"]["value"] == task_id,
                            f"an update of {task_id}")[1]["status_update"]["status"]


@pytest.mark.parametrize("group", [False, True], ids=["task", "group"])
def test_a_launch_killed_while_queued_is_answered_without_running(master, agent, group):
    # A KILL_TASK read while its task's RUN_TASK still waits in the agent's queue
    # (master_link.c) is answered by the agent, as Mesos's agent answers the kill of a
    # pending task: TASK_KILLED during launch, the whole group with one of it, and
    # nothing runs.
    registered(master)
    burst = [run_task_event(master, f"k{i}", "true") for i in range(BURST // 4)]
    if group:
        tasks = [run_task_event(master, tid, "touch ran; sleep 100")["run_task"]["task"] for tid in ("g1", "g2")]
        executor = {"executor_id": {"value": "gx"}, "framework_id": {"value": "fw-1"}, "type": "DEFAULT",
                    "resources": tasks[0]["resources"]}
        doomed = {"type": "RUN_TASK", "run_task": {"framework": FRAMEWORK, "executor": executor,
                                                   "task_group": {"tasks": tasks}}}
        ids, executor_id, message = ["g1", "g2"], "gx", "A task within the task group was killed before it was launched"
    else:
        doomed = run_task_event(master, "doomed", "touch ran; sleep 100")
        ids, executor_id, message = ["doomed"], "doomed", "Killed before it was launched"
    master.send_all(burst + [doomed, kill_task_event(ids[-1])])
    for tid in ids:
        st = first_update(master, tid)
        assert (st["state"], st["source"], st["reason"], st["message"]) == (
            "TASK_KILLED", "SOURCE_AGENT", "REASON_TASK_KILLED_DURING_LAUNCH", message), st
        master.ack({"status_update": {"framework_id": {"value": "fw-1"}, "status": st}})

    ex = wait_for(lambda: completed_executors(agent, executor_id),
                  what=f"executor {executor_id} among the completed")[0]
    assert sorted(t["id"] for t in ex["completed_tasks"]) == ids
    # No container was made for it: no sandbox.
    assert not glob.glob(str(agent.work_dir / "slaves" / "*" / "frameworks" / "fw-1" / "executors" / executor_id))
    assert [u["status_update"]["status"]["state"] for tid in ids for u in master.updates(tid)] == \
        ["TASK_KILLED"] * len(ids)


def test_a_launch_killed_while_queued_is_recovered_until_acknowledged(master, tmp_path):
    # With a checkpointing framework the agent's TASK_KILLED for a launch killed in
    # its queue outlives the agent: a new agent on the same work_dir re-registers with
    # the task and sends the update again, and the acknowledgement completes it.
    a = Agent(master, tmp_path)
    try:
        registered(master)
        ev = run_task_event(master, "ck", "sleep 100")
        ev["run_task"]["framework"] = dict(FRAMEWORK, checkpoint=True)
        master.send_all([ev, kill_task_event("ck")])
        assert first_update(master, "ck")["state"] == "TASK_KILLED"
        a.proc.kill()
        a.proc.wait()
    finally:
        a.stop()
    n = len(master.calls)
    b = Agent(master, tmp_path)
    try:
        _, rereg = master.wait_call(lambda c: c.get("type") == "REGISTER", "re-REGISTER", start=n)
        assert [(t["task_id"]["value"], t["state"]) for t in rereg["register"]["tasks"]] == [("ck", "TASK_KILLED")]
        _, again = master.wait_call(lambda c: c.get("type") == "STATUS_UPDATE", "the update again", start=n)
        st = again["status_update"]["status"]
        assert (st["state"], st["reason"]) == ("TASK_KILLED", "REASON_TASK_KILLED_DURING_LAUNCH")
        master.ack(again)

        def completed():
            return [t["id"] for ex in completed_executors(b) for t in ex["completed_tasks"]]
        assert wait_for(completed, what="the task among the completed") == ["ck"]
    finally:
        b.stop()


def test_a_kill_behind_a_second_launch_of_a_running_task_kills_it(master, agent):
    # A RUN_TASK for a task the agent already runs is ignored; a KILL_TASK queued
    # behind it still kills the running task rather than being taken by that launch.
    registered(master)
    run_task(master, "twice", "sleep 100")
    ack_through(master, "twice", ["TASK_STARTING", "TASK_RUNNING"])
    master.send_all([run_task_event(master, "twice", "sleep 100"), kill_task_event("twice")])
    ack_through(master, "twice", ["TASK_KILLING", "TASK_KILLED"])


def test_a_framework_shut_down_runs_none_of_its_queued_launches(master, agent):
    # A SHUTDOWN_FRAMEWORK drops the framework's RUN_TASKs still waiting in the agent's
    # queue (master_link.c): the master has removed the framework and its tasks, and
    # Mesos's agent runs no task of a framework it shuts down. Another framework's
    # launch, read in the same write, runs.
    registered(master)
    other = run_task_event(master, "other", "sleep 100")
    other["run_task"]["framework"] = dict(FRAMEWORK, id={"value": "fw-2"})
    master.send_all([run_task_event(master, "doomed", "touch ran; sleep 100"),
                     {"type": "SHUTDOWN_FRAMEWORK", "shutdown_framework": {"framework_id": {"value": "fw-1"}}},
                     kill_task_event("doomed"),  # finds no launch: it was dropped
                     other])
    master.wait_update("other", "TASK_STARTING")  # the queue was worked through
    assert master.updates("doomed") == []
    assert not glob.glob(str(agent.work_dir / "slaves" / "*" / "frameworks" / "fw-1"))
    st = agent.state()
    assert [fw["id"] for fw in st["frameworks"]] == ["fw-2"]


def test_unacknowledged_update_is_resent_after_reregistration(master, agent):
    registered(master)
    run_task(master, "resend-1", "echo hi")
    first = master.wait_update("resend-1", "TASK_STARTING")
    n = len(master.calls)
    master.drop_link()
    master.wait_call(lambda c: c.get("type") == "REGISTER", "re-REGISTER", start=n)
    _, again = master.wait_call(lambda c: c.get("type") == "STATUS_UPDATE"
                                and c["status_update"]["status"]["uuid"] == first["status_update"]["status"]["uuid"],
                                "the update again", start=n)
    master.ack(again)
    ack_through(master, "resend-1", ["TASK_RUNNING", "TASK_FINISHED"])


def test_state_endpoint_shape(master, agent):
    registered(master)
    run_task(master, "state-1", "sleep 100")
    ack_through(master, "state-1", ["TASK_STARTING", "TASK_RUNNING"])
    st = agent.state()
    for key in ["id", "pid", "hostname", "resources", "attributes", "master_hostname", "flags", "frameworks",
                "completed_frameworks", "version", "start_time"]:
        assert key in st, key
    assert st["id"] == master.agent_id
    assert st["hostname"] == "agent.test"
    assert st["pid"] == f"slave(1)@127.0.0.1:{agent.port}"
    assert st["resources"]["cpus"] == 2
    assert st["resources"]["mem"] == 1024
    assert st["resources"]["ports"] == "[31000-31100]"
    assert st["attributes"] == {"rack": "r1", "level": 3}
    assert st["master_hostname"] == "127.0.0.1"
    assert st["flags"]["work_dir"] == str(agent.work_dir)
    (fw,) = st["frameworks"]
    assert fw["id"] == "fw-1" and fw["name"] == "test-framework"
    (ex,) = fw["executors"]
    for key in ["id", "name", "source", "container", "directory", "tasks", "queued_tasks", "completed_tasks",
                "resources"]:
        assert key in ex, key
    assert ex["id"] == "state-1" and ex["source"] == "state-1"
    assert os.path.isdir(ex["directory"]) and ex["directory"].endswith(ex["container"])
    (task,) = ex["tasks"]
    assert task["id"] == "state-1" and task["state"] == "TASK_RUNNING"
    assert task["framework_id"] == "fw-1" and task["slave_id"] == master.agent_id
    assert [s["state"] for s in task["statuses"]] == ["TASK_STARTING", "TASK_RUNNING"]
    assert task["resources"]["cpus"] == pytest.approx(0.1)
    with urllib.request.urlopen(agent.url("/slave(1)/state"), timeout=10) as r:
        assert json.loads(r.read())["id"] == master.agent_id
    with urllib.request.urlopen(agent.url("/health"), timeout=10) as r:
        assert r.status == 200


def test_flags_version_and_mesos_aliases(master, agent):
    """/flags and /version as Mesos serves them, each endpoint also under /slave(1)/, JSON
    with ?jsonp=; only GET."""
    registered(master)

    def get(path):
        try:
            with urllib.request.urlopen(agent.url(path), timeout=10) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read()

    for prefix in ("", "/slave(1)"):
        status, ct, body = get(prefix + "/flags")
        assert (status, ct) == (200, "application/json")
        assert json.loads(body)["flags"] == agent.state()["flags"]
        assert json.loads(body)["flags"]["work_dir"] == str(agent.work_dir)
        status, _, body = get(prefix + "/version")
        version = json.loads(body)
        assert status == 200 and version["version"] == agent.state()["version"] and version["build_date"]
        assert get(prefix + "/health")[0] == 200
        assert get(prefix + "/state")[0] == 200
        # The v1 APIs too: Mesos's executor library posts to /slave(1)/api/v1/executor.
        req = urllib.request.Request(agent.url(prefix + "/api/v1"), method="POST",
                                     data=json.dumps({"type": "GET_HEALTH"}).encode(),
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["get_health"]["healthy"] is True
        call = {"type": "SUBSCRIBE", "framework_id": {"value": "no-such"}, "executor_id": {"value": "e"},
                "subscribe": {}}
        req = urllib.request.Request(agent.url(prefix + "/api/v1/executor"), method="POST",
                                     data=json.dumps(call).encode(),
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("SUBSCRIBE of an unknown framework answered 2xx")
        except urllib.error.HTTPError as e:
            assert (e.code, e.read()) == (400, b"Framework cannot be found")
    status, ct, body = get("/flags?jsonp=show_flags")
    assert ct == "text/javascript" and body.startswith(b"show_flags({") and body.endswith(b"});")
    assert get("/flags?jsonp=alert(1)//")[1] == "application/json"  # not a function name: plain JSON
    req = urllib.request.Request(agent.url("/flags"), method="POST", data=b"")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("POST /flags answered")
    except urllib.error.HTTPError as e:
        assert e.code == 405 and e.headers["Allow"] == "GET"


def test_executor_api_rejects_bad_requests(master, agent):
    registered(master)

    def post(body, ctype="application/json", accept=None):
        # http.client, not urllib: urllib would add a form Content-Type of its own.
        headers = {}
        if ctype:
            headers["Content-Type"] = ctype
        if accept:
            headers["Accept"] = accept
        u = urllib.parse.urlsplit(agent.url("/api/v1/executor"))
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        try:
            conn.request("POST", u.path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    sub = json.dumps({"type": "SUBSCRIBE", "framework_id": {"value": "nope"},
                      "executor_id": {"value": "nope"}}).encode()
    assert post(sub, ctype=None)[0] == 400
    assert post(sub, ctype="text/plain")[0] == 415
    assert post(b"{not json")[0] == 400
    status, body = post(sub)
    assert status == 400 and b"Framework" in body
    assert post(sub, accept="text/html")[0] == 406


def test_framework_message_reaches_executor_and_back(master, tmp_path):
    # The command executor ignores messages; this checks the agent side accepts and routes them.
    agent = Agent(master, tmp_path, extra=["--direct_command_tasks=false"])
    try:
        registered(master)
        run_task(master, "msg-1", "sleep 100")
        ack_through(master, "msg-1", ["TASK_STARTING", "TASK_RUNNING"])
        master.send({"type": "FRAMEWORK_MESSAGE", "framework_message": {
            "framework_id": {"value": "fw-1"}, "executor_id": {"value": "msg-1"}, "data": "aGVsbG8="}})
        box = sandbox(agent, master, "msg-1")
        wait_for(lambda: "framework message of 5 bytes" in open(os.path.join(box, "stderr")).read(),
                 what="the executor to log the message")
    finally:
        agent.stop()


def test_sigterm_kills_tasks_and_exits_cleanly(master, tmp_path):
    a = Agent(master, tmp_path)
    registered(master)
    run_task(master, "term-1", "echo $$ > pgid; exec sleep 100")
    ack_through(master, "term-1", ["TASK_STARTING", "TASK_RUNNING"])
    box = sandbox(a, master, "term-1")
    pgid_file = os.path.join(box, "pgid")
    pgid = int(wait_for(lambda: os.path.exists(pgid_file) and open(pgid_file).read().strip(), what="the pgid"))
    assert a.stop() == 0
    wait_for(lambda: not pgroup_alive(pgid), what="the task's process group to be gone")
    master.wait_call(lambda c: c.get("type") == "UNREGISTER", "UNREGISTER")
