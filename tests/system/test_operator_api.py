"""The master's v1 operator API (POST /api/v1), as Mesos's operator HTTP API
document describes it: queries answered 200 with a Response of the same type,
bad requests answered with the right 4xx, and the SUBSCRIBE stream: SUBSCRIBED
with the whole state, then TASK_ADDED / TASK_UPDATED / FRAMEWORK_* events."""
import getpass
import http.client
import json
import queue
import threading

from mesos_client import RecordIODecoder, SchedulerClient
from taskrunner import TaskRunner
from test_cluster import run_tasks


def call(port, body, ctype="application/json", accept="application/json", raw=None, path="/api/v1"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {}
    if ctype:
        headers["Content-Type"] = ctype
    if accept:
        headers["Accept"] = accept
    conn.request("POST", path, body=raw if raw is not None else json.dumps(body), headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), data


def query(port, kind):
    status, ctype, data = call(port, {"type": kind})
    assert status == 200, (kind, status, data)
    assert ctype == "application/json"
    resp = json.loads(data)
    assert resp["type"] == kind
    return resp[kind.lower()]


class Subscriber:
    """Reads the operator event stream on a thread; events land on a queue."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request("POST", "/api/v1", body=json.dumps({"type": "SUBSCRIBE"}),
                          headers={"Content-Type": "application/json", "Accept": "application/json"})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        assert self.resp.getheader("Transfer-Encoding") == "chunked"
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        dec = RecordIODecoder()
        try:
            while True:
                chunk = self.resp.read1(65536)
                if not chunk:
                    break
                for rec in dec.feed(chunk):
                    self.events.put(json.loads(rec))
        except Exception:  # noqa: BLE001 - the test closes the connection under us
            pass

    def next(self, timeout=60):
        return self.events.get(timeout=timeout)

    def close(self):
        self.conn.close()


def test_queries(cluster):
    port = cluster.master_port
    assert query(port, "GET_HEALTH") == {"healthy": True}
    assert query(port, "GET_VERSION")["version_info"]["version"]
    flags = {f["name"]: f.get("value") for f in query(port, "GET_FLAGS")["flags"]}
    assert flags["port"] == str(port)
    metrics = {m["name"]: m.get("value") for m in query(port, "GET_METRICS")["metrics"]}
    assert metrics["master/slaves_active"] == 1
    agents = query(port, "GET_AGENTS")["agents"]
    assert len(agents) == 1 and agents[0]["active"] is True
    assert agents[0]["agent_info"]["id"]["value"] == cluster.agents[0].id
    assert any(r["name"] == "cpus" for r in agents[0]["total_resources"])
    master = query(port, "GET_MASTER")["master_info"]
    assert master["port"] == port
    assert query(port, "GET_LOGGING_LEVEL")["level"] == 0
    state = query(port, "GET_STATE")
    assert set(state) >= {"get_tasks", "get_executors", "get_frameworks", "get_agents"}
    # The same in protobuf is accepted and answered in protobuf.
    status, ctype, data = call(port, None, accept="application/x-protobuf", raw=json.dumps({"type": "GET_HEALTH"}))
    assert status == 200 and ctype == "application/x-protobuf"
    assert data == b"\x08\x01\x12\x02\x08\x01"  # type=GET_HEALTH(1), get_health{healthy=true}
    # Mesos's own clients post under the master pid's id: /master/api/v1 and /master/api/v1/scheduler.
    status, _, data = call(port, {"type": "GET_HEALTH"}, path="/master/api/v1")
    assert status == 200 and json.loads(data)["get_health"] == {"healthy": True}
    plain = call(port, None, raw="{not json", path="/api/v1/scheduler")
    assert plain[0] == 400
    assert call(port, None, raw="{not json", path="/master/api/v1/scheduler") == plain


def test_get_roles(cluster):
    port = cluster.master_port
    fw = TaskRunner(port, name="roles-fw", roles=["ops/east"])
    try:
        fw.launch("role-task", "sleep 600")
        fw.wait_state("role-task", "TASK_RUNNING")
        roles = {r["name"]: r for r in query(port, "GET_ROLES")["roles"]}
        east = roles["ops/east"]
        assert east["weight"] == 1.0
        assert [f["value"] for f in east["frameworks"]] == [fw.framework_id]
        cpus = [r for r in east.get("resources", []) if r["name"] == "cpus"]
        assert cpus and abs(cpus[0]["scalar"]["value"] - 0.1) < 1e-9, east
    finally:
        fw.close()


def test_bad_requests_get_4xx(cluster):
    port = cluster.master_port
    assert call(port, {"type": "GET_HEALTH"}, ctype=None)[0] == 400
    assert call(port, {"type": "GET_HEALTH"}, ctype="text/plain")[0] == 415
    assert call(port, {"type": "GET_HEALTH"}, accept="text/html")[0] == 406
    status, _, body = call(port, None, raw="{nope")
    assert status == 400 and b"Failed to parse" in body
    status, _, body = call(port, {"type": "NO_SUCH_CALL"})
    assert status == 400 and b"NO_SUCH_CALL" in body
    assert call(port, {})[0] == 400
    status, _, body = call(port, {"type": "TEARDOWN", "teardown": {"framework_id": {"value": "nope"}}})
    assert status == 404 and b"nope" in body
    status, _, body = call(port, {"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1}})
    assert status == 400 and b"duration" in body
    status, _, body = call(port, {"type": "CREATE_VOLUMES"})
    assert status == 501 and b"CREATE_VOLUMES" in body
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/v1")
    assert conn.getresponse().status == 405
    conn.close()
    assert query(port, "GET_HEALTH") == {"healthy": True}  # still serving


def test_set_logging_level(cluster):
    port = cluster.master_port
    status, _, _ = call(port, {"type": "SET_LOGGING_LEVEL",
                               "set_logging_level": {"level": 1, "duration": {"nanoseconds": 60 * 10**9}}})
    assert status == 202
    assert query(port, "GET_LOGGING_LEVEL")["level"] == 1


def test_subscribe_streams_state_and_task_events(cluster):
    port = cluster.master_port
    sub = Subscriber(port)
    client = SchedulerClient("127.0.0.1", port)
    try:
        ev = sub.next()
        assert ev["type"] == "SUBSCRIBED"
        assert ev["subscribed"]["heartbeat_interval_seconds"] > 0
        agents = ev["subscribed"]["get_state"]["get_agents"]["agents"]
        assert [a["agent_info"]["id"]["value"] for a in agents] == [cluster.agents[0].id]

        client.subscribe({"user": getpass.getuser(), "name": "watched"})
        fid = client.framework_id["value"]
        run_tasks(client, 2, "op-", lambda tid: "true")

        seen = {}
        added = set()
        fw_added = False
        while not (len(added) == 2 and all(s == "TASK_FINISHED" for s in seen.values()) and len(seen) == 2):
            ev = sub.next()
            if ev["type"] == "FRAMEWORK_ADDED":
                assert ev["framework_added"]["framework"]["framework_info"]["id"]["value"] == fid
                fw_added = True
            elif ev["type"] == "TASK_ADDED":
                added.add(ev["task_added"]["task"]["task_id"]["value"])
            elif ev["type"] == "TASK_UPDATED":
                tu = ev["task_updated"]
                assert tu["framework_id"]["value"] == fid
                seen[tu["status"]["task_id"]["value"]] = tu["state"]
        assert fw_added
        assert added == {"op-0", "op-1"}

        status, _, _ = call(port, {"type": "TEARDOWN", "teardown": {"framework_id": {"value": fid}}})
        assert status == 200
        while True:
            ev = sub.next()
            if ev["type"] == "FRAMEWORK_REMOVED":
                assert ev["framework_removed"]["framework_info"]["id"]["value"] == fid
                break
        tasks = query(port, "GET_TASKS")
        assert {t["task_id"]["value"] for t in tasks.get("completed_tasks", [])} >= {"op-0", "op-1"}
    finally:
        client.close()
        sub.close()
