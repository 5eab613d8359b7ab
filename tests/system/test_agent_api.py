"""The agent's v1 operator API (POST /api/v1 on the agent, mesos.v1.agent.Call),
through a real mezzo-master and mezzo-agent with a task started through the
scheduler API: every call in JSON, some in protobuf, and bad input answered
with a 4xx and a message. Waits poll with generous deadlines."""
import base64
import getpass
import http.client
import json
import time

import pytest

from cgroup_paths import CONTROLLERS, VERSION, procs_of
from mesos_client import SchedulerClient, take_scalars

JSON = "application/json"
PROTO = "application/x-protobuf"
WAIT = 60.0


def post(port, body, ct=JSON, accept=JSON, method="POST"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Accept": accept}
        if ct:
            headers["Content-Type"] = ct
        conn.request(method, "/api/v1", body=data, headers=headers)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        conn.close()


def call(port, type_, **fields):
    body = {"type": type_}
    body.update(fields)
    status, ct, data = post(port, body)
    assert status == 200, (type_, status, data)
    assert ct.startswith(JSON)
    resp = json.loads(data)
    assert resp["type"] == type_
    return resp


@pytest.fixture
def running(cluster):
    """A cluster whose agent runs one task ("api-task") that printed a line."""
    c = SchedulerClient("127.0.0.1", cluster.master_port)
    c.subscribe({"user": getpass.getuser(), "name": "agent-api"})
    deadline = time.monotonic() + WAIT
    launched = False
    state = None
    while state != "TASK_RUNNING":
        ev = c.next_event(timeout=max(0.1, deadline - time.monotonic()))
        if ev["type"] == "OFFERS" and not launched:
            offer = ev["offers"]["offers"][0]
            res = take_scalars([dict(r) for r in offer["resources"]], {"cpus": 0.5, "mem": 64})
            c.launch([offer["id"]], [{"name": "api-task", "task_id": {"value": "api-task"},
                                      "agent_id": offer["agent_id"], "resources": res,
                                      "command": {"value": "echo hello-api; exec sleep 1000"}}])
            launched = True
        elif ev["type"] == "UPDATE":
            state = ev["update"]["status"]["state"]
            c.acknowledge(ev["update"]["status"])
            assert state in ("TASK_STARTING", "TASK_RUNNING"), ev
    agent = cluster.agents[0]
    box = agent.sandboxes()[0]
    deadline = time.monotonic() + WAIT
    while b"hello-api" not in (box / "stdout").read_bytes():
        assert time.monotonic() < deadline, "the task's output never came"
        time.sleep(0.1)
    yield cluster, agent, c, box
    try:
        c.teardown()
    except Exception:  # noqa: BLE001 - the test may have torn it down already
        pass
    c.close()


def test_health_flags_version_metrics(cluster):
    port = cluster.agents[0].port
    assert call(port, "GET_HEALTH")["get_health"]["healthy"] is True
    flags = {f["name"]: f.get("value") for f in call(port, "GET_FLAGS")["get_flags"]["flags"]}
    assert flags["work_dir"] == str(cluster.agents[0].work_dir)
    assert "port" in flags and "master" in flags
    v = call(port, "GET_VERSION")["get_version"]["version_info"]
    assert v["version"]
    metrics = {m["name"]: m.get("value", 0) for m in call(port, "GET_METRICS")["get_metrics"]["metrics"]}
    assert metrics["slave/registered"] == 1
    assert metrics["slave/cpus_total"] == 4
    assert "slave/tasks_running" in metrics and metrics["slave/uptime_secs"] > 0
    status, body = cluster.get("/metrics/snapshot", port=port)
    assert status == 200 and json.loads(body)["slave/mem_total"] == 4096
    agent = call(port, "GET_AGENT")["get_agent"]["agent_info"]
    assert agent["id"]["value"] == cluster.agents[0].id
    assert agent["port"] == port


def test_protobuf_request_and_response(cluster):
    port = cluster.agents[0].port
    # Call{type: GET_HEALTH} -> Response{type: GET_HEALTH, get_health{healthy: true}}
    status, ct, data = post(port, b"\x08\x01", ct=PROTO, accept=PROTO)
    assert status == 200 and ct.startswith(PROTO)
    assert data == b"\x08\x01\x12\x02\x08\x01"
    # JSON in, protobuf out.
    status, ct, data = post(port, {"type": "GET_VERSION"}, accept=PROTO)
    assert status == 200 and ct.startswith(PROTO) and data[:2] == b"\x08\x03"


def test_logging_level(cluster):
    port = cluster.agents[0].port
    assert call(port, "GET_LOGGING_LEVEL")["get_logging_level"]["level"] == 0
    status, _, body = post(port, {"type": "SET_LOGGING_LEVEL", "set_logging_level": {
        "level": 1, "duration": {"nanoseconds": 60 * 10**9}}})
    assert status == 202, body
    assert call(port, "GET_LOGGING_LEVEL")["get_logging_level"]["level"] == 1
    status, _, body = post(port, {"type": "SET_LOGGING_LEVEL", "set_logging_level": {
        "level": 1, "duration": {"nanoseconds": -1}}})
    assert status == 400 and b"duration" in body


def test_state_tasks_executors_frameworks_containers(running):
    cluster, agent, client, box = running
    port = agent.port
    tasks = call(port, "GET_TASKS")["get_tasks"]
    (task,) = tasks["launched_tasks"]
    assert task["task_id"]["value"] == "api-task"
    assert task["state"] == "TASK_RUNNING"
    assert task["framework_id"]["value"] == client.framework_id["value"]
    assert task["agent_id"]["value"] == agent.id
    assert [s["state"] for s in task["statuses"]] == ["TASK_STARTING", "TASK_RUNNING"]

    execs = call(port, "GET_EXECUTORS")["get_executors"]
    (ex,) = execs["executors"]
    assert ex["executor_info"]["executor_id"]["value"] == "api-task"

    fws = call(port, "GET_FRAMEWORKS")["get_frameworks"]
    assert [f["framework_info"]["name"] for f in fws["frameworks"]] == ["agent-api"]

    state = call(port, "GET_STATE")["get_state"]
    assert state["get_tasks"]["launched_tasks"][0]["task_id"]["value"] == "api-task"
    assert state["get_executors"]["executors"][0]["executor_info"]["executor_id"]["value"] == "api-task"
    assert state["get_frameworks"]["frameworks"][0]["framework_info"]["id"] == client.framework_id

    (c,) = call(port, "GET_CONTAINERS")["get_containers"]["containers"]
    assert c["executor_id"]["value"] == "api-task"
    assert c["framework_id"]["value"] == client.framework_id["value"]
    assert c["container_id"]["value"] == box.name
    assert c["container_status"]["executor_pid"] > 0
    stats = c["resource_statistics"]
    assert stats["cpus_limit"] == pytest.approx(0.6)  # with the command executor's 0.1
    assert stats["mem_limit_bytes"] == (64 + 32) << 20
    assert stats["mem_rss_bytes"] > 0 and stats["timestamp"] > 0
    assert stats["processes"] >= 1  # its command (a direct command task: no executor process)
    if VERSION:
        assert stats["processes"] == len(procs_of(CONTROLLERS[0], box.name))

    # Completed once the framework is gone.
    client.teardown()
    deadline = time.monotonic() + WAIT
    while True:
        t = call(port, "GET_TASKS")["get_tasks"]
        if t.get("completed_tasks"):
            break
        assert time.monotonic() < deadline, t
        time.sleep(0.1)
    assert t["completed_tasks"][0]["state"] == "TASK_KILLED"
    fws = call(port, "GET_FRAMEWORKS")["get_frameworks"]
    assert [f["framework_info"]["name"] for f in fws.get("completed_frameworks", [])] == ["agent-api"]


def test_list_and_read_files_confined_to_sandboxes(running):
    cluster, agent, client, box = running
    port = agent.port
    files = call(port, "LIST_FILES", list_files={"path": str(box)})["list_files"]["file_infos"]
    names = {f["path"].rsplit("/", 1)[1]: f for f in files}
    assert {"stdout", "stderr"} <= set(names)
    assert names["stdout"]["size"] > 0 and names["stdout"]["uid"]
    rf = call(port, "READ_FILE", read_file={"path": str(box / "stdout"), "offset": 0})["read_file"]
    data = base64.b64decode(rf["data"])
    assert b"hello-api" in data and rf["size"] == (box / "stdout").stat().st_size
    rf = call(port, "READ_FILE", read_file={"path": str(box / "stdout"), "offset": 2, "length": 3})["read_file"]
    assert base64.b64decode(rf["data"]) == (box / "stdout").read_bytes()[2:5]
    rf = call(port, "READ_FILE", read_file={"path": str(box / "stdout"), "offset": 10**9})["read_file"]
    assert rf.get("data", "") == ""
    # Mesos's virtual path of the executor's latest run, listed as asked.
    fid, eid = box.parts[box.parts.index("frameworks") + 1], box.parts[box.parts.index("executors") + 1]
    virtual = f"/frameworks/{fid}/executors/{eid}/runs/latest"
    files = call(port, "LIST_FILES", list_files={"path": virtual})["list_files"]["file_infos"]
    assert {virtual + "/stdout", virtual + "/stderr"} <= {f["path"] for f in files}
    rf = call(port, "READ_FILE", read_file={"path": virtual + "/stdout", "offset": 0})["read_file"]
    assert b"hello-api" in base64.b64decode(rf["data"])

    for path, want in [("/etc/passwd", 403), (str(box) + "/../../..", 403), (str(box / "nope"), 404),
                       ("relative/path", 404)]:
        status, _, body = post(port, {"type": "READ_FILE", "read_file": {"path": path, "offset": 0}})
        assert status == want, (path, status, body)
        assert body, "an error carries a message"
        status, _, body = post(port, {"type": "LIST_FILES", "list_files": {"path": path}})
        assert status == want, (path, status, body)


def test_bad_requests_get_4xx_with_messages(cluster):
    port = cluster.agents[0].port
    cases = [
        (dict(body=b"{not json"), 400, b"Failed to parse body into JSON"),
        (dict(body=b"[1]"), 400, b"Failed to convert JSON into Call protobuf"),
        (dict(body={}), 400, b"type"),
        (dict(body={"type": "NO_SUCH_CALL"}), 400, b""),
        (dict(body={"type": "LIST_FILES"}), 400, b"list_files.path"),
        (dict(body={"type": "READ_FILE"}), 400, b"read_file.path"),
        (dict(body={"type": "GET_HEALTH"}, ct="text/plain"), 415, b"Content-Type"),
        (dict(body={"type": "GET_HEALTH"}, ct=None), 400, b"Content-Type"),
        (dict(body={"type": "GET_HEALTH"}, accept="text/html"), 406, b"Accept"),
        (dict(body={"type": "GET_HEALTH"}, method="PUT"), 405, b"POST"),
        (dict(body=b"\xff\xff\xff", ct=PROTO), 400, b"Failed to parse body into Call protobuf"),
        # Mesos calls this agent does not implement: 501 naming the call.
        (dict(body={"type": "GET_OPERATIONS"}), 501, b"GET_OPERATIONS is not supported"),
        (dict(body={"type": "LAUNCH_CONTAINER"}), 501, b"LAUNCH_CONTAINER is not supported"),
        (dict(body={"type": "GET_RESOURCE_PROVIDERS"}), 501, b"GET_RESOURCE_PROVIDERS is not supported"),
    ]
    for kw, want, text in cases:
        status, _, body = post(port, **kw)
        assert status == want, (kw, status, body)
        assert body, f"no message for {kw}"
        assert text in body, (kw, body)
    assert call(port, "GET_HEALTH")["get_health"]["healthy"] is True  # still serving
