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
