"""Bad input never crashes, hangs or corrupts a master or an agent: a seeded fuzzer
sends a few thousand malformed requests to a real cluster (the sanitizer build)
and checks every answer.

The requests start from valid v1 calls (scheduler, executor, master and agent
operator APIs, with the ids of a live framework, agent, executor and task, so
they get past the envelope checks into the handlers) and from valid requests to
the query-string endpoints (/files/read, /files/download, /master/tasks, /master/teardown, ...),
and are mutated: a field removed, a value of the wrong JSON type, a huge or
negative number, a very long or odd string (slashes, "..", NUL, non-ASCII), an
unknown enum name, deep nesting; protobuf bodies get flipped, cut and spliced
bytes. A last round writes raw HTTP garbage to the sockets: broken request lines,
header floods, lying Content-Lengths, bad chunked bodies, stray bytes after a
request.

Each answer must be a well-formed HTTP response that is not a 500 (501 for an
unimplemented call and 503 are allowed). Afterwards both processes still answer
their state endpoints, the live task is still running, and the cluster stops
with no sanitizer report (Cluster.stop). The seed and the failing request are in
the assertion message, so a failure can be replayed."""
import copy
import http.client
import json
import random
import socket
import time

from cluster import Cluster, poll
from mesos_client import SchedulerClient, pb_field, pb_varint, scalar

SEED = 20261123
JSON_CT = "application/json"
PB_CT = "application/x-protobuf"
ODD_STRINGS = ["", " ", "..", "../..", "/", "//etc/passwd", "a/../../b", "\u00e9\u4e2d\U0001f600", "\x00", "%00",
               "a" * 300, "x" * 70000, "-1", "1e400", "NaN", "TASK_RUNNING", "*", "?", "\\", "${HOME}", "\r\nX: y"]
ODD_NUMBERS = [0, -1, 1, 2 ** 31, -2 ** 31 - 1, 2 ** 63, 2 ** 64, -2 ** 63, 1e308, -1e308, 0.5, 1e-320, 10 ** 30]
ALLOWED_5XX = {501, 503}


class Mutator:
    """Seeded mutations of JSON values (dicts, lists, scalars)."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def odd_value(self):
        kind = self.r.randrange(8)
        if kind == 0:
            return None
        if kind == 1:
            return self.r.choice([True, False])
        if kind == 2:
            return self.r.choice(ODD_NUMBERS)
        if kind == 3:
            return self.r.choice(ODD_STRINGS)
        if kind == 4:
            return []
        if kind == 5:
            return {}
        if kind == 6:
            v = "deep"
            for _ in range(self.r.choice([5, 50, 120])):
                v = {"a": [v]} if self.r.random() < 0.5 else [v]
            return v
        return [self.r.choice(ODD_STRINGS[:10])] * self.r.choice([1, 100, 5000])

    def paths(self, v, prefix=()):
        """Every path to a value inside v."""
        out = [prefix]
        if isinstance(v, dict):
            for k, x in v.items():
                out.extend(self.paths(x, prefix + (k,)))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                out.extend(self.paths(x, prefix + (i,)))
        return out

    def same_type_value(self, v):
        """An edge value of v's own JSON type: the call keeps its shape and reaches the handlers."""
        if isinstance(v, bool):
            return not v
        if isinstance(v, int):
            return self.r.choice([0, -1, 1, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 2 ** 63 - 1, 2 ** 64 - 1, -2 ** 63])
        if isinstance(v, float):
            return self.r.choice([0.0, -0.0, -1.0, 1e-9, 1e9, 1e18, 1e300, -1e300, 0.1 + 0.2, 123456.789])
        if isinstance(v, str):
            if v.isupper():  # an enum name
                return self.r.choice(["UNKNOWN", v + "X", v.lower(), ""])
            return self.r.choice(ODD_STRINGS)
        if isinstance(v, list):
            return self.r.choice([[], v * self.r.choice([2, 100]), v[:1]])
        if isinstance(v, dict):
            return {}
        return v

    def mutate_leaves(self, doc):
        """Replaces one to three values with edge values of the same type."""
        doc = copy.deepcopy(doc)
        for _ in range(self.r.choice([1, 1, 2, 3])):
            path = self.r.choice([p for p in self.paths(doc) if p])
            parent = doc
            for k in path[:-1]:
                parent = parent[k]
            if path[-1] == "type" and len(path) == 1:
                continue  # the call's own type stays: its handler is the target
            parent[path[-1]] = self.same_type_value(parent[path[-1]])
        return doc

    def mutate(self, doc, rounds=None):
        doc = copy.deepcopy(doc)
        for _ in range(rounds or self.r.choice([1, 1, 1, 2, 3])):
            paths = [p for p in self.paths(doc) if p]
            if not paths:
                return self.odd_value()
            path = self.r.choice(paths)
            parent = doc
            for k in path[:-1]:
                parent = parent[k]
            key = path[-1]
            op = self.r.randrange(6)
            if path == ("type",):
                # Not another valid call type (a number is read as one): a mutated call must not
                # become a TEARDOWN of the test's framework or a SUBSCRIBE that takes over the live executor.
                parent[key] = self.r.choice(["UNKNOWN", "", "launch", "NOT_AN_ENUM", 99999, -3, None, [], {}])
            elif op == 0 and isinstance(parent, dict):
                del parent[key]
            elif op == 1 and isinstance(parent, list):
                parent.extend([copy.deepcopy(parent[key])] * self.r.choice([1, 50]))
            elif op == 2 and isinstance(parent, dict):
                k = self.r.choice(["type", "value", "id", "name", "role", "x" * 200])
                parent[k] = self.odd_value() if (k != "type" or parent is not doc) else "NOT_AN_ENUM"
            elif op == 3 and isinstance(parent[key], str) and parent[key].isupper():
                parent[key] = self.r.choice(["UNKNOWN", "", "launch", "NOT_AN_ENUM", 7, -3, 99999])
            else:
                parent[key] = self.odd_value()
        return doc

    def mutate_bytes(self, data):
        b = bytearray(data)
        for _ in range(self.r.choice([1, 2, 4, 8])):
            op = self.r.randrange(5)
            if op == 0 and b:
                b[self.r.randrange(len(b))] ^= 1 << self.r.randrange(8)
            elif op == 1 and b:
                del b[self.r.randrange(len(b)):]
            elif op == 2:
                i = self.r.randrange(len(b) + 1)
                b[i:i] = bytes(self.r.randrange(256) for _ in range(self.r.choice([1, 5, 40])))
            elif op == 3 and b:
                b[self.r.randrange(len(b))] = self.r.choice([0x00, 0x7F, 0x80, 0xFF])
            else:
                i = self.r.randrange(len(b) + 1)
                b[i:i] = pb_varint(self.r.choice([2 ** 32, 2 ** 63, 1, 0])) * self.r.choice([1, 10])
        return bytes(b)


class Target:
    """One HTTP server; records every answer that is not allowed."""

    def __init__(self, name, port):
        self.name = name
        self.port = port
        self.sent = 0
        self.bad = []

    def request(self, method, path, body=None, headers=None, what=""):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            status = resp.status
            # A subscription's stream does not end: its headers are the answer, then it is dropped.
            stream = status == 200 and (resp.getheader("Transfer-Encoding") or "").lower() == "chunked" \
                and "SUBSCRIBE" in what
            data = b"" if stream else resp.read(1 << 20)
        except (ConnectionError, socket.timeout, http.client.HTTPException, OSError) as e:
            self.bad.append(f"{self.name} {method} {path} {what}: no HTTP answer ({e!r}); body {body[:300]!r}"
                            if body else f"{self.name} {method} {path} {what}: no HTTP answer ({e!r})")
            return None, b""
        finally:
            conn.close()
        self.sent += 1
        if status >= 500 and status not in ALLOWED_5XX:
            self.bad.append(f"{self.name} {method} {path} {what}: {status} {data[:300]!r}; "
                            f"body {(body or b'')[:300]!r}")
        return status, data

    def post_json(self, path, doc, headers=None, what=""):
        h = {"Content-Type": JSON_CT, "Accept": JSON_CT}
        h.update(headers or {})
        return self.request("POST", path, json.dumps(doc).encode(), h, what)


def scheduler_calls(fid, agent_id, offer_id, task_id, executor_id):
    fw = {"value": fid}
    ag = {"value": agent_id}
    task = {"name": "f", "task_id": {"value": "fuzz-task"}, "agent_id": ag,
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                          {"name": "mem", "type": "SCALAR", "scalar": {"value": 16}}],
            "command": {"value": "true", "uris": [{"value": "/nonexistent"}]}}
    group = {"tasks": [dict(task, task_id={"value": "fuzz-group-task"})]}
    execinfo = {"type": "DEFAULT", "executor_id": {"value": "fuzz-exec"}, "framework_id": fw,
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}]}
    ops = [{"type": "LAUNCH", "launch": {"task_infos": [task]}},
           {"type": "LAUNCH_GROUP", "launch_group": {"executor": execinfo, "task_group": group}},
           {"type": "RESERVE", "reserve": {"resources": [
               {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1},
                "reservations": [{"type": "DYNAMIC", "role": "fuzz", "principal": "p"}]}]}},
           {"type": "UNRESERVE", "unreserve": {"resources": [
               {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1},
                "reservations": [{"type": "DYNAMIC", "role": "fuzz"}]}]}},
           {"type": "CREATE", "create": {"volumes": [
               {"name": "disk", "type": "SCALAR", "scalar": {"value": 1},
                "disk": {"persistence": {"id": "v"}, "volume": {"container_path": "v", "mode": "RW"}}}]}}]
    return [
        {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
            "user": "root", "name": "fuzz-other", "roles": ["fuzz", "a/b"], "failover_timeout": 0.0,
            "checkpoint": True, "hostname": "h", "principal": "p", "webui_url": "http://x",
            "capabilities": [{"type": "MULTI_ROLE"}, {"type": "GPU_RESOURCES"}, {"type": "PARTITION_AWARE"}],
            "labels": {"labels": [{"key": "k", "value": "v"}]},
            "offer_filters": {"fuzz": {"min_allocatable_resources": {"quantities": [
                {"quantities": {"cpus": {"value": 1.0}}}]}}}},
            "suppressed_roles": ["fuzz"]}},
        {"type": "ACCEPT", "framework_id": fw, "accept": {"offer_ids": [{"value": offer_id}], "operations": ops,
                                                          "filters": {"refuse_seconds": 0.0}}},
        {"type": "DECLINE", "framework_id": fw, "decline": {"offer_ids": [{"value": offer_id}]}},
        {"type": "KILL", "framework_id": fw, "kill": {"task_id": {"value": "no-such-task"}, "agent_id": ag,
                                                      "kill_policy": {"grace_period": {"nanoseconds": 1}}}},
        {"type": "ACKNOWLEDGE", "framework_id": fw, "acknowledge": {"agent_id": ag, "task_id": {"value": task_id},
                                                                    "uuid": "AAAAAAAAAAAAAAAAAAAAAA=="}},
        {"type": "RECONCILE", "framework_id": fw, "reconcile": {"tasks": [{"task_id": {"value": task_id},
                                                                           "agent_id": ag}]}},
        {"type": "MESSAGE", "framework_id": fw, "message": {"agent_id": ag, "executor_id": {"value": executor_id},
                                                            "data": "aGVsbG8="}},
        {"type": "REQUEST", "framework_id": fw, "request": {"requests": [{"agent_id": ag}]}},
        {"type": "REVIVE", "framework_id": fw, "revive": {"roles": ["*"]}},
        {"type": "SUPPRESS", "framework_id": fw, "suppress": {"roles": ["*"]}},
        {"type": "SHUTDOWN", "framework_id": fw, "shutdown": {"executor_id": {"value": "no-such-executor"},
                                                              "agent_id": ag}},
        {"type": "ACCEPT_INVERSE_OFFERS", "framework_id": fw,
         "accept_inverse_offers": {"inverse_offer_ids": [{"value": offer_id}]}},
        {"type": "UPDATE_FRAMEWORK", "framework_id": fw, "update_framework": {"framework_info": {
            "user": "root", "name": "fuzz", "id": fw, "roles": ["*"],
            "capabilities": [{"type": "MULTI_ROLE"}, {"type": "TASK_KILLING_STATE"}]}}},
    ]


def master_operator_calls(agent_id):
    ag = {"value": agent_id}
    res = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1},
            "reservations": [{"type": "DYNAMIC", "role": "fuzz", "principal": "p"}]}]
    machine = {"hostname": "fuzz.example", "ip": "10.0.0.1"}
    return [
        {"type": t} for t in ("GET_HEALTH", "GET_FLAGS", "GET_VERSION", "GET_METRICS", "GET_LOGGING_LEVEL",
                              "GET_STATE", "GET_AGENTS", "GET_FRAMEWORKS", "GET_EXECUTORS", "GET_TASKS",
                              "GET_ROLES", "GET_WEIGHTS", "GET_MASTER", "GET_MAINTENANCE_STATUS",
                              "GET_MAINTENANCE_SCHEDULE", "GET_QUOTA", "SUBSCRIBE")
    ] + [
        {"type": "GET_METRICS", "get_metrics": {"timeout": {"nanoseconds": 1000}}},
        {"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1, "duration": {"nanoseconds": 10 ** 9}}},
        {"type": "RESERVE_RESOURCES", "reserve_resources": {"agent_id": ag, "resources": res}},
        {"type": "UNRESERVE_RESOURCES", "unreserve_resources": {"agent_id": ag, "resources": res}},
        {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "fuzz", "weight": 2.0}]}},
        {"type": "UPDATE_QUOTA", "update_quota": {"force": True, "quota_configs": [
            {"role": "fuzz", "guarantees": {"cpus": {"value": 0.1}}, "limits": {"cpus": {"value": 1}}}]}},
        {"type": "UPDATE_MAINTENANCE_SCHEDULE", "update_maintenance_schedule": {"schedule": {"windows": [
            {"machine_ids": [machine], "unavailability": {"start": {"nanoseconds": 10 ** 18},
                                                          "duration": {"nanoseconds": 10 ** 9}}}]}}},
        {"type": "START_MAINTENANCE", "start_maintenance": {"machines": [machine]}},
        {"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": [machine]}},
        {"type": "TEARDOWN", "teardown": {"framework_id": {"value": "no-such-framework"}}},
        {"type": "READ_FILE", "read_file": {"path": "/master/log", "offset": 0, "length": 10}},
        {"type": "LIST_FILES", "list_files": {"path": "/"}},
    ]


def agent_operator_calls(fid, executor_id, sandbox_virtual):
    return [
        {"type": t} for t in ("GET_HEALTH", "GET_FLAGS", "GET_VERSION", "GET_METRICS", "GET_LOGGING_LEVEL",
                              "GET_STATE", "GET_CONTAINERS", "GET_FRAMEWORKS", "GET_EXECUTORS", "GET_TASKS",
                              "GET_AGENT", "GET_RESOURCE_PROVIDERS", "GET_OPERATIONS")
    ] + [
        {"type": "GET_CONTAINERS", "get_containers": {"show_nested": True, "show_standalone": True}},
        {"type": "READ_FILE", "read_file": {"path": sandbox_virtual + "/stdout", "offset": 0, "length": 100}},
        {"type": "LIST_FILES", "list_files": {"path": sandbox_virtual}},
        {"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 0, "duration": {"nanoseconds": 10 ** 9}}},
        {"type": "KILL_NESTED_CONTAINER", "kill_nested_container": {"container_id": {
            "value": "c", "parent": {"value": executor_id}}}},
    ]


def executor_calls(fid, executor_id, task_id):
    fw = {"value": fid}
    ex = {"value": executor_id}
    return [
        {"type": "SUBSCRIBE", "framework_id": fw, "executor_id": {"value": "no-such-executor"},
         "subscribe": {"unacknowledged_tasks": [], "unacknowledged_updates": []}},
        {"type": "MESSAGE", "framework_id": fw, "executor_id": ex, "message": {"data": "aGk="}},
        {"type": "UPDATE", "framework_id": fw, "executor_id": ex, "update": {"status": {
            "task_id": {"value": task_id}, "state": "TASK_RUNNING", "source": "SOURCE_EXECUTOR",
            "uuid": "AAAAAAAAAAAAAAAAAAAAAA==", "message": "fuzz", "data": "eA==", "healthy": True}}},
        {"type": "UPDATE", "framework_id": fw, "executor_id": {"value": "no-such-executor"}, "update": {"status": {
            "task_id": {"value": "no-such-task"}, "state": "TASK_FINISHED",
            "uuid": "AAAAAAAAAAAAAAAAAAAAAA=="}}},
    ]


def query_requests(fid, agent_id, sandbox_real):
    return [
        ("GET", "/master/tasks?limit=10&offset=0&order=asc&framework_id=" + fid),
        ("GET", "/master/state?jsonp=x"),
        ("GET", "/master/frameworks?framework_id=" + fid),
        ("GET", "/master/slaves?slave_id=" + agent_id),
        ("GET", "/master/maintenance/status"),
        ("POST", "/master/teardown?frameworkId=no-such-framework"),
        ("POST", "/master/machine/down"),
        ("POST", "/master/maintenance/schedule"),
        ("GET", "/metrics/snapshot?timeout=1secs"),
        ("GET", "/files/browse?path=" + sandbox_real),
        ("GET", "/files/read?path=" + sandbox_real + "/stdout&offset=0&length=10"),
        ("GET", "/files/read?path=" + sandbox_real + "/stdout&offset=-1"),
        ("GET", "/files/download?path=" + sandbox_real + "/stdout"),
        ("HEAD", "/files/download?path=" + sandbox_real + "/stderr"),
        ("GET", "/files/debug"),
        ("GET", "/files/read?path=/slave/log&offset=0&length=100"),
        ("GET", "/monitor/statistics"),
        ("GET", "/containers?framework_id=" + fid + "&executor_id=x"),
        ("GET", "/flags?jsonp=f"),
        ("GET", "/version"),
        ("GET", "/state"),
        ("GET", "/slave(1)/state"),
    ]


def mutate_query(m, method, path):
    base, _, qs = path.partition("?")
    pairs = [p.split("=", 1) if "=" in p else [p, ""] for p in qs.split("&") if p]
    op = m.r.randrange(5)
    if op == 0 and pairs:
        pairs[m.r.randrange(len(pairs))][1] = m.r.choice(
            ["", "-1", "99999999999999999999999", "..%2F..%2Fetc%2Fpasswd", "%", "%zz", "%00", "a" * 5000,
             "/etc/passwd", "/proc/self/environ", "../../../../", "1e9", "0x10", "+5", "%201"])
    elif op == 1:
        pairs.append([m.r.choice(["offset", "length", "limit", "path", "order", "jsonp", "timeout", "x" * 300]),
                      m.r.choice(["-5", "abc", "", "=", "&&", "%ff%fe"])])
    elif op == 2 and pairs:
        del pairs[m.r.randrange(len(pairs))]
    elif op == 3:
        base = base + m.r.choice(["/", "//", "/..", "%2e%2e", "?", "#x", "/" + "a" * 3000])
    else:
        pairs = pairs * m.r.choice([2, 200])
    q = "&".join(k + "=" + v for k, v in pairs)
    path = base + ("?" + q if q else "")
    body = None
    if method == "POST":
        body = m.r.choice([b"", b"{}", b"x=1", json.dumps(m.odd_value()).encode(), b"\xff" * 100])
    return method, path, body


RAW_REQUESTS = [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"X-Flood: y\r\n" * 20000 + b"\r\n",
    b"GET / HTTP/1.1\r\nX-Big: " + b"z" * 200000 + b"\r\n\r\n",
    b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n{}",
    b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999"
    b"\r\n\r\n{}",
    b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{}",
    b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\n{}\r\n0\r\n\r\n",
    b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"ffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
    b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    b"\x00\x01\x02 GET / HTTP/1.1\r\n\r\n",
    b"GET /master/state HTTP/1.1\r\nHost: x\r\n\r\nGET /master/state HTTP/1.1\r\nHost: x\r\n\r\n" * 50,
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 300,  # a TLS ClientHello
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    b"POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{",
    b"GET /%00%ff%fe/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\x00\x00: \xff\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"\r\n" * 5000,
]


def raw_exchange(port, data, timeout=10.0):
    """Writes data and reads until the server closes or goes quiet; returns what came back (or None)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close on a request it refuses before reading all of it
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                break
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    return got


def test_fuzzed_requests_never_crash_master_or_agent(tmp_path):
    m = Mutator(SEED)
    with Cluster(tmp_path, agents=1, resources="cpus:8;mem:8192;disk:8192;ports:[31000-31100]") as c:
        agent = c.agents[0]
        sched = SchedulerClient("127.0.0.1", c.master_port)
        sched.subscribe({"user": "root", "name": "fuzz", "roles": ["*"],
                         "capabilities": [{"type": "MULTI_ROLE"}, {"type": "TASK_KILLING_STATE"}]})
        fid = sched.framework_id["value"]
        offer = None
        while offer is None:
            ev = sched.next_event(timeout=60)
            if ev["type"] == "OFFERS":
                offer = ev["offers"]["offers"][0]
        # One live task (its command executor is a live executor for the executor API and the files).
        task = {"name": "live", "task_id": {"value": "live"}, "agent_id": offer["agent_id"],
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
                              {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}}],
                "command": {"value": "sleep 600"}}
        assert scalar(offer["resources"], "cpus") >= 0.5
        sched.launch([offer["id"]], [task])
        while True:
            ev = sched.next_event(timeout=60)
            if ev["type"] == "UPDATE":
                st = ev["update"]["status"]
                if "uuid" in st:
                    sched.acknowledge(st)
                if st["state"] == "TASK_RUNNING":
                    break
                assert st["state"] in ("TASK_STAGING", "TASK_STARTING"), st
        agent_id = offer["agent_id"]["value"]
        live_exec = poll(lambda: [e for f in agent.state()["frameworks"] for e in f["executors"]
                                  if e["id"] == "live"], 30, what="the live executor")[0]
        sandbox = live_exec["directory"]
        virtual = f"/frameworks/{fid}/executors/live/runs/latest"  # Mesos's virtual sandbox path

        master = Target("master", c.master_port)
        agent_t = Target("agent", agent.port)
        stream = {"Mesos-Stream-Id": sched.stream_id}

        corpus = [
            (master, "/api/v1/scheduler", stream, scheduler_calls(fid, agent_id, "no-such-offer", "live", "live")),
            (master, "/api/v1", {}, master_operator_calls(agent_id)),
            (agent_t, "/api/v1", {}, agent_operator_calls(fid, "live", virtual)),
            (agent_t, "/api/v1/executor", {}, executor_calls(fid, "live", "no-such-task")),
        ]
        for target, path, headers, calls in corpus:
            def hdrs(call):  # a SUBSCRIBE has no Mesos-Stream-Id yet
                return {} if call["type"] == "SUBSCRIBE" else headers

            for call in calls:  # the valid calls first: none may fail with a 500 either
                target.post_json(path, call, hdrs(call), what=f"valid {call.get('type')}")
            for _ in range(1000):
                call = m.r.choice(calls)
                if m.r.random() < 0.5:
                    target.post_json(path, m.mutate_leaves(call), hdrs(call), what=f"same-shape JSON {call['type']}")
                else:
                    target.post_json(path, m.mutate(call), hdrs(call), what=f"mutated JSON {call['type']}")
            # Wrong media types and bodies that are not JSON at all.
            for ctype, body in ((JSON_CT, b"{"), (JSON_CT, b"[]"), (JSON_CT, b"null"), (JSON_CT, b"\xff\xfe"),
                                (JSON_CT, b'{"type": "' + b"A" * 100000 + b'"}'),
                                (JSON_CT, b"[" * 100000), (JSON_CT, b'{"a":' * 50000 + b"1" + b"}" * 50000), ("text/plain", b"{}"),
                                (PB_CT, b"\xff" * 20), ("application/json; charset=utf-16", b"{}")):
                target.request("POST", path, body, dict(headers, **{"Content-Type": ctype, "Accept": JSON_CT}),
                               what=f"body {ctype}")
        # Protobuf bodies: valid GET_HEALTH, RECONCILE and MESSAGE calls, flipped, cut and spliced.
        pb_seeds = [
            (master, "/api/v1", {}, pb_varint(1 << 3) + pb_varint(1)),
            (master, "/api/v1/scheduler", stream,  # RECONCILE (9) of the live task
             pb_field(1, pb_field(1, fid.encode())) + pb_varint(2 << 3) + pb_varint(9)
             + pb_field(9, pb_field(1, pb_field(1, pb_field(1, b"live"))))),
            (agent_t, "/api/v1", {}, pb_varint(1 << 3) + pb_varint(1)),
            (agent_t, "/api/v1/executor", {},
             pb_varint(1 << 3) + pb_varint(4) + pb_field(2, pb_field(1, fid.encode()))
             + pb_field(3, pb_field(1, b"no-such-executor")) + pb_field(4, pb_field(2, b"x"))),
        ]
        for target, path, headers, seed in pb_seeds:
            for _ in range(600):
                target.request("POST", path, m.mutate_bytes(seed),
                               dict(headers, **{"Content-Type": PB_CT, "Accept": PB_CT}), what="mutated protobuf")
        # The query-string endpoints.
        for target, reqs in ((master, query_requests(fid, agent_id, sandbox)[:9]),
                             (agent_t, query_requests(fid, agent_id, sandbox)[9:])):
            for method, path in reqs:
                target.request(method, path, what="valid query")
            for _ in range(300):
                method, path, body = mutate_query(m, *m.r.choice(reqs))
                target.request(method, path, body, {"Content-Type": m.r.choice([JSON_CT, "text/plain"])},
                               what="mutated query")
        # Raw HTTP garbage on both sockets: each answer, if any, must be an HTTP response that is not a 500.
        for target in (master, agent_t):
            for data in RAW_REQUESTS:
                got = raw_exchange(target.port, data)
                if got is None:
                    target.bad.append(f"{target.name}: no answer and no close within 10s after {data[:120]!r}")
                elif got:
                    if not got.startswith(b"HTTP/1."):
                        target.bad.append(f"{target.name}: not an HTTP answer {got[:120]!r} to {data[:120]!r}")
                    elif got[9:12] == b"500":
                        target.bad.append(f"{target.name}: 500 {got[:300]!r} to {data[:120]!r}")
            for _ in range(100):  # random bytes after a valid request line
                junk = bytes(m.r.randrange(256) for _ in range(m.r.choice([1, 50, 2000])))
                got = raw_exchange(target.port, b"POST /api/v1 HTTP/1.1\r\n" + junk)
                if got is None:
                    target.bad.append(f"{target.name}: no answer and no close within 10s after junk {junk[:120]!r}")
                elif got and (not got.startswith(b"HTTP/1.") or got[9:12] == b"500"):
                    target.bad.append(f"{target.name}: bad answer {got[:200]!r} to junk {junk[:120]!r}")

        bad = master.bad + agent_t.bad
        assert not bad, f"seed {SEED}: {len(bad)} bad answers, first ones:\n" + "\n".join(bad[:10])
        assert master.sent > 3000 and agent_t.sent > 3000, (master.sent, agent_t.sent)
        # Both still work: state endpoints answer, the agent is registered and the live task still runs.
        c.check_alive()
        state = c.master_state()
        assert any(s["id"] == agent_id for s in state["slaves"]), state["slaves"]
        ast = agent.state()
        live = [t for f in ast["frameworks"] for e in f["executors"] for t in e["tasks"] if t["id"] == "live"]
        assert live and live[0]["state"] == "TASK_RUNNING", live
        # The framework's stream outlived the fuzzing (nothing sent it away) and the scheduler API still works.
        assert not sched.stream_closed.is_set()
        sched.call({"type": "RECONCILE", "reconcile": {"tasks": []}})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ev = sched.next_event(timeout=60)
            if ev["type"] == "UPDATE" and ev["update"]["status"]["task_id"]["value"] == "live":
                break
        sched.kill("live")
        sched.close()
