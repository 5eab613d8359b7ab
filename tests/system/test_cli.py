"""The `mezzo` command line against a real master and agent: execute runs
tasks to completion and reports their states, bad input is named, an
unreachable master is reported clearly, and state summarizes the cluster."""
import json
import os
import subprocess

from cluster import BIN, free_port, sanitizer_report

TIMEOUT = 180


def mezzo(*args, env=None, timeout=TIMEOUT):
    e = {k: v for k, v in os.environ.items() if not k.startswith("MEZZO_") or k == "MEZZO_BIN"}
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    if env:
        e.update(env)
    p = subprocess.run([str(BIN / "mezzo"), *args], capture_output=True, text=True, timeout=timeout, env=e)
    rep = sanitizer_report(p.stderr)
    assert rep is None, f"sanitizer report from mezzo {' '.join(args)}:\n{rep}"
    return p


def show(p):
    return f"exit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"


def test_execute_runs_a_task_to_finished(cluster):
    p = mezzo("execute", f"--master={cluster.master_address}", "--name=hello",
              "--command=echo hello from mezzo", "--timeout=150secs")
    assert p.returncode == 0, show(p)
    lines = p.stdout.splitlines()
    assert any(l.startswith("hello-0 TASK_FINISHED") for l in lines), show(p)
    # The framework was torn down at the end.
    state = cluster.master_state()
    assert not [f for f in state.get("frameworks", []) if f.get("name") == "hello"], state.get("frameworks")


def test_execute_several_instances_and_master_from_env(cluster):
    p = mezzo("execute", "--name=multi", "--instances=3", "--command=true", "--resources=cpus:0.1;mem:16",
              "--timeout=150secs", env={"MEZZO_MASTER": cluster.master_address})
    assert p.returncode == 0, show(p)
    finished = {l.split()[0] for l in p.stdout.splitlines() if " TASK_FINISHED" in l}
    assert finished == {"multi-0", "multi-1", "multi-2"}, show(p)


def test_execute_failing_command_exits_nonzero(cluster):
    p = mezzo("execute", f"--master={cluster.master_address}", "--name=fails", "--command=exit 3",
              "--timeout=150secs")
    assert p.returncode != 0, show(p)
    assert "fails-0 TASK_FAILED" in p.stdout, show(p)


def test_execute_timeout_exits_nonzero(cluster):
    p = mezzo("execute", f"--master={cluster.master_address}", "--name=slow", "--command=sleep 600",
              "--timeout=3secs")
    assert p.returncode != 0, show(p)
    assert "timed out" in p.stderr, show(p)


def test_execute_resources_that_never_fit_time_out(cluster):
    p = mezzo("execute", f"--master={cluster.master_address}", "--name=huge", "--command=true",
              "--resources=cpus:1000;mem:32", "--timeout=3secs")
    assert p.returncode != 0, show(p)
    assert "timed out" in p.stderr, show(p)


def test_bad_flags_are_named():
    master = "--master=127.0.0.1:5050"
    cases = [
        (("execute", master, "--command=true", "--resources=cpus:abc"), "--resources"),
        (("execute", master, "--command=true", "--resources=cpus:-1"), "--resources"),
        (("execute", master, "--command=true", "--instances=0"), "--instances"),
        (("execute", master, "--command=true", "--instances=many"), "--instances"),
        (("execute", master, "--command=true", "--timeout=soon"), "--timeout"),
        (("execute", master, "--command=true", "--bogus=1"), "--bogus"),
        (("execute", master), "--command"),
        (("execute", "--command=true"), "--master"),
        (("execute", "--master=nonsense", "--command=true"), "--master"),
        (("execute", "--master=host:99999", "--command=true"), "--master"),
        (("state", "--master=nonsense"), "--master"),
        (("state", master, "--verbose"), "--verbose"),
    ]
    for args, flag in cases:
        p = mezzo(*args, timeout=30)
        assert p.returncode != 0, f"{args}: {show(p)}"
        assert flag in p.stderr, f"{args}: expected the error to name {flag}: {show(p)}"
    p = mezzo("frobnicate", timeout=30)
    assert p.returncode != 0 and "frobnicate" in p.stderr, show(p)


def test_unreachable_master_is_reported():
    port = free_port()
    addr = f"127.0.0.1:{port}"
    p = mezzo("execute", f"--master={addr}", "--command=true", timeout=60)
    assert p.returncode != 0, show(p)
    assert f"cannot reach master at {addr}" in p.stderr, show(p)
    p = mezzo("state", f"--master={addr}", timeout=60)
    assert p.returncode != 0, show(p)
    assert f"cannot reach master at {addr}" in p.stderr, show(p)


def test_state_shows_agent_and_framework(cluster):
    p = mezzo("execute", f"--master={cluster.master_address}", "--name=visible", "--command=echo hi",
              "--timeout=150secs")
    assert p.returncode == 0, show(p)
    agent_id = cluster.agents[0].id
    assert agent_id
    s = mezzo("state", f"--master={cluster.master_address}", timeout=60)
    assert s.returncode == 0, show(s)
    assert agent_id in s.stdout, show(s)
    assert "visible" in s.stdout, show(s)
    assert "cpus" in s.stdout, show(s)

    j = mezzo("state", f"--master={cluster.master_address}", "--json", timeout=60)
    assert j.returncode == 0, show(j)
    state = json.loads(j.stdout)
    assert [a for a in state["slaves"] if a["id"] == agent_id], state["slaves"]


def test_help():
    p = mezzo("--help", timeout=30)
    assert p.returncode == 0 and "execute" in p.stdout and "state" in p.stdout, show(p)
    p = mezzo("help", "execute", timeout=30)
    assert p.returncode == 0 and "--command" in p.stdout and "--resources" in p.stdout, show(p)
    p = mezzo("execute", "--help", timeout=30)
    assert p.returncode == 0 and "--instances" in p.stdout, show(p)
    p = mezzo(timeout=30)
    assert p.returncode != 0 and "Usage" in p.stderr, show(p)


# ------------------------------------------------------------- operator commands
# agent, framework, task, role and quota, against a cluster with a running task.

def test_agent_list_and_show(cluster):
    from taskrunner import TaskRunner
    fw = TaskRunner(cluster.master_port, name="cli-agents")
    try:
        fw.launch("cli-a", "sleep 600")
        fw.wait_state("cli-a", "TASK_RUNNING")
        agent = cluster.agents[0].id
        m = f"--master={cluster.master_address}"
        p = mezzo("agent", "list", m, timeout=60)
        assert p.returncode == 0, show(p)
        lines = p.stdout.splitlines()
        assert lines[0].split()[:3] == ["ID", "HOST", "STATE"], show(p)
        row = [l for l in lines if l.startswith(agent)]
        assert row and "active" in row[0] and " 1 " in row[0] and "0.1/4" in row[0], show(p)
        j = mezzo("agent", "list", "--json", env={"MEZZO_MASTER": cluster.master_address}, timeout=60)
        assert j.returncode == 0, show(j)
        assert [a["id"] for a in json.loads(j.stdout)] == [agent]
        s = mezzo("agent", "show", agent, m, timeout=60)
        assert s.returncode == 0, show(s)
        assert "cli-a" in s.stdout and "TASK_RUNNING" in s.stdout and "cpus 4" in s.stdout, show(s)
        sj = mezzo("agent", "show", "--json", m, agent, timeout=60)
        assert sj.returncode == 0 and json.loads(sj.stdout)["tasks"][0]["id"] == "cli-a", show(sj)
        bad = mezzo("agent", "show", "no-such-agent", m, timeout=60)
        assert bad.returncode != 0 and "no-such-agent" in bad.stderr, show(bad)
    finally:
        fw.close()


def test_framework_list_show_teardown(cluster):
    from taskrunner import TaskRunner
    fw = TaskRunner(cluster.master_port, name="cli-fw", roles=["web"])
    try:
        fw.launch("cli-f", "sleep 600")
        fw.wait_state("cli-f", "TASK_RUNNING")
        m = f"--master={cluster.master_address}"
        p = mezzo("framework", "list", m, timeout=60)
        assert p.returncode == 0, show(p)
        row = [l for l in p.stdout.splitlines() if l.startswith(fw.framework_id)]
        assert row and "cli-fw" in row[0] and "web" in row[0] and "active" in row[0], show(p)
        s = mezzo("framework", "show", fw.framework_id, m, timeout=60)
        assert s.returncode == 0 and "cli-f" in s.stdout and "roles       web" in s.stdout, show(s)
        j = mezzo("framework", "show", fw.framework_id, m, "--json", timeout=60)
        assert j.returncode == 0 and json.loads(j.stdout)["name"] == "cli-fw", show(j)
        bad = mezzo("framework", "teardown", "nope", m, timeout=60)
        assert bad.returncode != 0 and "404" in bad.stderr and "nope" in bad.stderr, show(bad)
        t = mezzo("framework", "teardown", fw.framework_id, m, timeout=60)
        assert t.returncode == 0, show(t)
        a = mezzo("framework", "list", "--all", "--json", m, timeout=60)
        assert a.returncode == 0, show(a)
        assert [f for f in json.loads(a.stdout) if f["id"] == fw.framework_id], show(a)
        p = mezzo("framework", "list", m, timeout=60)
        assert fw.framework_id not in p.stdout, show(p)
    finally:
        fw.close()


def test_task_list_show_and_log(cluster):
    from taskrunner import TaskRunner
    fw = TaskRunner(cluster.master_port, name="cli-tasks")
    try:
        fw.launch("cli-t", "echo first-line; echo to-stderr >&2; sleep 600")
        fw.launch("cli-done", "echo finished-output")
        fw.wait_state("cli-t", "TASK_RUNNING")
        fw.wait_state("cli-done", "TASK_FINISHED")
        m = f"--master={cluster.master_address}"
        p = mezzo("task", "list", m, timeout=60)
        assert p.returncode == 0, show(p)
        assert "cli-t" in p.stdout and "TASK_RUNNING" in p.stdout and "cli-done" not in p.stdout, show(p)
        p = mezzo("task", "list", "--all", f"--framework={fw.framework_id}", "--json", m, timeout=60)
        assert {t["id"] for t in json.loads(p.stdout)} == {"cli-t", "cli-done"}, show(p)
        s = mezzo("task", "show", "cli-t", m, timeout=60)
        assert s.returncode == 0 and "TASK_RUNNING" in s.stdout and "TASK_STAGING" in s.stdout, show(s)
        lg = mezzo("task", "log", "cli-t", m, timeout=60)
        assert lg.returncode == 0 and lg.stdout.startswith("first-line"), show(lg)
        lg = mezzo("task", "log", "cli-t", "--file=stderr", m, timeout=60)
        assert lg.returncode == 0 and "to-stderr" in lg.stdout, show(lg)
        lg = mezzo("task", "log", "cli-done", "--follow", m, timeout=60)  # ends: the task is terminal
        assert lg.returncode == 0 and "finished-output" in lg.stdout, show(lg)
        for args, text in ((("task", "show", "nope"), "nope"), (("task", "log", "nope"), "nope"),
                           (("task", "log", "cli-t", "--file=../x"), "--file"), (("task", "frob"), "frob"),
                           (("task", "show"), "missing")):
            b = mezzo(*args, m, timeout=60)
            assert b.returncode != 0 and text in b.stderr, show(b)
    finally:
        fw.close()


def test_task_log_follow_streams_until_the_task_ends(cluster):
    from taskrunner import TaskRunner
    fw = TaskRunner(cluster.master_port, name="cli-follow")
    try:
        fw.launch("ticker", "for i in 1 2 3 4 5 6; do echo tick-$i; sleep 0.5; done")
        fw.wait_state("ticker", "TASK_RUNNING")
        p = subprocess.Popen([str(BIN / "mezzo"), "task", "log", "ticker", "--follow",
                              f"--master={cluster.master_address}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, (out, err)
        assert [l for l in out.splitlines() if l.startswith("tick-")] == [f"tick-{i}" for i in range(1, 7)], (out, err)
        assert sanitizer_report(err) is None, err
    finally:
        fw.close()


def test_role_list_and_quota(cluster):
    from taskrunner import TaskRunner
    fw = TaskRunner(cluster.master_port, name="cli-roles", roles=["analytics"])
    try:
        fw.launch("cli-r", "sleep 600")
        fw.wait_state("cli-r", "TASK_RUNNING")
        m = f"--master={cluster.master_address}"
        s = mezzo("quota", "set", "analytics", "--guarantee=cpus:1;mem:256", "--limit=cpus:2;mem:512", m, timeout=60)
        assert s.returncode == 0, show(s)
        g = mezzo("quota", "get", m, timeout=60)
        assert g.returncode == 0, show(g)
        row = [l for l in g.stdout.splitlines() if l.startswith("analytics")]
        assert row and "cpus:1" in row[0] and "cpus:2" in row[0] and "mem:512" in row[0], show(g)
        gj = mezzo("quota", "get", "analytics", "--json", m, timeout=60)
        assert json.loads(gj.stdout)[0]["guarantees"]["mem"]["value"] == 256, show(gj)
        r = mezzo("role", "list", m, timeout=60)
        assert r.returncode == 0, show(r)
        row = [l for l in r.stdout.splitlines() if l.startswith("analytics")]
        assert row and "cpus:0.1" in row[0] and "cpus:1" in row[0], show(r)
        rj = mezzo("role", "list", "--json", m, timeout=60)
        roles = {x["name"]: x for x in json.loads(rj.stdout)}
        assert roles["analytics"]["frameworks"] == [fw.framework_id], show(rj)
        # Bad input: named locally, or answered by the master with a 4xx that is printed.
        neg = mezzo("quota", "set", "analytics", "--guarantee=cpus:-1", m, timeout=60)
        assert neg.returncode != 0 and "400" in neg.stderr and "cpus" in neg.stderr, show(neg)
        bad = mezzo("quota", "set", "analytics", "--guarantee=cpus", m, timeout=60)
        assert bad.returncode != 0 and "--guarantee" in bad.stderr, show(bad)
        badrole = mezzo("quota", "set", "bad role", "--guarantee=cpus:1", m, timeout=60)
        assert badrole.returncode != 0 and "400" in badrole.stderr, show(badrole)
        clear = mezzo("quota", "set", "analytics", m, timeout=60)
        assert clear.returncode == 0, show(clear)
        assert "has no quota" in mezzo("quota", "get", "analytics", m, timeout=60).stdout
    finally:
        fw.close()


def test_operator_commands_report_usage_and_unreachable_master():
    addr = f"127.0.0.1:{free_port()}"
    for args in (("agent", "list"), ("framework", "list"), ("task", "list"), ("role", "list"), ("quota", "get")):
        p = mezzo(*args, f"--master={addr}", timeout=60)
        assert p.returncode != 0 and f"cannot reach master at {addr}" in p.stderr, show(p)
        p = mezzo(*args, timeout=60)
        assert p.returncode == 2 and "--master" in p.stderr, show(p)
        p = mezzo(*args, "--master=nonsense", timeout=60)
        assert p.returncode == 2 and "--master" in p.stderr, show(p)
        p = mezzo(*args, "--bogus", f"--master={addr}", timeout=60)
        assert p.returncode == 2 and "--bogus" in p.stderr, show(p)
        p = mezzo(args[0], "--help", timeout=30)
        assert p.returncode == 0 and "Usage: mezzo " + args[0] in p.stdout, show(p)
    for cmd in ("agent", "framework", "task", "role", "quota"):
        p = mezzo(cmd, "frobnicate", f"--master={addr}", timeout=30)
        assert p.returncode == 2 and "frobnicate" in p.stderr, show(p)
        p = mezzo(cmd, timeout=30)
        assert p.returncode == 2 and "Usage" in p.stderr, show(p)
    p = mezzo("agent", "list", "extra", f"--master={addr}", timeout=30)
    assert p.returncode == 2 and "extra" in p.stderr, show(p)
