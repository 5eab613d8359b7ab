#!/usr/bin/env python3
"""bench_launch: how fast one real mezzo-master and mezzo-agent launch tasks
(issue 5's benchmark; figures, never pass/fail).

It measures L, the machine's own limit, with bench-spawn (posix_spawn of /bin/true,
two at a time), then starts a master and an agent from MEZZO_BIN (default
<repo>/build/bin, the optimized build) with their default isolation, and runs
bench-launch-driver (bench/bench_launch_driver.c), a framework in C on libmezzo:
it launches TASKS `true` command tasks as fast as offers allow (every offer filled;
--max-live caps the tasks in flight, as earlier runs of this benchmark did at 64),
acknowledging every update. The time runs from the first ACCEPT to the
last terminal update. It prints

  launch tasks=N seconds=S tasks_per_s=R spawn_limit_per_s=L ratio=R/L
  launch-disk sandbox_files_us=D

where D, measured before the run, is the time to make a directory and a file in
the work directory's file system (disk_probe: a run soon after a large deletion
pays for it); plus, with --profile, where the time went (from the agent's log timestamps) and the
CPU each process took. Only the Python standard library is used."""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "system"))
os.environ.setdefault("MEZZO_BIN", str(ROOT / "build" / "bin"))

from cluster import BIN, Cluster  # noqa: E402

AGENT_RES = "cpus:64;mem:65536;disk:65536;ports:[31000-32000]"


def spawn_limit(n):
    out = subprocess.run([str(BIN / "bench-spawn"), str(n)], check=True, capture_output=True, text=True).stdout
    m = re.search(r"spawns_per_s=([0-9.]+)", out)
    if not m:
        raise SystemExit(f"bench-spawn printed no rate: {out!r}")
    return float(m.group(1))


DISK_SLOW_US = 150  # a quiet disk here makes a directory and a file in 50-60 us


def disk_probe(root, n=300):
    """Microseconds to make a directory and a file in it, as the agent does for each
    sandbox, averaged over n, in root (removed with it). This machine's ext4 has no
    journal; such an ext4 skips the inodes deleted in the last minutes when it
    allocates one, so soon after a large deletion (another run's cleanup) this takes
    several times longer, and so does every launch (see the README)."""
    d = root / "disk-probe"
    d.mkdir()
    t = time.perf_counter()
    for i in range(n):
        (d / str(i)).mkdir()
        (d / str(i) / "stdout").touch()
    return (time.perf_counter() - t) / n * 1e6


def drive(port, n, max_live, timeout):
    """Runs bench-launch-driver against the master: (seconds, failure lines, its CPU seconds)."""
    before = os.times()
    proc = subprocess.run([str(BIN / "bench-launch-driver"), f"127.0.0.1:{port}", str(n), str(max_live),
                           str(int(timeout))], capture_output=True, text=True, timeout=timeout + 60)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    m = re.search(r"^driver tasks=\d+ seconds=([0-9.]+) failed=(\d+)$", proc.stdout, re.M)
    if proc.returncode != 0 or not m:
        raise SystemExit(f"bench-launch: the driver failed ({proc.returncode}): {proc.stderr.strip()}")
    failures = [ln for ln in proc.stdout.splitlines() if ln.startswith("driver-failure")]
    return float(m.group(1)), int(m.group(2)), failures, cpu


def profile(agent_log):
    """Median gaps between the agent's log lines for a task: RUN_TASK -> launched -> subscribed -> sent ->
    RUNNING -> FINISHED, from the log timestamps."""
    pat = re.compile(r"^\w+ (\S+)Z agent: (.*)$")
    marks = {"got task": "got", "launched executor": "launched", "subscribed (": "subscribed",
             "sending task": "sent", "TASK_RUNNING for task": "running", "TASK_FINISHED for task": "finished",
             "completed (": "acked"}
    per = {}
    from datetime import datetime
    for line in agent_log.splitlines():
        m = pat.match(line)
        if not m:
            continue
        ts, msg = m.groups()
        tid = re.search(r"\b(?:task|executor) (t\d+)\b", msg)
        if not tid:
            continue
        for k, name in marks.items():
            if k in msg:
                t = datetime.fromisoformat(ts).timestamp()
                per.setdefault(tid.group(1), {}).setdefault(name, t)
    order = ["got", "launched", "subscribed", "sent", "running", "finished", "acked"]
    gaps = {}
    for d in per.values():
        present = [m for m in order if m in d]  # a direct command task has no subscribed/sent
        for a, b in zip(present, present[1:]):
            gaps.setdefault(f"{a}->{b}", []).append(d[b] - d[a])
    out = []
    for k, v in gaps.items():
        v.sort()
        out.append(f"{k}_ms={1000 * v[len(v) // 2]:.1f}")
    return "launch-profile " + " ".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=5000)
    ap.add_argument("--max-live", type=int, default=0,
                    help="tasks in flight at most (default 0: no cap but the offers, as the issue words it)")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--profile", action="store_true", help="print where the time went (agent log)")
    ap.add_argument("--agent-flag", action="append", default=[], help="an extra agent flag (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    for b in ("mezzo-master", "mezzo-agent", "mezzo-executor", "bench-spawn", "bench-launch-driver"):
        if not (BIN / b).exists():
            raise SystemExit(f"bench-launch: {BIN / b} is missing (make build)")
    limit = spawn_limit(args.tasks)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="mezzo-bench-launch-"))
    disk_us = disk_probe(tmp)
    cluster = Cluster(tmp, agents=1, resources=AGENT_RES, agent_flags=["--logging_level=INFO", *args.agent_flag])
    try:
        max_live = args.max_live if args.max_live > 0 else args.tasks
        secs, nfailed, failures, driver_cpu = drive(cluster.master_port, args.tasks, max_live, args.timeout)
        rate = args.tasks / secs
        if nfailed:  # a task that failed to launch is cheap: the rate would not be a launch rate
            print(f"launch-failures count={nfailed} examples={failures}", file=sys.stderr)
            raise SystemExit(f"bench-launch: {nfailed} of {args.tasks} tasks did not finish: no figure")
        print(f"launch tasks={args.tasks} seconds={secs:.2f} tasks_per_s={rate:.1f} "
              f"spawn_limit_per_s={limit:.1f} ratio={rate / limit:.3f}", flush=True)
        print(f"launch-disk sandbox_files_us={disk_us:.0f}"
              + (f" (slow: over {DISK_SLOW_US}; a large deletion in the last minutes? this run pays for it)"
                 if disk_us > DISK_SLOW_US else ""), flush=True)
        if args.profile:
            print(profile(cluster.agents[0].process.log()))
            tck = os.sysconf("SC_CLK_TCK")

            def cpu(pid):
                f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                return int(f[11]) / tck + int(f[12]) / tck, int(f[13]) / tck + int(f[14]) / tck, \
                    int(f[11]) / tck, int(f[12]) / tck
            m_self = cpu(cluster.master.pid)[0]
            a_self, a_children, a_user, a_sys = cpu(cluster.agents[0].process.pid)
            print(f"launch-cpu master_s={m_self:.2f} agent_s={a_self:.2f} agent_user_s={a_user:.2f} "
                  f"agent_sys_s={a_sys:.2f} executors_and_tasks_s={a_children:.2f} driver_s={driver_cpu:.2f} "
                  f"wall_s={secs:.2f}")
    finally:
        cluster.stop(check=False)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"work directory kept: {tmp}", file=sys.stderr)


if __name__ == "__main__":
    main()
