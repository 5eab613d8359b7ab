"""A minimal Mesos v1 scheduler HTTP API client, written only from the Mesos
document (docs/scheduler-http-api.md and docs/recordio.md), with the Python
standard library. It stands for an unchanged third-party framework: it does
what the document says a client does and nothing mezzo-specific.

- SUBSCRIBE: POST /api/v1/scheduler with Content-Type and Accept
  application/json on a connection of its own, no Mesos-Stream-Id; expects
  "200 OK" with a chunked body; keeps the Mesos-Stream-Id response header.
- The body is a RecordIO stream ("<length>\\n<JSON>"), decoded here whatever
  the chunk boundaries; a reader thread puts each event on a queue.
- Every other call goes over a different connection, carries Mesos-Stream-Id
  and the framework_id, and expects "202 Accepted".
"""
import base64
import http.client
import json
import queue
import threading
import time

API_PATH = "/api/v1/scheduler"
JSON = "application/json"


class MesosError(Exception):
    pass


class CallError(MesosError):
    def __init__(self, call_type, status, body):
        super().__init__(f"{call_type} answered {status}: {body[:500]!r}")
        self.status = status
        self.body = body


class RecordIODecoder:
    """Incremental decoder of Mesos RecordIO: feed bytes, get complete records."""

    MAX_RECORD = 64 << 20

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                if len(self.buf) > 20:
                    raise MesosError(f"RecordIO: no newline after {self.buf[:20]!r}")
                return out
            head = self.buf[:nl]
            if not head.isdigit():
                raise MesosError(f"RecordIO: bad record length {head[:40]!r}")
            n = int(head)
            if n > self.MAX_RECORD:
                raise MesosError(f"RecordIO: record of {n} bytes is too large")
            if len(self.buf) < nl + 1 + n:
                return out
            out.append(self.buf[nl + 1:nl + 1 + n])
            self.buf = self.buf[nl + 1 + n:]


class SchedulerClient:
    def __init__(self, host, port, timeout=30.0):
        self.host = host
        self.port = int(port)
        self.timeout = timeout
        self.stream_id = None
        self.framework_id = None
        self.heartbeat_interval = None
        self.events = queue.Queue()
        self.stream_error = None
        self.stream_closed = threading.Event()
        self._sub_conn = None
        self._sub_resp = None
        self._reader = None
        self._calls_conn = None
        self._lock = threading.Lock()
        self.subscribe_headers = {}

    # ---------------------------------------------------------------- subscription
    def subscribe(self, framework_info, suppressed_roles=None, timeout=30.0):
        """Sends SUBSCRIBE and waits for SUBSCRIBED; returns that event (a dict)."""
        call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}}
        if suppressed_roles is not None:
            call["subscribe"]["suppressed_roles"] = list(suppressed_roles)
        fid = framework_info.get("id")
        if fid:
            call["framework_id"] = fid
        body = json.dumps(call).encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        conn.request("POST", API_PATH, body=body, headers={
            "Content-Type": JSON, "Accept": JSON, "Connection": "keep-alive"})
        resp = conn.getresponse()
        if resp.status != 200:
            text = resp.read()
            conn.close()
            raise CallError("SUBSCRIBE", resp.status, text)
        self.subscribe_headers = {k.lower(): v for k, v in resp.getheaders()}
        self.stream_id = resp.getheader("Mesos-Stream-Id")
        if not self.stream_id:
            conn.close()
            raise MesosError("SUBSCRIBE response has no Mesos-Stream-Id header")
        if len(self.stream_id) > 128:
            raise MesosError(f"Mesos-Stream-Id longer than 128 bytes: {self.stream_id!r}")
        if conn.sock is not None:
            conn.sock.settimeout(None)  # a stream: events come when they come
        self._sub_conn, self._sub_resp = conn, resp
        self.stream_closed.clear()
        self._reader = threading.Thread(target=self._read_stream, args=(resp,), daemon=True)
        self._reader.start()
        ev = self.next_event(timeout=timeout)
        if ev.get("type") == "ERROR":
            raise MesosError(f"ERROR instead of SUBSCRIBED: {ev.get('error', {}).get('message')}")
        if ev.get("type") != "SUBSCRIBED":
            raise MesosError(f"first event is {ev.get('type')}, expected SUBSCRIBED")
        self.framework_id = ev["subscribed"]["framework_id"]
        self.heartbeat_interval = ev["subscribed"].get("heartbeat_interval_seconds")
        return ev

    def _read_stream(self, resp):
        dec = RecordIODecoder()
        try:
            while True:
                data = resp.read1(65536)
                if not data:
                    break
                for rec in dec.feed(data):
                    self.events.put(json.loads(rec))
        except Exception as e:  # noqa: BLE001 - reported through stream_error
            self.stream_error = e
        finally:
            self.stream_closed.set()

    def next_event(self, timeout=30.0, skip_heartbeats=True):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MesosError(f"no event within {timeout}s"
                                 + (f" (stream error: {self.stream_error!r})" if self.stream_error else "")
                                 + (" (stream closed)" if self.stream_closed.is_set() else ""))
            try:
                ev = self.events.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.stream_closed.is_set() and self.events.empty():
                    raise MesosError("the event stream ended"
                                     + (f": {self.stream_error!r}" if self.stream_error else ""))
                continue
            if skip_heartbeats and ev.get("type") == "HEARTBEAT":
                continue
            return ev

    def close(self):
        if self._sub_conn is not None:
            try:
                if self._sub_conn.sock is not None:
                    import socket
                    self._sub_conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sub_conn.close()
            self._sub_conn = None
        if self._calls_conn is not None:
            self._calls_conn.close()
            self._calls_conn = None
        if self._reader is not None:
            self._reader.join(timeout=5)

    # ---------------------------------------------------------------- calls
    def call(self, call, expect=(202,)):
        """POSTs a non-SUBSCRIBE call on the calls connection; returns (status, body)."""
        call = dict(call)
        call.setdefault("framework_id", self.framework_id)
        body = json.dumps(call).encode()
        headers = {"Content-Type": JSON, "Accept": JSON, "Mesos-Stream-Id": self.stream_id}
        with self._lock:
            for attempt in (0, 1):
                if self._calls_conn is None:
                    self._calls_conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                try:
                    self._calls_conn.request("POST", API_PATH, body=body, headers=headers)
                    resp = self._calls_conn.getresponse()
                    data = resp.read()
                    if resp.getheader("Connection", "").lower() == "close":
                        self._calls_conn.close()
                        self._calls_conn = None
                    break
                except (http.client.HTTPException, ConnectionError, OSError):
                    self._calls_conn.close()
                    self._calls_conn = None
                    if attempt:
                        raise
        if expect and resp.status not in expect:
            raise CallError(call.get("type"), resp.status, data)
        return resp.status, data

    def accept(self, offer_ids, operations, refuse_seconds=None):
        acc = {"offer_ids": [{"value": o} if isinstance(o, str) else o for o in offer_ids],
               "operations": operations}
        if refuse_seconds is not None:
            acc["filters"] = {"refuse_seconds": refuse_seconds}
        return self.call({"type": "ACCEPT", "accept": acc})

    def launch(self, offer_ids, task_infos, refuse_seconds=None):
        return self.accept(offer_ids, [{"type": "LAUNCH", "launch": {"task_infos": task_infos}}], refuse_seconds)

    def decline(self, offer_ids, refuse_seconds=None):
        dec = {"offer_ids": [{"value": o} if isinstance(o, str) else o for o in offer_ids]}
        if refuse_seconds is not None:
            dec["filters"] = {"refuse_seconds": refuse_seconds}
        return self.call({"type": "DECLINE", "decline": dec})

    def acknowledge(self, status):
        """ACKNOWLEDGE a TaskStatus dict (from an UPDATE event); only when it has a uuid."""
        if "uuid" not in status:
            return None
        return self.call({"type": "ACKNOWLEDGE", "acknowledge": {
            "agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}})

    def kill(self, task_id, agent_id=None):
        k = {"task_id": {"value": task_id}}
        if agent_id:
            k["agent_id"] = {"value": agent_id}
        return self.call({"type": "KILL", "kill": k})

    def reconcile(self, tasks=()):
        """tasks: [(task_id, agent_id or None)]; empty for implicit reconciliation."""
        lst = []
        for tid, aid in tasks:
            t = {"task_id": {"value": tid}}
            if aid:
                t["agent_id"] = {"value": aid}
            lst.append(t)
        return self.call({"type": "RECONCILE", "reconcile": {"tasks": lst}})

    def revive(self, roles=None):
        c = {"type": "REVIVE"}
        if roles:
            c["revive"] = {"roles": list(roles)}
        return self.call(c)

    def suppress(self, roles=None):
        c = {"type": "SUPPRESS"}
        if roles:
            c["suppress"] = {"roles": list(roles)}
        return self.call(c)

    def message(self, agent_id, executor_id, data):
        return self.call({"type": "MESSAGE", "message": {
            "agent_id": {"value": agent_id}, "executor_id": {"value": executor_id},
            "data": base64.b64encode(data).decode()}})

    def teardown(self):
        return self.call({"type": "TEARDOWN"})


# -------------------------------------------------------------------- helpers
def scalar(resources, name):
    """Sum of a scalar resource in a list of Mesos Resource dicts."""
    return sum(r.get("scalar", {}).get("value", 0.0) for r in resources
               if r.get("name") == name and r.get("type", "SCALAR") == "SCALAR")


def take_scalars(offer_resources, want):
    """Resource dicts for a task taking want = {"cpus": 0.1, "mem": 32} out of the
    offer's resources (a list that is updated in place), keeping each taken
    entry's role and allocation_info as offered. None if it does not fit."""
    avail = {}
    for r in offer_resources:
        if r.get("type", "SCALAR") == "SCALAR":
            avail[r["name"]] = avail.get(r["name"], 0.0) + r.get("scalar", {}).get("value", 0.0)
    for name, v in want.items():
        if avail.get(name, 0.0) + 1e-9 < v:
            return None
    taken = []
    for name, v in want.items():
        need = round(v, 3)
        for r in offer_resources:
            if need <= 1e-9:
                break
            if r.get("name") != name or r.get("type", "SCALAR") != "SCALAR":
                continue
            have = r.get("scalar", {}).get("value", 0.0)
            if have <= 1e-9:
                continue
            t = round(min(have, need), 3)
            piece = {k: v2 for k, v2 in r.items() if k != "scalar"}
            piece["scalar"] = {"value": t}
            taken.append(piece)
            r["scalar"] = {"value": round(have - t, 3)}
            need = round(need - t, 3)
    return taken


def pb_varint(n):
    """A protobuf varint (for tests that write protobuf messages by hand)."""
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(num, payload):
    """A length-delimited protobuf field (bytes, string or message) number num."""
    return pb_varint(num << 3 | 2) + pb_varint(len(payload)) + payload
