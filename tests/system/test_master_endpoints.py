"""The master's endpoints that Mesos tools read, beyond /master/state:
/master/state-summary, /master/tasks (limit, offset, order, framework_id,
task_id), /master/roles, /master/redirect, /master/teardown, /metrics
(Prometheus text), the /agent/<id>/... proxy, and the web UI's files at /."""
import http.client
import json
import re

from cluster import poll
from taskrunner import TaskRunner


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    conn.close()
    return out


def get_json(port, path):
    status, _, data = request(port, "GET", path)
    assert status == 200, (path, status, data)
    return json.loads(data)


def test_state_summary_tasks_and_roles(cluster):
    port = cluster.master_port
    fw = TaskRunner(port, name="summary", roles=["web"])
    try:
        for i in range(3):
            fw.launch(f"s{i}", "sleep 600")
        for i in range(3):
            fw.wait_state(f"s{i}", "TASK_RUNNING")
        fw.launch("done", "true")
        fw.wait_state("done", "TASK_FINISHED")
        agent = cluster.agents[0].id

        def summary_ready():
            s = get_json(port, "/master/state-summary")
            f = [x for x in s["frameworks"] if x["id"] == fw.framework_id]
            return s if f and f[0]["TASK_RUNNING"] == 3 and f[0]["TASK_FINISHED"] == 1 else None

        s = poll(summary_ready, 30, what="state-summary counts")
        assert s["hostname"]
        [sl] = s["slaves"]
        assert sl["id"] == agent and sl["TASK_RUNNING"] == 3 and sl["TASK_FINISHED"] == 1
        assert sl["framework_ids"] == [fw.framework_id]
        assert sl["resources"]["cpus"] == 4 and "used_resources" in sl
        [f] = s["frameworks"]
        assert f["name"] == "summary" and f["slave_ids"] == [agent] and f["TASK_FAILED"] == 0
        assert "tasks" not in f  # a summary, not the full state

        tasks = get_json(port, "/master/tasks")["tasks"]
        assert {t["id"] for t in tasks} == {"s0", "s1", "s2", "done"}
        first = [t["statuses"][0]["timestamp"] for t in tasks]
        assert first == sorted(first, reverse=True)  # default: descending
        asc = get_json(port, "/master/tasks?order=asc")["tasks"]
        assert [t["id"] for t in asc] == [t["id"] for t in reversed(tasks)]
        page = get_json(port, "/master/tasks?order=asc&limit=2&offset=1")["tasks"]
        assert [t["id"] for t in page] == [t["id"] for t in asc[1:3]]
        assert get_json(port, "/master/tasks?limit=0")["tasks"] == []
        assert get_json(port, "/master/tasks?offset=99")["tasks"] == []
        one = get_json(port, f"/master/tasks?framework_id={fw.framework_id}&task_id=s1")["tasks"]
        assert [t["id"] for t in one] == ["s1"] and one[0]["state"] == "TASK_RUNNING"
        assert get_json(port, "/master/tasks?framework_id=nope")["tasks"] == []

        roles = {r["name"]: r for r in get_json(port, "/master/roles")["roles"]}
        web = roles["web"]
        assert web["weight"] == 1.0 and web["frameworks"] == [fw.framework_id]
        assert abs(web["allocated"]["cpus"] - 0.3) < 1e-6
        assert abs(web["resources"]["cpus"] - 0.3 - web["offered"].get("cpus", 0)) < 1e-6
        assert web["quota"]["role"] == "web" and web["quota"]["guarantee"] == {}
    finally:
        fw.close()


def test_roles_include_weights_and_quota(cluster):
    port = cluster.master_port

    def op(call):
        return request(port, "POST", "/api/v1", json.dumps(call),
                       {"Content-Type": "application/json", "Accept": "application/json"})

    assert op({"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "heavy", "weight": 3}]}})[0] == 202
    st, _, body = op({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "q", "guarantees": {"cpus": {"value": 1}}, "limits": {"cpus": {"value": 2}}}]}})
    assert st == 200, body
    roles = {r["name"]: r for r in get_json(port, "/master/roles")["roles"]}
    assert roles["heavy"]["weight"] == 3.0 and roles["heavy"]["frameworks"] == []
    assert roles["q"]["quota"]["guarantee"] == {"cpus": 1.0} and roles["q"]["quota"]["limit"] == {"cpus": 2.0}


def test_bad_task_queries_get_400(cluster):
    port = cluster.master_port
    for q in ("limit=-1", "limit=abc", "offset=x", "order=sideways", "limit=1e3", "order=" + "a" * 100,
              "framework_id=" + "f" * 400):
        status, _, body = request(port, "GET", "/master/tasks?" + q)
        assert status == 400, (q, status, body)
        assert body, q
    status, _, _ = request(port, "POST", "/master/tasks")
    assert status == 405


def test_teardown_endpoint(cluster):
    port = cluster.master_port
    fw = TaskRunner(port, name="doomed")
    try:
        fw.launch("d0", "sleep 600")
        fw.wait_state("d0", "TASK_RUNNING")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, body = request(port, "POST", "/master/teardown", "", form)
        assert status == 400 and b"frameworkId" in body
        status, _, body = request(port, "POST", "/master/teardown", "frameworkId=nope", form)
        assert status == 400 and b"nope" in body
        assert request(port, "GET", "/master/teardown")[0] == 405
        status, _, body = request(port, "POST", "/master/teardown", f"frameworkId={fw.framework_id}", form)
        assert status == 200, body
        state = cluster.wait_master(lambda s: s if any(f["id"] == fw.framework_id for f in s["completed_frameworks"])
                                    else None, what="framework completed")
        assert not [f for f in state["frameworks"] if f["id"] == fw.framework_id]
        # The framework's stream is closed by the teardown; the master reports its task killed.
        poll(lambda: [t for t in get_json(port, f"/master/tasks?framework_id={fw.framework_id}")["tasks"]
                      if t["state"] == "TASK_KILLED"], 60, what="d0 killed")
    finally:
        fw.close()


def test_redirect_points_at_this_master(cluster):
    port = cluster.master_port
    for path in ("/master/redirect", "/redirect"):
        status, headers, _ = request(port, "GET", path)
        assert status == 307
        assert re.fullmatch(rf"//[^/:]+:{port}", headers["location"]), headers


def test_prometheus_metrics_match_the_snapshot(cluster):
    port = cluster.master_port
    status, headers, body = request(port, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = body.decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.fullmatch(r"# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* gauge", line), line
            continue
        name, value = line.split(" ")
        assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name), name
        values[name] = float(value)
    snap = get_json(port, "/metrics/snapshot")
    assert set(values) == {k.replace("/", "_") for k in snap}
    assert values["master_slaves_active"] == 1 and values["master_elected"] == 1
    assert values["master_cpus_total"] == snap["master/cpus_total"] == 4


def test_agent_proxy_and_webui_assets(cluster):
    port = cluster.master_port
    agent = cluster.agents[0].id
    st = get_json(port, f"/agent/{agent}/state")
    assert st["id"] == agent
    assert request(port, "GET", "/agent/nope/state")[0] == 404
    assert request(port, "GET", f"/agent/{agent}/api/v1")[0] == 404  # only read-only endpoints pass
    assert request(port, "GET", "/agent/")[0] == 400
    status, _, body = request(port, "GET", f"/agent/{agent}/files/browse?path=/etc")
    assert status == 403, body  # the agent's confinement applies through the proxy

    status, headers, body = request(port, "GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"/static/app.js" in body
    for path, ctype in (("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")):
        status, headers, body = request(port, "GET", path)
        assert status == 200 and headers["content-type"].startswith(ctype) and len(body) > 100
    assert request(port, "GET", "/static/nope.js")[0] == 404
    assert request(port, "GET", "/static/../CMakeLists.txt")[0] == 404
    assert request(port, "POST", "/")[0] == 405
