#!/usr/bin/env python3
"""bench_scale: issue 4's benchmark driver (python3 stdlib only).

For each point it starts build/bin/mezzo-master (its own free port, work_dir in
a temporary directory) and build/bin/mezzo-sim, and prints exactly one line:

  scale agents=N frameworks=M tasks_per_s=T launch_p50_ms=A launch_p99_ms=B offer_p99_ms=C state_ms=S health_p99_ms=H master_rss_mib=D master_cpu_pct=E

Phases of a point:
  1. start the master, then mezzo-sim (N agents ramped at --ramp_per_s, M frameworks);
  2. wait until the master counts N active agents and M active frameworks
     (/metrics/snapshot: master/slaves_active, master/frameworks_active);
  3. warm-up: the frameworks fill every agent with two tasks (each task is half an
     agent: cpus:8;mem:32768 of cpus:16;mem:65536) that run --task_duration,
     chosen as 2N / --rate so that the steady state turns over --rate tasks/s
     (each task's duration is drawn uniformly from 0.5 to 1.5 times that mean,
     --duration_spread: with equal durations the first fill's 2N tasks would end,
     and be relaunched, all at once every task duration for the whole run, and the
     launch p99 would measure those bursts' queue rather than the steady state)
     (mezzo-sim caps launches at 1.2 x --rate to smooth the first fill); the
     warm-up lasts 3 task durations, so the first fill's backlog is gone before
     the measurement; --rate defaults to 12,000 so that a master able to turn
     over more than 10,000 tasks/s can show it;
  4. steady phase (--steady seconds): SIGUSR1 starts mezzo-sim's measurement
     window, SIGUSR2 at the end makes it write its report (launch and offer
     latency percentiles, tasks finished per second = T); master CPU% is
     (utime+stime) / wall over this phase, from /proc/<pid>/stat;
  5. state phase, still under load: S = the time to fetch the whole /master/state
     once (first byte out to last byte in; the chunked reply is read raw, as a
     C client would: see fetch_chunked); then /master/state is fetched in a
     loop for --state_loop seconds while /health is polled every 10 ms on its own
     connection: H = the p99 of those /health round trips; D = master VmRSS
     (/proc/<pid>/status) at the end.
Links: one connection per agent up to 15,000 agents (the 15,000 point shows the
per-connection cost), multiplexed beyond (--agents_per_link, default 1,000).

  bench/bench_scale.py                  every point: 1000, 10000, 15000, 50000, 100000 agents
  bench/bench_scale.py --agents=50000   one point  (make bench-scale AGENTS=50000)
  bench/bench_scale.py --quick          a small fast point (the test suite's smoke test)

Binaries come from --bin (default $MEZZO_BIN, else <repo>/build/bin). Details of
each point (sim summary, link mode, durations) go to stderr; stdout has only the
scale lines. Logs of each point stay in the temporary directory when a point
fails (its path is printed).
"""
import argparse
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from benchlib import BenchError, free_port, stop, wait_for  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
POINTS = [1000, 10000, 15000, 50000, 100000]
FRAMEWORKS = 10
# Two tasks fill an agent entirely. No ports: mezzo-sim's tasks take scalars only, and
# leftovers (ports alone) would be offered and declined over and over.
AGENT_RESOURCES = "cpus:16;mem:65536;disk:100000"
TASK_RESOURCES = "cpus:8;mem:32768;disk:50000"
PER_AGENT_LINKS_MAX = 15000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def get(port, path, timeout=120.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def get_json(port, path, timeout=120.0):
    status, body = get(port, path, timeout)
    if status != 200:
        raise BenchError(f"GET {path} answered {status}: {body[:300]!r}")
    return json.loads(body)


def proc_cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def proc_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise BenchError("no VmRSS")


def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))  # nearest rank
    return v[k]


def fetch_chunked(port, path, timeout=300.0):
    """GETs path and reads the chunked reply raw, into one large buffer, until its
    last (empty) chunk: (status, bytes read). http.client's chunk decoding costs
    about a second of Python CPU per 80 MB on this machine, which would measure the
    client and take that CPU from the master and sim sharing the 2 cores."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode())
        buf = bytearray(1 << 20)
        head, tail, total = b"", b"", 0
        while True:
            n = s.recv_into(buf)
            if n == 0:
                raise BenchError(f"GET {path}: connection closed after {total} bytes, before the last chunk")
            if len(head) < 64:
                head += bytes(buf[:min(n, 64 - len(head))])
            total += n
            tail = (tail + bytes(buf[max(0, n - 7):n]))[-7:]
            if not head.startswith(b"HTTP/1.1 200") and b"\r\n" in head:
                return int(head.split(b" ")[1]), total
            if tail == b"\r\n0\r\n\r\n":  # only a chunk of size 0, the last, ends so
                return 200, total


def state_phase(port, loop_s):
    """(S ms, H p99 ms, number of /master/state fetches, health samples, bytes)."""
    t0 = time.monotonic()
    status, size = fetch_chunked(port, "/master/state")
    state_ms = (time.monotonic() - t0) * 1000.0
    if status != 200:
        raise BenchError(f"/master/state answered {status}")

    health = []
    errors = []
    done = threading.Event()

    def poll_health():
        conn = None
        while not done.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                t = time.monotonic()
                conn.request("GET", "/health")
                r = conn.getresponse()
                r.read()
                health.append((time.monotonic() - t) * 1000.0)
                if r.status != 200:
                    errors.append(r.status)
            except (OSError, http.client.HTTPException) as e:
                errors.append(repr(e))
                conn = None
            time.sleep(0.01)
        if conn:
            conn.close()

    th = threading.Thread(target=poll_health, daemon=True)
    th.start()
    fetches = 0
    end = time.monotonic() + loop_s
    while time.monotonic() < end or fetches < 2:
        st, _ = fetch_chunked(port, "/master/state")
        if st != 200:
            raise BenchError(f"/master/state answered {st}")
        fetches += 1
    done.set()
    th.join(timeout=120)
    if errors:
        log(f"  /health errors: {errors[:5]} ({len(errors)} in all)")
    return state_ms, pct(health, 99), fetches, len(health), size


def run_point(args, n, per_agent, tmp_root):
    m = args.frameworks
    rate = args.rate
    duration = max(args.min_task_duration, 2.0 * n / rate)
    d = pathlib.Path(tempfile.mkdtemp(prefix=f"scale-{n}-", dir=tmp_root))
    binp = pathlib.Path(args.bin)
    port = free_port()
    master_log = open(d / "master.log", "wb")
    sim_log = open(d / "sim.log", "wb")
    report = d / "sim-report.json"
    master = sim = None
    ok = False
    try:
        master = subprocess.Popen([str(binp / "mezzo-master"), "--ip=127.0.0.1", f"--port={port}",
                                   f"--work_dir={d / 'master'}", f"--logging_level={args.master_logging_level}",
                                   *args.master_flag], stdout=master_log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: get(port, "/health", timeout=5)[0] == 200, 30, "the master", 0.1, [(master, "mezzo-master")])
        links = ["--agents_per_link=1"] if per_agent else [f"--agents_per_link={args.agents_per_link}"]
        sim_argv = [str(binp / "mezzo-sim"), f"--master=127.0.0.1:{port}", f"--agents={n}", f"--frameworks={m}",
                    f"--agent_resources={AGENT_RESOURCES}", f"--task_resources={TASK_RESOURCES}",
                    f"--task_duration={duration:.3f}secs", f"--task_duration_spread={args.duration_spread}",
                    f"--tasks_per_s={rate * 1.2:.0f}",
                    f"--ramp_per_s={args.ramp_per_s}", "--refuse_seconds=1secs", f"--report={report}",
                    "--progress_interval=10secs", *links, *args.sim_flag]
        log(f"point agents={n} frameworks={m} links={'one per agent' if per_agent else f'{args.agents_per_link} agents each'}"
            f" task_duration={duration:.2f}s (+-{args.duration_spread * 100:.0f}%) target={rate}/s dir={d}")
        t_start = time.monotonic()
        sim = subprocess.Popen(sim_argv, stdout=sim_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
        procs = [(master, "mezzo-master"), (sim, "mezzo-sim")]

        def registered():
            mt = get_json(port, "/metrics/snapshot", timeout=60)
            return mt.get("master/slaves_active", 0) >= n and mt.get("master/frameworks_active", 0) >= m

        wait_for(registered, args.register_timeout + n / args.ramp_per_s, f"{n} agents and {m} frameworks", 1.0,
                 procs)
        warmup = args.warmup or max(10.0, 3.0 * duration)
        log(f"  registered in {time.monotonic() - t_start:.1f}s; warming up {warmup:.0f}s")
        time.sleep(warmup)
        for p, name in procs:
            if p.poll() is not None:
                raise BenchError(f"{name} exited with {p.returncode} during the warm-up")

        # Steady phase.
        sim.send_signal(signal.SIGUSR1)
        c0, t0 = proc_cpu_ticks(master.pid), time.monotonic()
        time.sleep(args.steady)
        c1, t1 = proc_cpu_ticks(master.pid), time.monotonic()
        if report.exists():
            report.unlink()
        sim.send_signal(signal.SIGUSR2)
        rep = wait_for(lambda: report.exists() and json.loads(report.read_text()), 60, "the sim's report", 0.2, procs)
        cpu_pct = (c1 - c0) / CLK_TCK / (t1 - t0) * 100.0

        # State phase (the load goes on). A failed fetch is reported as -1 and fails the point.
        try:
            state_ms, health_p99, fetches, nhealth, size = state_phase(port, args.state_loop)
        except (OSError, http.client.HTTPException, BenchError) as e:
            log(f"  /master/state failed: {e!r}")
            state_ms, health_p99, fetches, nhealth, size = -1.0, -1.0, 0, 0, 0
        rss = proc_rss_mib(master.pid)
        log(f"  sim: {rep['finished_per_s']:.0f} finished/s, {rep['launched_per_s']:.0f} launched/s,"
            f" launch p50/p99/max {rep['launch_ms']['p50']:.1f}/{rep['launch_ms']['p99']:.1f}/{rep['launch_ms']['max']:.1f} ms"
            f" ({rep['launch_ms']['count']} samples), offer p50/p99 {rep['offer_ms']['p50']:.1f}/{rep['offer_ms']['p99']:.1f} ms"
            f" ({rep['offer_ms']['count']} samples), link losses {rep['totals']['link_losses']}")
        log(f"  /master/state: {size / 1048576:.1f} MiB in {state_ms:.0f} ms; {fetches} more fetches with"
            f" {nhealth} /health probes")
        for p, name in procs:
            if p.poll() is not None:
                raise BenchError(f"{name} exited with {p.returncode}")
        print(f"scale agents={n} frameworks={m} tasks_per_s={rep['finished_per_s']:.0f}"
              f" launch_p50_ms={rep['launch_ms']['p50']:.1f} launch_p99_ms={rep['launch_ms']['p99']:.1f}"
              f" offer_p99_ms={rep['offer_ms']['p99']:.1f} state_ms={state_ms:.0f} health_p99_ms={health_p99:.1f}"
              f" master_rss_mib={rss:.0f} master_cpu_pct={cpu_pct:.0f}", flush=True)
        ok = state_ms >= 0
    finally:
        stop(sim)
        stop(master)
        master_log.close()
        sim_log.close()
        if ok and not args.keep:
            shutil.rmtree(d, ignore_errors=True)
        else:
            log(f"  logs kept in {d}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, action="append", help="a point (repeatable); default: every point")
    ap.add_argument("--frameworks", type=int, default=FRAMEWORKS)
    ap.add_argument("--rate", type=float, default=12000.0,
                    help="target tasks/s of the steady state (default 12000: above the 10,000 tasks/s to show)")
    ap.add_argument("--min_task_duration", type=float, default=1.0)
    ap.add_argument("--duration_spread", type=float, default=0.5,
                    help="task durations spread uniformly over task_duration x (1 +- this) (default 0.5); "
                         "with 0 the first fill's tasks all end together every task duration")
    ap.add_argument("--ramp_per_s", type=float, default=5000.0)
    ap.add_argument("--agents_per_link", type=int, default=1000, help="multiplexed points (default 1000)")
    ap.add_argument("--per_agent_max", type=int, default=PER_AGENT_LINKS_MAX,
                    help="one connection per agent up to this many agents (default 15000)")
    ap.add_argument("--warmup", type=float, default=0.0,
                    help="seconds (default max(10, 3 x task duration): the first fill of every agent and its "
                         "backlog are over before the steady phase is measured)")
    ap.add_argument("--steady", type=float, default=20.0, help="seconds of the steady phase (default 20)")
    ap.add_argument("--state_loop", type=float, default=10.0, help="seconds of /master/state in a loop (default 10)")
    ap.add_argument("--register_timeout", type=float, default=120.0)
    ap.add_argument("--master_logging_level", default="ERROR")
    ap.add_argument("--master_flag", action="append", default=[], help="extra mezzo-master flag (repeatable)")
    ap.add_argument("--sim_flag", action="append", default=[], help="extra mezzo-sim flag (repeatable)")
    ap.add_argument("--bin", default=os.environ.get("MEZZO_BIN", str(ROOT / "build" / "bin")))
    ap.add_argument("--tmp", default=None, help="directory for the points' temporary directories")
    ap.add_argument("--keep", action="store_true", help="keep every point's logs")
    ap.add_argument("--quick", action="store_true", help="one small, fast point (smoke test)")
    args = ap.parse_args()
    if args.quick:
        args.agents = args.agents or [200]
        args.frameworks = 2
        args.rate = 400.0
        args.steady, args.state_loop, args.warmup = 4.0, 2.0, 3.0
        args.ramp_per_s = 1000.0
    points = args.agents or POINTS
    for name in ("mezzo-master", "mezzo-sim"):
        if not (pathlib.Path(args.bin) / name).is_file():
            log(f"bench_scale: missing {pathlib.Path(args.bin) / name} (run `make build`, or pass --bin)")
            return 2
    failed = 0
    for n in points:
        try:
            if not run_point(args, n, n <= args.per_agent_max, args.tmp):
                failed += 1
        except (BenchError, OSError, http.client.HTTPException, ValueError) as e:
            log(f"bench_scale: point agents={n} failed: {e}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
