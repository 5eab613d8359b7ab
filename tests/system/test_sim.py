"""mezzo-sim against a real master (issue 4): emulated agents and frameworks
launch and finish a fixed number of tasks, after which every resource must be
back in the master's pool; once with one link connection per agent and once
with the agents multiplexed over a few links. Also the benchmark driver's
--quick mode, as a smoke test of `make bench-scale`.

Size: the issue's 2,000 agents x 5 frameworks x 20,000 tasks (about 12 s per
mode under ASan on a 2-core machine); MEZZO_SIM_SMALL=1 runs 200 agents x 2
frameworks x 2,000 tasks instead.
Nothing here depends on timing: every wait is a poll with a generous deadline.
"""
import json
import os
import subprocess
import sys

import pytest

from cluster import BIN, ROOT, ClusterError, Process, poll, sanitizer_report

SIZES = [(200, 2, 2000)] if os.environ.get("MEZZO_SIM_SMALL") == "1" else [(2000, 5, 20000)]
SIM_DEADLINE = 600.0


def _require_sim():
    if not (BIN / "mezzo-sim").is_file():
        pytest.fail(f"missing {BIN / 'mezzo-sim'} (build first, or set MEZZO_BIN)")


def _run_sim(c, tmp_path, name, args, deadline):
    """Runs mezzo-sim to completion against cluster c; returns its report."""
    report = tmp_path / f"{name}.json"
    sim = Process(name, [BIN / "mezzo-sim", f"--master={c.master_address}", f"--report={report}",
                         "--progress_interval=5secs", *args], tmp_path / "logs" / f"{name}.log")
    sim.start()
    try:
        sim.proc.wait(timeout=deadline)
    except subprocess.TimeoutExpired:
        sim.stop(grace=10)
        raise ClusterError(f"mezzo-sim did not finish within {deadline:.0f}s:\n{sim.log_tail()}")
    log = sim.log()
    rep = sanitizer_report(log)
    assert rep is None, f"sanitizer report from mezzo-sim:\n{rep}"
    assert sim.proc.returncode == 0, f"mezzo-sim exited {sim.proc.returncode}:\n{sim.log_tail()}"
    return json.loads(report.read_text())


@pytest.mark.parametrize("agents,frameworks,tasks", SIZES)
@pytest.mark.parametrize("mode", ["link_per_agent", "multiplexed"])
def test_sim_tasks_finish_and_resources_return(cluster_factory, tmp_path, mode, agents, frameworks, tasks):
    _require_sim()
    c = cluster_factory(agents=0, master_flags=["--logging_level=WARNING"])
    links = ["--agents_per_link=1"] if mode == "link_per_agent" else [f"--links={max(1, agents // 100)}"]
    args = [f"--agents={agents}", f"--frameworks={frameworks}", f"--max_tasks={tasks}", "--exit_when_done",
            "--task_duration=200ms", "--tasks_per_offer=4", "--refuse_seconds=0.1", "--ramp_per_s=1000",
            "--agent_attributes=rack:r1;zone:a", f"--duration={int(SIM_DEADLINE) - 30}secs", *links]
    r = _run_sim(c, tmp_path, f"sim-{mode}", args, SIM_DEADLINE)

    assert r["agents_ever_registered"] == agents
    assert r["frameworks_subscribed"] == frameworks
    assert r["totals"]["launched"] == tasks
    assert r["totals"]["terminal"] == tasks
    assert r["finished"] == tasks, r
    assert r["totals"]["live_tasks_on_agents"] == 0
    assert r["launch_ms"]["count"] == tasks

    # Every resource is back in the pool: nothing used, every task finished.
    metrics = poll(lambda: (lambda m: m if m["master/cpus_used"] == 0 and m["master/mem_used"] == 0 else None)(
        c.get_json("/metrics/snapshot")), 60, what="cpus_used and mem_used back to 0")
    assert metrics["master/tasks_finished"] == tasks
    assert metrics["master/tasks_running"] == 0 and metrics["master/tasks_staging"] == 0
    state = c.master_state()
    assert len(state["slaves"]) == agents
    for s in state["slaves"]:
        assert s["used_resources"]["cpus"] == 0 and s["used_resources"]["mem"] == 0, s
        assert s["resources"]["cpus"] == 16
    for fw in state["frameworks"] + state.get("completed_frameworks", []):
        assert not fw.get("tasks"), fw["tasks"][:3]
        assert fw["used_resources"]["cpus"] == 0 and fw["used_resources"]["mem"] == 0


def test_sim_refuses_too_many_connections(tmp_path):
    _require_sim()
    p = subprocess.run([str(BIN / "mezzo-sim"), "--master=127.0.0.1:1", "--agents=50000", "--agents_per_link=1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "RLIMIT_NOFILE" in p.stderr and "--links" in p.stderr, p.stderr


def test_sim_flag_errors_name_the_flag(tmp_path):
    _require_sim()
    for bad, flag in [("--fail_rate=2", "--fail_rate"), ("--task_duration_spread=1", "--task_duration_spread"),
                      ("--task_resources=ports:[1-2]", "--task_resources"),
                      ("--links=3 --agents_per_link=2", "--links"), ("--master=nope", "--master")]:
        p = subprocess.run([str(BIN / "mezzo-sim"), *bad.split()], capture_output=True, text=True, timeout=60)
        assert p.returncode == 1, (bad, p.stderr)
        assert flag in p.stderr, (bad, p.stderr)


def test_bench_scale_quick(tmp_path):
    """`bench/bench_scale.py --quick` prints one well-formed `scale` line."""
    _require_sim()
    env = dict(os.environ, MEZZO_BIN=str(BIN))
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_scale.py"), "--quick", f"--tmp={tmp_path}"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("scale ")]
    assert len(lines) == 1, p.stdout
    fields = dict(kv.split("=", 1) for kv in lines[0].split()[1:])
    assert list(fields) == ["agents", "frameworks", "tasks_per_s", "launch_p50_ms", "launch_p99_ms", "offer_p99_ms",
                            "state_ms", "health_p99_ms", "master_rss_mib", "master_cpu_pct"]
    assert int(fields["agents"]) > 0 and float(fields["tasks_per_s"]) > 0
    assert float(fields["state_ms"]) > 0 and float(fields["master_rss_mib"]) > 0
