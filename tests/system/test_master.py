"""System tests of mezzo-master alone: the scheduler HTTP API (status codes,
SUBSCRIBE stream framing, every call), offers and the allocator, ACCEPT
validation, the agent link (with a fake agent speaking the link protocol in
JSON over one chunked POST, several agents on one link), and the read-only
endpoints. No real agent is started: the fake agent answers RUN_TASK with the
status updates a test wants.

Everything waits by polling with generous deadlines; the master runs with
its defaults except where a test needs short timers."""
import base64
import http.client
import json
import queue
import socket
import threading
import time
import uuid

import pytest

from conftest import BIN
from cluster import Process, free_port, http_get, poll, sanitizer_report
from mesos_client import pb_field, pb_varint

JSON_CT = "application/json"
PROTO_CT = "application/x-protobuf"
API = "/api/v1/scheduler"
LINK = "/api/v1/mezzo/agent"
WAIT = 30.0  # generous deadline for anything that should happen


# --------------------------------------------------------------------------- master process

class Master:
    def __init__(self, tmp_path, flags=()):
        self.tmp = tmp_path
        self.port = None
        self.proc = None
        for attempt in range(5):
            port = free_port()
            work = tmp_path / f"master-work-{attempt}"
            p = Process("master", [BIN / "mezzo-master", "--ip=127.0.0.1", f"--port={port}", f"--work_dir={work}",
                                   *flags], tmp_path / f"master-{attempt}.log")
            p.start()

            def up():
                if not p.alive():
                    raise AssertionError("master exited:\n" + p.log_tail())
                return http_get(port, "/health", timeout=2)[0] == 200

            try:
                poll(up, WAIT, what="mezzo-master to answer /health")
                self.proc, self.port = p, port
                return
            except AssertionError:
                tail = p.log_tail()
                p.stop(grace=5)
                if "in use" not in tail.lower():
                    raise
        raise AssertionError("could not start mezzo-master")

    def get(self, path):
        return http_get(self.port, path)

    def json(self, path):
        status, body = self.get(path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def state(self):
        return self.json("/master/state")

    def metrics(self):
        return self.json("/metrics/snapshot")

    def assert_serving(self):
        assert self.proc.alive(), "master died:\n" + self.proc.log_tail()
        assert self.get("/health")[0] == 200

    def stop(self):
        died = not self.proc.alive()
        code = self.proc.stop()
        report = sanitizer_report(self.proc.log())
        assert not died, "master died during the test:\n" + self.proc.log_tail()
        assert report is None, "sanitizer report:\n" + report
        assert code == 0, f"master exited with {code} on SIGTERM:\n" + self.proc.log_tail()


@pytest.fixture
def master_factory(tmp_path):
    made = []

    def make(*flags):
        m = Master(tmp_path / f"m{len(made)}", flags)
        made.append(m)
        return m

    yield make
    for m in made:
        m.stop()


@pytest.fixture
def master(master_factory):
    return master_factory()


# --------------------------------------------------------------------------- raw HTTP

def request(port, method, path, body=b"", headers=None, chunked=False, timeout=WAIT):
    """One request on a fresh connection -> (status, lower-cased headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = dict(headers or {})
    if isinstance(body, str):
        body = body.encode()
    if chunked:
        def gen():
            for i in range(0, len(body), 7):  # small pieces: several chunks
                yield body[i:i + 7]
        conn.request(method, path, body=gen(), headers=headers, encode_chunked=True)
    else:
        conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return resp.status, hdrs, data


class ChunkedStream:
    """A raw socket request whose response is a chunked RecordIO stream. Checks that
    every HTTP chunk carries exactly one RecordIO record, decodes JSON records (or
    keeps protobuf ones as bytes), and queues them. The request body may stay open
    (chunked) to send more records later (the agent link)."""

    def __init__(self, port, path, head_headers, body=None, open_body=False, decode_json=True, chunks=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.decode_json = decode_json
        self.lock = threading.Lock()
        lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        for k, v in head_headers.items():
            lines.append(f"{k}: {v}")
        if open_body or chunks is not None:
            lines.append("Transfer-Encoding: chunked")
        else:
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if chunks is not None:  # a complete chunked request body
            for c in chunks:
                data += f"{len(c):x}\r\n".encode() + c + b"\r\n"
            data += b"0\r\n\r\n"
        elif not open_body:
            data += body
        self.sock.sendall(data)
        self.buf = b""
        self.status, self.headers = self._read_head()
        self.events = queue.Queue()
        self.backlog = []
        self.framing_errors = []
        self.closed = threading.Event()
        self.on_event = None
        self.reader = None
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            self.sock.settimeout(None)
            self.reader = threading.Thread(target=self._read_chunks, daemon=True)
            self.reader.start()
        else:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                more = self.sock.recv(65536)
                if not more:
                    break
                self.buf += more
            self.body = self.buf[:n]
            self.closed.set()

    def _recv_until(self, token):
        while token not in self.buf:
            more = self.sock.recv(65536)
            if not more:
                raise EOFError("connection closed")
            self.buf += more
        i = self.buf.index(token)
        out, self.buf = self.buf[:i], self.buf[i + len(token):]
        return out

    def _recv_exact(self, n):
        while len(self.buf) < n:
            more = self.sock.recv(65536)
            if not more:
                raise EOFError("connection closed")
            self.buf += more
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_head(self):
        head = self._recv_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers

    def _read_chunks(self):
        try:
            while True:
                size = int(self._recv_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    break
                chunk = self._recv_exact(size)
                self._recv_exact(2)
                nl = chunk.find(b"\n")
                if nl < 0 or not chunk[:nl].isdigit() or int(chunk[:nl]) != len(chunk) - nl - 1:
                    self.framing_errors.append(chunk[:200])
                    continue
                payload = chunk[nl + 1:]
                if self.decode_json:
                    if b"\n" in payload:
                        self.framing_errors.append(b"newline inside a JSON record: " + payload[:200])
                    ev = json.loads(payload)
                else:
                    ev = payload
                if self.on_event:
                    self.on_event(ev)
                self.events.put(ev)
        except (EOFError, OSError, ValueError):
            pass
        finally:
            self.closed.set()

    def send_record(self, obj):
        payload = json.dumps(obj, separators=(",", ":")).encode() if not isinstance(obj, bytes) else obj
        record = str(len(payload)).encode() + b"\n" + payload
        self.send_chunk(record)

    def send_chunk(self, data):
        with self.lock:
            self.sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def expect(self, pred, timeout=WAIT, what="an event"):
        """Returns (and removes) the first event matching pred, waiting for it."""
        for i, ev in enumerate(self.backlog):
            if pred(ev):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; got {self.backlog[-10:]}")
            try:
                ev = self.events.get(timeout=min(left, 0.2))
            except queue.Empty:
                if self.closed.is_set() and self.events.empty():
                    raise AssertionError(f"stream closed while waiting for {what}; got {self.backlog[-10:]}")
                continue
            if pred(ev):
                return ev
            self.backlog.append(ev)

    def none_within(self, pred, seconds):
        """Asserts no event matching pred arrives within seconds (used sparingly). Events that
        came before the call are not looked at: an offer made before a drain, say, is not one
        made after it."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                ev = self.events.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if pred(ev):
                raise AssertionError(f"unexpected event {ev}")
            self.backlog.append(ev)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self.reader:
            self.reader.join(timeout=5)


def typ(t):
    return lambda ev: isinstance(ev, dict) and ev.get("type") == t


# --------------------------------------------------------------------------- scheduler

class Framework:
    def __init__(self, port, info=None, name="test-fw", capabilities=(), roles=None, fid=None, accept=JSON_CT,
                 extra=None):
        self.port = port
        fi = dict(info or {"user": "tester", "name": name})
        if capabilities:
            fi["capabilities"] = [{"type": c} for c in capabilities]
        if roles is not None:
            fi["roles"] = list(roles)
        if fid:
            fi["id"] = {"value": fid}
        call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": fi}}
        if fid:
            call["framework_id"] = {"value": fid}
        if extra:
            call["subscribe"].update(extra)
        self.stream = ChunkedStream(port, API, {"Content-Type": JSON_CT, "Accept": accept},
                                    json.dumps(call).encode())
        assert self.stream.status == 200, self.stream.__dict__.get("body")
        self.stream_id = self.stream.headers.get("mesos-stream-id")
        first = self.stream.expect(lambda ev: True, what="the first event")
        assert first["type"] == "SUBSCRIBED", first
        self.subscribed = first["subscribed"]
        self.id = first["subscribed"]["framework_id"]["value"]

    def call(self, type_, body=None, stream_id=None, fid=None, headers=None):
        c = {"type": type_, "framework_id": {"value": fid or self.id}}
        if body:
            c.update(body)
        h = {"Content-Type": JSON_CT, "Mesos-Stream-Id": stream_id or self.stream_id}
        h.update(headers or {})
        return request(self.port, "POST", API, json.dumps(c), h)

    def ok(self, type_, body=None):
        status, _, data = self.call(type_, body)
        assert status == 202, (type_, status, data)
        assert data == b""

    def offers(self, n=1, timeout=WAIT):
        """Collects OFFERS events until n offers came; returns them."""
        got = []
        while len(got) < n:
            ev = self.stream.expect(typ("OFFERS"), timeout=timeout, what=f"{n} offer(s)")
            got.extend(ev["offers"]["offers"])
        return got

    def update(self, task_id, state=None, timeout=WAIT):
        def match(ev):
            if ev.get("type") != "UPDATE":
                return False
            st = ev["update"]["status"]
            return st["task_id"]["value"] == task_id and (state is None or st["state"] == state)
        return self.stream.expect(match, timeout=timeout, what=f"UPDATE {state} for {task_id}")["update"]["status"]

    def accept(self, offer_ids, operations, refuse=None):
        body = {"accept": {"offer_ids": [{"value": o} for o in offer_ids], "operations": operations}}
        if refuse is not None:
            body["accept"]["filters"] = {"refuse_seconds": refuse}
        self.ok("ACCEPT", body)

    def close(self):
        self.stream.close()


def scalar(name, value, role=None):
    r = {"name": name, "type": "SCALAR", "scalar": {"value": value}}
    if role:
        r["allocation_info"] = {"role": role}
    return r


def command_task(tid, agent_id, cpus=1, mem=128, cmd="sleep 1000"):
    return {"name": f"task {tid}", "task_id": {"value": tid}, "agent_id": {"value": agent_id},
            "resources": [scalar("cpus", cpus), scalar("mem", mem)],
            "command": {"shell": True, "value": cmd}}


def cpus_of(offer):
    return sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus")


def offer_with(fw, pred, what="a matching offer"):
    """Waits for an offer matching pred; other offers are declined (refuse_seconds 0)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for o in fw.offers(1):
            if pred(o):
                return o
            fw.ok("DECLINE", {"decline": {"offer_ids": [o["id"]], "filters": {"refuse_seconds": 0}}})
    raise AssertionError(f"timed out waiting for {what}")


def launch(*tasks):
    return {"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}


# --------------------------------------------------------------------------- fake agent

AGENT_RES = [scalar("cpus", 4), scalar("mem", 4096), scalar("disk", 8192),
             {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32000}]}}]


class AgentLink:
    """One link carrying any number of fake agents."""

    def __init__(self, port, auto_pong=True):
        self.stream = ChunkedStream(port, LINK, {"Content-Type": JSON_CT}, open_body=True)
        assert self.stream.status == 200
        assert self.stream.headers.get("mezzo-link-id")
        self.auto_pong = auto_pong
        self.pings = 0
        self.stream.on_event = self._on_event

    def _on_event(self, ev):
        if ev.get("type") == "PING" and "agent_id" not in ev:
            self.pings += 1
            if self.auto_pong:
                try:
                    self.send({"type": "PONG", "pong": {"seq": ev.get("ping", {}).get("seq", 0)}})
                except OSError:
                    pass

    def send(self, call):
        self.stream.send_record(call)

    def register(self, key, hostname="fake-host", resources=AGENT_RES, agent_id=None, tasks=None, frameworks=None,
                 executors=None):
        info = {"hostname": hostname, "port": 5051, "resources": resources}
        reg = {"agent_info": info, "version": "test"}
        if tasks is not None:
            reg["tasks"] = tasks
        if frameworks is not None:
            reg["frameworks"] = frameworks
        if executors is not None:
            reg["executors"] = executors
        call = {"type": "REGISTER", "link_key": key, "register": reg}
        if agent_id:
            call["agent_id"] = {"value": agent_id}
        self.send(call)
        ev = self.stream.expect(lambda e: e.get("link_key") == key and e.get("type") in ("REGISTERED", "ERROR"),
                                what=f"REGISTERED for {key}")
        assert ev["type"] == "REGISTERED", ev
        assert ev["registered"]["agent_id"]["value"] == ev["agent_id"]["value"]
        return ev["registered"]["agent_id"]["value"]

    def status(self, agent_id, fid, tid, state, with_uuid=True, source="SOURCE_EXECUTOR", reason=None, latest=None):
        """Sends a status update; latest is the task's latest state at the agent when the
        update is an older one still unacknowledged (StatusUpdate.latest_state)."""
        u = uuid.uuid4().bytes
        st = {"task_id": {"value": tid}, "state": state, "source": source}
        if with_uuid:
            st["uuid"] = base64.b64encode(u).decode()
        if reason:
            st["reason"] = reason
        su = {"framework_id": {"value": fid}, "status": st}
        if latest:
            su["latest_state"] = latest
        self.send({"type": "STATUS_UPDATE", "agent_id": {"value": agent_id}, "status_update": su})
        return base64.b64encode(u).decode() if with_uuid else None

    def expect(self, pred, timeout=WAIT, what="an agent event"):
        return self.stream.expect(pred, timeout=timeout, what=what)

    def run_task(self, tid, timeout=WAIT):
        def match(ev):
            if ev.get("type") != "RUN_TASK":
                return False
            rt = ev["run_task"]
            if "task" in rt:
                return rt["task"]["task_id"]["value"] == tid
            return any(t["task_id"]["value"] == tid for t in rt["task_group"]["tasks"])
        return self.expect(match, timeout, what=f"RUN_TASK {tid}")

    def close(self):
        self.stream.close()


# --------------------------------------------------------------------------- tests: errors

def test_master_log_is_served_as_master_log(master_factory, tmp_path):
    """With --log_dir the master's log file is Mesos's virtual /master/log under /files;
    nothing else is served, and without a log file /master/log is a 404 that says why."""
    logs = tmp_path / "logs"
    logs.mkdir()
    m = master_factory(f"--log_dir={logs}")
    log = logs / "mezzo-master.log"
    poll(lambda: log.exists() and log.stat().st_size > 0, WAIT, what="the master's log file")
    st, _, body = request(m.port, "GET", "/files/read?path=/master/log&offset=0")
    data = json.loads(body)
    assert st == 200 and "INFO" in data["data"] and data["offset"] == 0
    st, _, body = request(m.port, "GET", "/files/browse?path=/master/log")
    assert st == 200 and [e["path"] for e in json.loads(body)] == ["/master/log"]
    st, hdrs, body = request(m.port, "GET", "/files/download?path=/master/log")
    assert st == 200 and hdrs["content-disposition"] == "attachment; filename=mezzo-master.log"
    assert body.startswith(data["data"].encode()[:100])
    st, _, body = request(m.port, "GET", "/files/debug")
    assert st == 200 and json.loads(body) == {"/master/log": str(log)}
    for path in ("/etc/passwd", str(log), "/slave/log", "/master/log/../x"):
        st, _, body = request(m.port, "GET", f"/files/read?path={path}&offset=0")
        assert st == 404 and b"serves only /master/log" in body, (path, st, body)
    assert request(m.port, "GET", "/files/read?offset=0")[0] == 400
    bare = master_factory()
    st, _, body = request(bare.port, "GET", "/files/read?path=/master/log&offset=0")
    assert st == 404 and b"--log_dir" in body
    assert json.loads(request(bare.port, "GET", "/files/debug")[2]) == {}


def test_health_unknown_path_and_methods(master):
    status, hdrs, body = request(master.port, "GET", "/health")
    assert status == 200 and body == b""
    assert request(master.port, "GET", "/no/such/endpoint")[0] == 404
    status, hdrs, body = request(master.port, "GET", API)
    assert status == 405
    assert "POST" in hdrs.get("allow", "")
    master.assert_serving()


def test_scheduler_api_error_codes(master):
    p = master.port
    sub = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}})
    # 415: unsupported or missing Content-Type, with a message.
    status, _, body = request(p, "POST", API, sub, {"Content-Type": "text/plain"})
    assert status == 415 and b"application/json" in body
    master.assert_serving()
    # 406: SUBSCRIBE whose Accept allows neither JSON nor protobuf.
    status, _, body = request(p, "POST", API, sub, {"Content-Type": JSON_CT, "Accept": "text/html"})
    assert status == 406 and body
    master.assert_serving()
    # 400: malformed JSON.
    status, _, body = request(p, "POST", API, "{not json", {"Content-Type": JSON_CT})
    assert status == 400 and body
    master.assert_serving()
    # 400: a missing required field, named in the message.
    bad = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "n"}}})
    status, _, body = request(p, "POST", API, bad, {"Content-Type": JSON_CT})
    assert status == 400 and b"user" in body
    master.assert_serving()
    # 400: unknown call type.
    status, _, body = request(p, "POST", API, json.dumps({"type": "NO_SUCH_CALL"}), {"Content-Type": JSON_CT})
    assert status == 400 and body
    master.assert_serving()
    # 400: SUBSCRIBE whose framework_id differs from framework_info.id.
    bad = json.dumps({"type": "SUBSCRIBE", "framework_id": {"value": "a"},
                      "subscribe": {"framework_info": {"user": "u", "name": "n", "id": {"value": "b"}}}})
    status, _, body = request(p, "POST", API, bad, {"Content-Type": JSON_CT})
    assert status == 400 and b"framework_id" in body
    master.assert_serving()
    # 400: a call without its member (ACCEPT without accept).
    status, _, body = request(p, "POST", API, json.dumps({"type": "ACCEPT", "framework_id": {"value": "x"}}),
                              {"Content-Type": JSON_CT})
    assert status == 400 and b"accept" in body
    # 403: a call for a framework that is not subscribed.
    call = json.dumps({"type": "REVIVE", "framework_id": {"value": "no-such-framework"}})
    status, _, body = request(p, "POST", API, call, {"Content-Type": JSON_CT, "Mesos-Stream-Id": "x"})
    assert status == 403 and b"not subscribed" in body
    master.assert_serving()


def test_wrong_stream_id_is_forbidden(master):
    fw = Framework(master.port)
    status, _, body = fw.call("REVIVE", stream_id=str(uuid.uuid4()))
    assert status == 403 and body
    status, _, body = fw.call("REVIVE", stream_id=fw.stream_id.upper())
    assert status == 403
    # The right one, with the header name in another case, is accepted.
    c = json.dumps({"type": "REVIVE", "framework_id": {"value": fw.id}})
    status, _, body = request(master.port, "POST", API, c, {"content-type": JSON_CT, "mesos-stream-id": fw.stream_id})
    assert status == 202 and body == b""
    fw.close()
    master.assert_serving()


def test_subscribe_stream_framing_and_headers(master):
    fw = Framework(master.port, name="framing")
    h = fw.stream.headers
    assert h.get("content-type", "").startswith(JSON_CT)
    assert h.get("transfer-encoding", "").lower() == "chunked"
    assert "content-length" not in h
    assert fw.stream_id and len(fw.stream_id) <= 128
    sub = fw.subscribed
    assert sub["heartbeat_interval_seconds"] == 15
    mi = sub["master_info"]
    assert mi["port"] == master.port and mi["id"] and mi["hostname"]
    assert mi["address"]["port"] == master.port
    assert fw.id.startswith(mi["id"])
    assert fw.stream.framing_errors == []
    fw.close()


def test_subscribe_with_chunked_request_body(master):
    call = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "chunked"}}})
    call = call.encode()
    s = ChunkedStream(master.port, API, {"Content-Type": JSON_CT, "Accept": JSON_CT},
                      chunks=[call[:10], call[10:25], call[25:]])
    assert s.status == 200
    ev = s.expect(lambda e: True, what="SUBSCRIBED")
    assert ev["type"] == "SUBSCRIBED"
    fid = ev["subscribed"]["framework_id"]["value"]
    status, _, body = request(master.port, "POST", API,
                              json.dumps({"type": "SUPPRESS", "framework_id": {"value": fid}}),
                              {"Content-Type": JSON_CT, "Mesos-Stream-Id": s.headers["mesos-stream-id"]},
                              chunked=True)
    assert status == 202 and body == b""
    s.close()
    master.assert_serving()


def test_subscribe_protobuf(master):
    varint, field = pb_varint, pb_field
    fi = field(1, b"tester") + field(2, b"proto-fw")
    call = varint(2 << 3) + varint(1) + field(3, field(1, fi))  # type=SUBSCRIBE, subscribe{framework_info}
    s = ChunkedStream(master.port, API, {"Content-Type": PROTO_CT, "Accept": PROTO_CT}, call, decode_json=False)
    assert s.status == 200
    assert s.headers.get("content-type", "").startswith(PROTO_CT)
    rec = s.expect(lambda e: True, what="SUBSCRIBED in protobuf")
    assert rec[:2] == b"\x08\x01", rec[:20]  # Event.type = SUBSCRIBED
    assert s.framing_errors == []
    s.close()
    master.assert_serving()


def test_heartbeats(master_factory):
    m = master_factory("--framework_heartbeat_interval=200ms")
    fw = Framework(m.port)
    assert abs(fw.subscribed["heartbeat_interval_seconds"] - 0.2) < 1e-6
    fw.stream.expect(typ("HEARTBEAT"), what="a HEARTBEAT")
    fw.stream.expect(typ("HEARTBEAT"), what="a second HEARTBEAT")
    fw.close()


def test_failover_replaces_stream(master):
    old = Framework(master.port, info={"user": "u", "name": "fo", "failover_timeout": 3600})
    new = Framework(master.port, info={"user": "u", "name": "fo", "failover_timeout": 3600}, fid=old.id)
    assert new.id == old.id and new.stream_id != old.stream_id
    err = old.stream.expect(typ("ERROR"), what="ERROR on the old stream")
    assert "failed over" in err["error"]["message"].lower()
    assert old.stream.closed.wait(WAIT), "old stream not closed"
    assert old.call("REVIVE")[0] == 403  # old stream id
    new.ok("REVIVE")
    new.close()
    old.close()


def test_resubscribe_after_disconnect_within_failover_timeout(master):
    fw = Framework(master.port, info={"user": "u", "name": "again", "failover_timeout": 3600})
    fid = fw.id
    fw.close()
    master_state = lambda: master.state()  # noqa: E731
    poll(lambda: any(f["id"] == fid and not f["connected"] for f in master_state()["frameworks"]), WAIT,
         what="framework disconnected")
    assert request(master.port, "POST", API, json.dumps({"type": "REVIVE", "framework_id": {"value": fid}}),
                   {"Content-Type": JSON_CT, "Mesos-Stream-Id": fw.stream_id})[0] == 403
    fw2 = Framework(master.port, info={"user": "u", "name": "again", "failover_timeout": 3600}, fid=fid)
    assert fw2.id == fid
    fw2.ok("REVIVE")
    fw2.close()


def test_invalid_framework_info_gets_error_event(master):
    s = ChunkedStream(master.port, API, {"Content-Type": JSON_CT, "Accept": JSON_CT},
                      json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": {
                          "user": "u", "name": "n", "roles": ["a"]}}}).encode())
    assert s.status == 200
    ev = s.expect(lambda e: True)
    assert ev["type"] == "ERROR" and "roles" in ev["error"]["message"]
    assert s.closed.wait(WAIT)
    s.close()
    master.assert_serving()


# --------------------------------------------------------------------------- tests: offers and tasks

def test_launch_status_updates_and_acknowledgements(master):
    link = AgentLink(master.port)
    aid = link.register("k1", hostname="host-a")
    fw = Framework(master.port, name="launcher")
    offer = fw.offers(1)[0]
    assert offer["agent_id"]["value"] == aid
    assert offer["framework_id"]["value"] == fw.id
    assert offer["hostname"] == "host-a"
    url = offer["url"]
    assert url["scheme"] == "http" and url["path"] == "/slave(1)"
    assert url["address"]["hostname"] == "host-a" and url["address"]["port"] == 5051 and url["address"]["ip"]
    assert offer["allocation_info"]["role"] == "*"
    names = {r["name"] for r in offer["resources"]}
    assert {"cpus", "mem", "disk", "ports"} <= names
    assert all(r["allocation_info"]["role"] == "*" for r in offer["resources"])

    fw.accept([offer["id"]["value"]], [launch(command_task("t1", aid))], refuse=0)
    rt = link.run_task("t1")["run_task"]
    assert rt["framework"]["id"]["value"] == fw.id
    assert rt["task"]["agent_id"]["value"] == aid
    assert all(r.get("allocation_info", {}).get("role") == "*" for r in rt["task"]["resources"])
    st = poll(lambda: [t for f in master.state()["frameworks"] for t in f["tasks"]], WAIT, what="task in state")
    assert st[0]["id"] == "t1" and st[0]["state"] == "TASK_STAGING"

    u = link.status(aid, fw.id, "t1", "TASK_RUNNING")
    up = fw.update("t1", "TASK_RUNNING")
    assert up["agent_id"]["value"] == aid and up["uuid"] == u
    fw.ok("ACKNOWLEDGE", {"acknowledge": {"agent_id": {"value": aid}, "task_id": {"value": "t1"}, "uuid": u}})
    ack = link.expect(typ("ACKNOWLEDGE"), what="ACKNOWLEDGE at the agent")
    assert ack["agent_id"]["value"] == aid
    assert ack["acknowledge"]["task_id"]["value"] == "t1" and ack["acknowledge"]["uuid"] == u
    assert ack["acknowledge"]["framework_id"]["value"] == fw.id
    poll(lambda: master.metrics()["master/tasks_running"] == 1, WAIT, what="tasks_running == 1")

    u2 = link.status(aid, fw.id, "t1", "TASK_FINISHED")
    fw.update("t1", "TASK_FINISHED")
    poll(lambda: master.metrics()["master/tasks_finished"] == 1, WAIT, what="tasks_finished == 1")
    fw.ok("ACKNOWLEDGE", {"acknowledge": {"agent_id": {"value": aid}, "task_id": {"value": "t1"}, "uuid": u2}})
    link.expect(lambda e: e.get("type") == "ACKNOWLEDGE" and e["acknowledge"]["uuid"] == u2)

    def completed():
        f = [x for x in master.state()["frameworks"] if x["id"] == fw.id][0]
        return not f["tasks"] and [t for t in f["completed_tasks"] if t["id"] == "t1"]
    done = poll(completed, WAIT, what="t1 completed")[0]
    states = [s["state"] for s in done["statuses"]]
    assert states[0] == "TASK_STAGING" and states[-1] == "TASK_FINISHED"
    # All of the agent's resources come back in a later offer.
    offer_with(fw, lambda o: cpus_of(o) == 4, what="an offer of all 4 cpus")
    assert fw.stream.framing_errors == [] and link.stream.framing_errors == []
    fw.close()
    link.close()


def test_terminal_latest_state_is_counted_once(master):
    """An agent behind on acknowledgements sends the task's older update with its latest
    state: the task ends in the master then, counted under its latest state, and not again
    when the terminal update itself comes."""
    link = AgentLink(master.port)
    aid = link.register("latest")
    fw = Framework(master.port, name="latest")
    fw.accept([fw.offers(1)[0]["id"]["value"]], [launch(command_task("t1", aid))], refuse=0)
    link.run_task("t1")
    u = link.status(aid, fw.id, "t1", "TASK_RUNNING", latest="TASK_FINISHED")
    fw.update("t1", "TASK_RUNNING")
    m = poll(lambda: (lambda m: m if m["master/tasks_finished"] == 1 else None)(master.metrics()), WAIT,
             what="tasks_finished == 1 from the latest state")
    assert m["master/tasks_running"] == 0 and m["master/tasks_staging"] == 0
    fw.ok("ACKNOWLEDGE", {"acknowledge": {"agent_id": {"value": aid}, "task_id": {"value": "t1"}, "uuid": u}})
    link.expect(lambda e: e.get("type") == "ACKNOWLEDGE" and e["acknowledge"]["uuid"] == u)
    u2 = link.status(aid, fw.id, "t1", "TASK_FINISHED")
    fw.update("t1", "TASK_FINISHED")
    fw.ok("ACKNOWLEDGE", {"acknowledge": {"agent_id": {"value": aid}, "task_id": {"value": "t1"}, "uuid": u2}})
    link.expect(lambda e: e.get("type") == "ACKNOWLEDGE" and e["acknowledge"]["uuid"] == u2)
    m = master.metrics()
    assert m["master/tasks_finished"] == 1 and m["master/tasks_running"] == 0
    fw.close()
    link.close()


def test_many_agents_on_one_link_and_offers_never_overlap(master):
    fws = [Framework(master.port, name=f"fw{i}") for i in range(2)]
    link = AgentLink(master.port)
    ids = [link.register(f"key-{i}", hostname=f"h{i}") for i in range(4)]
    assert len(set(ids)) == 4
    poll(lambda: master.metrics()["master/outstanding_offers"] == 4, WAIT, what="4 outstanding offers")
    state = master.state()
    assert len(state["slaves"]) == 4
    seen = {}
    for f in state["frameworks"]:
        agents = [o["slave_id"] for o in f["offers"]]
        assert len(agents) == len(set(agents)), "two offers of one framework on one agent"
        for a in agents:
            assert a not in seen, f"agent {a} offered to two frameworks"
            seen[a] = f["id"]
    assert set(seen) == set(ids)
    # The fair allocator shares the agents between the two frameworks.
    assert sorted(list(seen.values()).count(f.id) for f in fws) == [2, 2]
    for s in state["slaves"]:
        assert s["offered_resources"]["cpus"] == 4
    for f in fws:
        f.close()
    link.close()


def test_accept_validation_errors(master):
    link = AgentLink(master.port)
    aid = link.register("k")
    fw = Framework(master.port, name="validator")
    pa = Framework(master.port, name="pa", capabilities=["PARTITION_AWARE"])

    def offer_of(f):
        return f.offers(1)[0]["id"]["value"]

    # Whoever got the agent first: make sure fw holds it.
    st = master.state()
    holder = [f["id"] for f in st["frameworks"] if f["offers"]]
    if holder and holder[0] == pa.id:
        o = pa.offers(1)[0]["id"]["value"]
        pa.ok("DECLINE", {"decline": {"offer_ids": [{"value": o}], "filters": {"refuse_seconds": 3600}}})
    oid = offer_of(fw)

    # Unknown offer id: TASK_LOST (TASK_DROPPED for PARTITION_AWARE), REASON_INVALID_OFFERS.
    fw.accept(["no-such-offer"], [launch(command_task("lost1", aid))])
    s = fw.update("lost1")
    assert s["state"] == "TASK_LOST" and s["reason"] == "REASON_INVALID_OFFERS" and s["source"] == "SOURCE_MASTER"
    assert "uuid" not in s and "invalid offers" in s["message"].lower()
    pa.accept(["no-such-offer"], [launch(command_task("drop1", aid))])
    s = pa.update("drop1")
    assert s["state"] == "TASK_DROPPED" and s["reason"] == "REASON_INVALID_OFFERS"
    # Another framework's offer is refused the same way (and stays valid for its owner).
    pa.accept([oid], [launch(command_task("drop2", aid))])
    assert pa.update("drop2")["reason"] == "REASON_INVALID_OFFERS"
    pa.ok("SUPPRESS")  # from now on every offer goes to fw
    master.assert_serving()

    # Task errors, all in one ACCEPT on fw's (still valid) offer.
    both = command_task("both", aid)
    both["executor"] = {"executor_id": {"value": "e"}, "command": {"value": "x"}}
    neither = command_task("neither", aid)
    del neither["command"]
    tasks = [
        command_task("big", aid, cpus=100),
        command_task("bad/id", aid),
        both,
        neither,
        command_task("ok", aid, cpus=1),
        command_task("ok", aid, cpus=1),  # duplicate of the one just launched
        {"name": "nores", "task_id": {"value": "nores"}, "agent_id": {"value": aid}, "command": {"value": "x"}},
        command_task("neg", aid, cpus=-1),
        command_task("wrongagent", "some-other-agent"),
    ]
    fw.accept([oid], [launch(*tasks)], refuse=0)
    link.run_task("ok")
    for tid in ["big", "bad/id", "both", "neither", "nores", "neg", "wrongagent"]:
        s = fw.update(tid)
        assert s["state"] == "TASK_ERROR", (tid, s)
        assert s["reason"] == "REASON_TASK_INVALID" and s["source"] == "SOURCE_MASTER" and s["message"], (tid, s)
    dup = fw.update("ok", "TASK_ERROR")
    assert "duplicate" in dup["message"].lower()
    master.assert_serving()
    # Offer already used: it is no longer valid.
    fw.accept([oid], [launch(command_task("again", aid))])
    assert fw.update("again")["reason"] == "REASON_INVALID_OFFERS"
    # The unused resources came back: 3 cpus offered again.
    offer_with(fw, lambda o: cpus_of(o) == 3, what="the unused 3 cpus re-offered")
    m = master.metrics()
    assert m["master/tasks_error"] >= 8 and m["master/tasks_lost"] >= 2 and m["master/tasks_dropped"] >= 2
    fw.close()
    pa.close()
    link.close()
    master.assert_serving()


def test_launch_group(master):
    link = AgentLink(master.port)
    aid = link.register("k")
    fw = Framework(master.port, name="grouper")
    oid = fw.offers(1)[0]["id"]["value"]
    ex = {"executor_id": {"value": "default-ex"}, "type": "DEFAULT", "framework_id": {"value": fw.id},
          "resources": [scalar("cpus", 0.1), scalar("mem", 32), scalar("disk", 32)]}
    group = {"tasks": [command_task("g1", aid, cpus=0.5, mem=64), command_task("g2", aid, cpus=0.5, mem=64)]}
    fw.accept([oid], [{"type": "LAUNCH_GROUP", "launch_group": {"executor": ex, "task_group": group}}], refuse=0)
    rt = link.run_task("g1")["run_task"]
    assert [t["task_id"]["value"] for t in rt["task_group"]["tasks"]] == ["g1", "g2"]
    assert rt["executor"]["executor_id"]["value"] == "default-ex"
    state = master.state()
    f = [x for x in state["frameworks"] if x["id"] == fw.id][0]
    assert sorted(t["id"] for t in f["tasks"]) == ["g1", "g2"]
    assert f["executors"] and f["executors"][0]["executor_id"] == "default-ex"
    assert abs(f["used_resources"]["cpus"] - 1.1) < 1e-6
    # An invalid group: the executor is too small.
    oid = fw.offers(1)[0]["id"]["value"]
    ex2 = dict(ex, executor_id={"value": "tiny"}, resources=[scalar("cpus", 0.001), scalar("mem", 32),
                                                             scalar("disk", 1)])
    fw.accept([oid], [{"type": "LAUNCH_GROUP", "launch_group": {
        "executor": ex2, "task_group": {"tasks": [command_task("g3", aid, cpus=0.5)]}}}], refuse=0)
    s = fw.update("g3", "TASK_ERROR")
    assert s["reason"] == "REASON_TASK_GROUP_INVALID"
    fw.close()
    link.close()


def test_decline_filter_and_revive(master):
    link = AgentLink(master.port)
    link.register("k")
    fw = Framework(master.port, name="decliner")
    oid = fw.offers(1)[0]["id"]["value"]
    fw.ok("DECLINE", {"decline": {"offer_ids": [{"value": oid}], "filters": {"refuse_seconds": 3600}}})
    fw.stream.none_within(typ("OFFERS"), 1.5)
    assert master.metrics()["master/outstanding_offers"] == 0
    fw.ok("REVIVE")
    oid2 = fw.offers(1)[0]["id"]["value"]
    assert oid2 != oid
    # refuse_seconds 0: offered again straight away.
    fw.ok("DECLINE", {"decline": {"offer_ids": [{"value": oid2}], "filters": {"refuse_seconds": 0}}})
    fw.offers(1)
    # SUPPRESS: nothing while suppressed; REVIVE brings offers back.
    oid3 = None
    poll(lambda: master.metrics()["master/outstanding_offers"] == 1, WAIT, what="one outstanding offer")
    for f in master.state()["frameworks"]:
        for o in f["offers"]:
            oid3 = o["id"]
    fw.ok("SUPPRESS")
    fw.ok("DECLINE", {"decline": {"offer_ids": [{"value": oid3}], "filters": {"refuse_seconds": 0}}})
    fw.stream.none_within(typ("OFFERS"), 1.0)
    fw.ok("REVIVE")
    fw.offers(1)
    fw.close()
    link.close()


def test_offer_timeout_rescinds(master_factory):
    m = master_factory("--offer_timeout=300ms")
    link = AgentLink(m.port)
    link.register("k")
    fw = Framework(m.port)
    oid = fw.offers(1)[0]["id"]["value"]
    ev = fw.stream.expect(typ("RESCIND"), what="RESCIND after the offer timeout")
    assert ev["rescind"]["offer_id"]["value"] == oid
    fw.accept([oid], [launch(command_task("late", "x"))])
    assert fw.update("late")["reason"] == "REASON_INVALID_OFFERS"
    fw.close()
    link.close()


def test_kill_reconcile_and_messages(master):
    link = AgentLink(master.port)
    aid = link.register("k")
    fw = Framework(master.port, name="killer")
    oid = fw.offers(1)[0]["id"]["value"]
    t = command_task("t", aid)
    t["executor"] = {"executor_id": {"value": "ex1"}, "command": {"value": "my-executor"},
                     "resources": [scalar("cpus", 0.1), scalar("mem", 32)]}
    del t["command"]
    fw.accept([oid], [launch(t)], refuse=0)
    rt = link.run_task("t")["run_task"]
    assert rt["executor"]["executor_id"]["value"] == "ex1"
    assert rt["executor"]["framework_id"]["value"] == fw.id
    u = link.status(aid, fw.id, "t", "TASK_RUNNING")
    fw.update("t", "TASK_RUNNING")

    # Explicit reconciliation: known task -> latest state; unknown -> TASK_LOST; no uuids.
    fw.ok("RECONCILE", {"reconcile": {"tasks": [{"task_id": {"value": "t"}},
                                                {"task_id": {"value": "ghost"}, "agent_id": {"value": aid}}]}})
    s = fw.update("t", "TASK_RUNNING")
    assert s["reason"] == "REASON_RECONCILIATION" and "uuid" not in s and s["source"] == "SOURCE_MASTER"
    s = fw.update("ghost")
    assert s["state"] == "TASK_LOST" and s["reason"] == "REASON_RECONCILIATION" and "uuid" not in s
    # Implicit reconciliation.
    fw.ok("RECONCILE", {"reconcile": {}})
    s = fw.update("t", "TASK_RUNNING")
    assert s["reason"] == "REASON_RECONCILIATION" and s["agent_id"]["value"] == aid

    # MESSAGE both ways.
    data = base64.b64encode(b"hello executor").decode()
    fw.ok("MESSAGE", {"message": {"agent_id": {"value": aid}, "executor_id": {"value": "ex1"}, "data": data}})
    fm = link.expect(typ("FRAMEWORK_MESSAGE"))["framework_message"]
    assert fm["data"] == data and fm["executor_id"]["value"] == "ex1" and fm["framework_id"]["value"] == fw.id
    back = base64.b64encode(b"hello scheduler").decode()
    link.send({"type": "EXECUTOR_MESSAGE", "agent_id": {"value": aid}, "executor_message": {
        "framework_id": {"value": fw.id}, "executor_id": {"value": "ex1"}, "data": back}})
    msg = fw.stream.expect(typ("MESSAGE"))["message"]
    assert msg["data"] == back and msg["agent_id"]["value"] == aid and msg["executor_id"]["value"] == "ex1"

    # KILL -> KILL_TASK at the agent; KILL of an unknown task -> TASK_LOST.
    fw.ok("KILL", {"kill": {"task_id": {"value": "t"}, "agent_id": {"value": aid}}})
    kt = link.expect(typ("KILL_TASK"))["kill_task"]
    assert kt["task_id"]["value"] == "t" and kt["framework_id"]["value"] == fw.id
    fw.ok("KILL", {"kill": {"task_id": {"value": "nobody"}}})
    assert fw.update("nobody")["state"] == "TASK_LOST"
    link.status(aid, fw.id, "t", "TASK_KILLED")
    fw.update("t", "TASK_KILLED")
    assert u
    fw.close()
    link.close()


def test_teardown_shuts_framework_down(master):
    link = AgentLink(master.port)
    aid = link.register("k")
    fw = Framework(master.port, name="goner")
    oid = fw.offers(1)[0]["id"]["value"]
    fw.accept([oid], [launch(command_task("t", aid))])
    link.run_task("t")
    fw.ok("TEARDOWN")
    sd = link.expect(typ("SHUTDOWN_FRAMEWORK"))
    assert sd["shutdown_framework"]["framework_id"]["value"] == fw.id
    assert fw.stream.closed.wait(WAIT)
    state = master.state()
    assert not state["frameworks"]
    done = state["completed_frameworks"][0]
    assert done["id"] == fw.id and done["completed_tasks"][0]["state"] == "TASK_KILLED"
    assert fw.call("REVIVE")[0] == 403
    poll(lambda: master.state()["slaves"][0]["used_resources"]["cpus"] == 0, WAIT, what="resources freed")
    fw.close()
    link.close()


def test_framework_disconnect_removes_it_after_failover_timeout(master):
    link = AgentLink(master.port)
    aid = link.register("k")
    fw = Framework(master.port, name="short-lived")  # failover_timeout 0
    oid = fw.offers(1)[0]["id"]["value"]
    fw.accept([oid], [launch(command_task("t", aid))])
    link.run_task("t")
    fw.close()
    link.expect(typ("SHUTDOWN_FRAMEWORK"))
    poll(lambda: master.state()["completed_frameworks"], WAIT, what="the framework to complete")
    link.close()


def test_update_kept_for_disconnected_framework(master):
    link = AgentLink(master.port)
    aid = link.register("k")
    info = {"user": "u", "name": "patient", "failover_timeout": 3600}
    fw = Framework(master.port, info=info)
    oid = fw.offers(1)[0]["id"]["value"]
    fw.accept([oid], [launch(command_task("t", aid))])
    link.run_task("t")
    fw.close()
    poll(lambda: not master.state()["frameworks"][0]["connected"], WAIT, what="framework disconnected")
    u = link.status(aid, fw.id, "t", "TASK_RUNNING")
    fw2 = Framework(master.port, info=info, fid=fw.id)
    s = fw2.update("t", "TASK_RUNNING")
    assert s["uuid"] == u
    fw2.close()
    link.close()


# --------------------------------------------------------------------------- tests: agent link

def test_link_disconnect_rescinds_and_removal_loses_tasks(master_factory):
    m = master_factory("--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=3")
    link = AgentLink(m.port)
    aid = link.register("k")
    other = link.register("k2", hostname="other")
    fw = Framework(m.port, name="survivor")
    offers = fw.offers(2)
    mine = [o for o in offers if o["agent_id"]["value"] == aid][0]["id"]["value"]
    fw.accept([mine], [launch(command_task("t", aid))], refuse=0)
    link.run_task("t")
    link.status(aid, fw.id, "t", "TASK_RUNNING")
    fw.update("t", "TASK_RUNNING")
    link.close()
    rescinded = fw.stream.expect(typ("RESCIND"), what="RESCIND of the other agent's offer")
    assert rescinded["rescind"]["offer_id"]["value"] != mine
    s = fw.update("t", "TASK_LOST")
    assert s["reason"] == "REASON_AGENT_REMOVED" and s["source"] == "SOURCE_MASTER"
    fw.stream.expect(lambda e: e.get("type") == "FAILURE" and e["failure"]["agent_id"]["value"] == aid)
    poll(lambda: not m.state()["slaves"], WAIT, what="agents removed")
    # An unreachable agent may come back with its id (as in Mesos); one that unregistered may not.
    link2 = AgentLink(m.port)
    assert link2.register("back", hostname="other", agent_id=other) == other
    link2.send({"type": "UNREGISTER", "agent_id": {"value": other}})
    poll(lambda: not m.state()["slaves"], WAIT, what="the agent to unregister")
    link2.send({"type": "REGISTER", "link_key": "again", "agent_id": {"value": other},
                "register": {"agent_info": {"hostname": "other", "resources": AGENT_RES}}})
    ev = link2.expect(lambda e: e.get("link_key") == "again")
    assert ev["type"] == "SHUTDOWN"
    fw.close()
    link2.close()


def test_link_ping_and_dead_link(master_factory):
    m = master_factory("--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=2")
    quiet = AgentLink(m.port, auto_pong=False)
    quiet.register("k")
    ping = quiet.expect(lambda e: e.get("type") == "PING")
    assert "agent_id" not in ping
    assert quiet.stream.closed.wait(WAIT), "a link that never answers PING must be closed"
    poll(lambda: not m.state()["slaves"] or not m.state()["slaves"][0]["active"], WAIT, what="agent deactivated")
    talker = AgentLink(m.port, auto_pong=True)
    talker.register("k")
    poll(lambda: talker.pings >= 4, WAIT, what="four PINGs answered")
    assert not talker.stream.closed.is_set()
    talker.close()
    quiet.close()


def test_reregistration_reconciles_tasks(master):
    link = AgentLink(master.port)
    aid = link.register("k")
    fw = Framework(master.port, name="rereg", info={"user": "u", "name": "rereg", "failover_timeout": 3600})
    oid = fw.offers(1)[0]["id"]["value"]
    fw.accept([oid], [launch(command_task("kept", aid), command_task("forgotten", aid))], refuse=0)
    link.run_task("kept")
    link.run_task("forgotten")
    link.close()
    poll(lambda: not master.state()["slaves"][0]["active"], WAIT, what="agent inactive")
    # The agent comes back on a new link reporting "kept" and a task the master never saw.
    link2 = AgentLink(master.port)

    def task(tid):
        return {"name": tid, "task_id": {"value": tid}, "framework_id": {"value": fw.id},
                "agent_id": {"value": aid}, "state": "TASK_RUNNING",
                "resources": [scalar("cpus", 1, "*"), scalar("mem", 128, "*")]}
    got = link2.register("k-again", agent_id=aid, tasks=[task("kept"), task("adopted")],
                         frameworks=[{"user": "u", "name": "rereg", "id": {"value": fw.id}}])
    assert got == aid
    s = fw.update("forgotten", "TASK_LOST")
    assert s["source"] == "SOURCE_MASTER"

    def tasks():
        f = [x for x in master.state()["frameworks"] if x["id"] == fw.id][0]
        return sorted(t["id"] for t in f["tasks"])
    poll(lambda: tasks() == ["adopted", "kept"], WAIT, what="kept and adopted tasks")
    assert master.state()["slaves"][0]["active"]
    fw.close()
    link2.close()


def test_bad_agent_input_keeps_master_serving(master):
    link = AgentLink(master.port)
    link.send(b"{not json")
    ev = link.expect(typ("ERROR"))
    assert "AgentCall" in ev["error"]["message"]
    link.send({"type": "STATUS_UPDATE", "agent_id": {"value": "nobody"},
               "status_update": {"framework_id": {"value": "f"}, "status": {"task_id": {"value": "t"},
                                                                            "state": "TASK_RUNNING"}}})
    ev = link.expect(typ("ERROR"))
    assert ev["agent_id"]["value"] == "nobody"
    link.send({"type": "REGISTER", "link_key": "bad", "register": {"agent_info": {
        "hostname": "h", "resources": [scalar("cpus", -4)]}}})
    ev = link.expect(lambda e: e.get("link_key") == "bad")
    assert ev["type"] == "ERROR"
    link.send({"type": "REGISTER", "link_key": "noinfo"})
    assert link.expect(lambda e: e.get("link_key") == "noinfo")["type"] == "ERROR"
    aid = link.register("good")  # the link still works
    assert aid
    link.stream.send_chunk(b"xyz\n")  # a framing error closes the link
    assert link.stream.closed.wait(WAIT)
    master.assert_serving()
    poll(lambda: not master.state()["slaves"][0]["active"], WAIT, what="agent of the broken link inactive")
    status, _, _ = request(master.port, "POST", LINK, b"5\nhello", {"Content-Type": "text/plain"})
    assert status == 415
    assert request(master.port, "GET", LINK)[0] == 405
    master.assert_serving()


# --------------------------------------------------------------------------- tests: endpoints

def test_state_and_metrics_shapes(master):
    link = AgentLink(master.port)
    aid = link.register("k", hostname="shape-host")
    fw = Framework(master.port, name="shape", capabilities=["MULTI_ROLE"], roles=["eng"])
    offer = fw.offers(1)[0]
    assert offer["allocation_info"]["role"] == "eng"
    fw.accept([offer["id"]["value"]], [launch(command_task("t", aid))])
    link.run_task("t")
    st = master.state()
    for k in ["version", "build_time", "start_time", "elected_time", "id", "pid", "hostname", "activated_slaves",
              "deactivated_slaves", "leader", "leader_info", "flags", "slaves", "frameworks", "completed_frameworks",
              "orphan_tasks", "unregistered_frameworks"]:
        assert k in st, k
    assert st["pid"] == f"master@127.0.0.1:{master.port}" and st["leader"] == st["pid"]
    assert st["activated_slaves"] == 1 and st["flags"]["port"] == str(master.port)
    s = st["slaves"][0]
    for k in ["id", "pid", "hostname", "port", "resources", "used_resources", "offered_resources",
              "reserved_resources", "unreserved_resources", "attributes", "active", "version", "registered_time"]:
        assert k in s, k
    assert s["id"] == aid and s["hostname"] == "shape-host" and s["resources"]["cpus"] == 4
    assert s["used_resources"]["cpus"] == 1 and s["resources"]["ports"] == "[31000-32000]"
    f = st["frameworks"][0]
    for k in ["id", "name", "hostname", "user", "role", "roles", "webui_url", "active", "connected",
              "registered_time", "resources", "used_resources", "offered_resources", "capabilities", "tasks",
              "completed_tasks", "offers", "executors"]:
        assert k in f, k
    assert f["roles"] == ["eng"] and "MULTI_ROLE" in f["capabilities"]
    t = f["tasks"][0]
    for k in ["id", "name", "framework_id", "executor_id", "slave_id", "state", "resources", "statuses", "role"]:
        assert k in t, k
    assert t["role"] == "eng" and t["slave_id"] == aid and t["statuses"][0]["state"] == "TASK_STAGING"
    assert isinstance(t["statuses"][0]["timestamp"], float)

    m = master.metrics()
    for k in ["master/uptime_secs", "master/elected", "master/slaves_active", "master/slaves_connected",
              "master/slaves_disconnected", "master/frameworks_active", "master/frameworks_connected",
              "master/tasks_staging", "master/tasks_starting", "master/tasks_running", "master/tasks_killing",
              "master/tasks_finished", "master/tasks_failed", "master/tasks_killed", "master/tasks_lost",
              "master/tasks_error", "master/tasks_dropped", "master/cpus_total", "master/cpus_used",
              "master/cpus_percent", "master/mem_total", "master/mem_used", "master/mem_percent",
              "master/disk_total", "master/gpus_total", "master/outstanding_offers",
              "master/messages_status_update"]:
        assert isinstance(m.get(k), (int, float)), k
    assert all(isinstance(v, (int, float)) for v in m.values())
    assert m["master/elected"] == 1 and m["master/slaves_active"] == 1 and m["master/tasks_staging"] == 1
    assert m["master/cpus_total"] == 4 and m["master/cpus_used"] == 1 and m["master/cpus_percent"] == 0.25
    for path in ["/state", "/master/frameworks", "/master/slaves", "/master/flags"]:
        assert master.get(path)[0] == 200, path
    assert request(master.port, "POST", "/master/state")[0] == 405
    fw.close()
    link.close()


def test_env_flags(tmp_path):
    port = free_port()
    env = {"MEZZO_PORT": str(port), "MEZZO_IP": "127.0.0.1", "MEZZO_WORK_DIR": str(tmp_path / "w")}
    p = Process("master", [BIN / "mezzo-master"], tmp_path / "env.log", env=env).start()
    try:
        poll(lambda: http_get(port, "/health", timeout=2)[0] == 200, WAIT, what="master from MEZZO_* env")
    finally:
        assert p.stop() == 0
    assert "open file limit" in p.log()
    assert sanitizer_report(p.log()) is None


def test_flag_errors_name_the_flag(tmp_path):
    """Every daemon starts through mz_flags_main: an unknown flag, a bad log level and a stray
    argument are errors naming what was wrong (exit 2); --help prints the flags (exit 0)."""
    import subprocess
    master = [str(BIN / "mezzo-master"), f"--work_dir={tmp_path}"]
    for extra, text in [(["--no_such_flag=1"], "no_such_flag"), (["--logging_level=LOUD"], "--logging_level"),
                        (["stray"], "unexpected argument 'stray'")]:
        p = subprocess.run(master + extra, capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and text in p.stderr and p.stderr.startswith("mezzo-master: "), (extra, p.stderr)
    p = subprocess.run(master + ["--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "--logging_level" in p.stdout and "--zk_session_timeout" in p.stdout
