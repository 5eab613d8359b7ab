#!/usr/bin/env python3
"""bench-failover (issue 6): how long a cluster takes to get over the loss of its
leading master. Figures, not a test: nothing here passes or fails on time.

Per point (N emulated agents), on loopback:
  1. a ZooKeeper ensemble (Debian's zookeeper package; 3 nodes, --zk_nodes;
     tickTime --zk_tick_ms, 100 ms: ZooKeeper expires a session on a tick
     boundary, so the election comes up to one tick after the session timeout),
     3 mezzo-masters with --zk and --zk_session_timeout=Z (the registry in
     ZooKeeper), and mezzo-sim with --master=zk://...: N agents (one link per
     agent up to --per_agent_max, multiplexed links of --agents_per_link beyond,
     as bench-scale does) and one framework running --tasks long tasks;
  2. once every agent is registered and every task runs, SIGKILL the leading
     master and measure, from the SIGKILL (wall clock):
       E  until another master logs "elected as the leading master";
       A  until the new leader has every agent re-registered (mezzo-sim's
          "agents_registered" event: every agent got REGISTERED from it);
       F  until the framework has re-subscribed and the new leader knows its
          tasks (mezzo-sim's "framework_reconciled": an implicit reconciliation
          answered with all of them);
     and print
       failover agents=N zk_session_timeout_s=Z elected_s=E agents_s=A framework_s=F mttr_s=S
     with S the largest; the killed master is restarted (a follower) and the
     next round waits for the cluster to settle. --rounds rounds per point.

Binaries from $MEZZO_BIN (default build/bin). Logs stay in --keep_dir if given."""
import argparse
import datetime
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(os.environ.get("MEZZO_BIN", ROOT / "build" / "bin"))
sys.path.insert(0, str(ROOT / "tests" / "system"))
os.environ.setdefault("MEZZO_BIN", str(BIN))

from zkensemble import ZooKeeper, zookeeper_available  # noqa: E402  (the tests' ensemble)
sys.path.insert(0, str(ROOT / "bench"))
from benchlib import free_port, stop, wait_for  # noqa: E402
AGENT_RESOURCES = "cpus:8;mem:16384;disk:65536"
TASK_RESOURCES = "cpus:0.1;mem:32"
EVENT = re.compile(r"^sim: event (\S+)(.*) t=([0-9.]+)$")
ELECTED = re.compile(r"^INFO (\S+) master: elected as the leading master")


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def parse_ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


class Master:
    def __init__(self, root, i, url, z, flags):
        self.root, self.i, self.url, self.z, self.flags = root, i, url, z, flags
        self.port = free_port()
        self.p = None
        self.logs = []

    def start(self):
        wd = self.root / f"master{self.i}"
        wd.mkdir(parents=True, exist_ok=True)
        path = self.root / f"master{self.i}-{len(self.logs)}.log"
        self.logs.append(path)
        self.p = subprocess.Popen([str(BIN / "mezzo-master"), "--ip=127.0.0.1", f"--port={self.port}",
                                   f"--work_dir={wd}", f"--zk={self.url}", "--quorum=2",
                                   f"--zk_session_timeout={self.z}secs", "--agent_reregister_timeout=10mins",
                                   *self.flags],
                                  stdout=open(path, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def elected_after(self, t):
        """Wall-clock time of this master's election after t, or None (its current log only)."""
        try:
            with open(self.logs[-1], errors="replace") as f:
                for line in f:
                    m = ELECTED.match(line)
                    if m and parse_ts(m.group(1)) > t:
                        return parse_ts(m.group(1))
        except FileNotFoundError:
            pass
        return None


class SimEvents:
    """Tails mezzo-sim's stderr for its "sim: event" lines."""

    def __init__(self, path):
        self.path, self.pos, self.events, self.progress = path, 0, [], ""

    def poll(self):
        with open(self.path, errors="replace") as f:
            f.seek(self.pos)
            chunk = f.read()
        last_nl = chunk.rfind("\n")
        if last_nl < 0:
            return
        self.pos += len(chunk[:last_nl + 1].encode())
        for line in chunk[:last_nl + 1].splitlines():
            m = EVENT.match(line)
            if m:
                self.events.append((m.group(1), m.group(2).strip(), float(m.group(3))))
            elif line.startswith("sim progress:"):
                self.progress = line

    def after(self, name, t):
        self.poll()
        for n, rest, ts in self.events:
            if n == name and ts > t:
                return ts, rest
        return None

    def last(self, name):
        self.poll()
        for n, rest, ts in reversed(self.events):
            if n == name:
                return ts, rest
        return None


def run_point(args, n, tmp):
    z = args.zk_session_timeout
    zk = ZooKeeper(tmp / "zk", args.zk_nodes, tick_ms=args.zk_tick_ms, heap="512m").start()
    zk.wait(120)
    url = f"zk://{zk.hosts}/mezzo"
    masters = [Master(tmp, i, url, z, args.master_flag).start() for i in range(3)]
    sim = None
    try:
        per_agent = n <= args.per_agent_max
        links = ["--agents_per_link=1"] if per_agent else [f"--agents_per_link={args.agents_per_link}"]
        tasks = min(args.tasks, n * 8)
        sim_log = tmp / "sim.log"
        sim = subprocess.Popen([str(BIN / "mezzo-sim"), f"--master={url}", f"--agents={n}", "--frameworks=1",
                                f"--agent_resources={AGENT_RESOURCES}", f"--task_resources={TASK_RESOURCES}",
                                "--task_duration=100000secs", f"--max_tasks={tasks}", f"--ramp_per_s={args.ramp_per_s}",
                                "--refuse_seconds=1secs", "--progress_interval=1secs", f"--zk_session_timeout={z}secs",
                                "--register_timeout=30secs", *links, *args.sim_flag],
                               stdout=subprocess.DEVNULL, stderr=open(sim_log, "ab"), start_new_session=True)
        ev = SimEvents(sim_log)
        procs = [(sim, "mezzo-sim")] + [(m.p, f"master{m.i}") for m in masters]
        log(f"point agents={n} ({'one link per agent' if per_agent else f'{args.agents_per_link} agents per link'}),"
            f" {tasks} task(s), zk_session_timeout={z}s, {args.zk_nodes} ZooKeeper node(s) with tickTime={args.zk_tick_ms}ms,"
            f" logs in {tmp}")

        def settled():
            ev.poll()
            return ev.last("agents_registered") and f"running_now={tasks} " in ev.progress
        for rnd in range(args.rounds):
            wait_for(settled, args.settle_timeout, f"{n} agents registered and {tasks} tasks running", 0.2, procs)
            lt = ev.last("leader")
            port = int(re.search(r"port=(\d+)", lt[1]).group(1))
            lead = [m for m in masters if m.port == port][0]
            # Every other master is up and following (a candidate to take over).
            time.sleep(args.pause)
            t0 = time.time()
            lead.p.send_signal(signal.SIGKILL)
            lead.p.wait(timeout=30)

            def measured():
                e = [m.elected_after(t0) for m in masters if m is not lead]
                e = min([x for x in e if x], default=None)
                a = ev.after("agents_registered", t0)
                f = ev.after("framework_reconciled", t0)
                return (e, a[0], f[0]) if e and a and f else None
            e, a, f = wait_for(measured, args.round_timeout, "the failover", 0.05,
                               [(sim, "mezzo-sim")] + [(m.p, f"master{m.i}") for m in masters if m is not lead])
            E, A, F = e - t0, a - t0, f - t0
            S = max(E, A, F)
            print(f"failover agents={n} zk_session_timeout_s={z:g} elected_s={E:.3f} agents_s={A:.3f} "
                  f"framework_s={F:.3f} mttr_s={S:.3f}", flush=True)
            lead.start()  # back as a follower
            procs = [(sim, "mezzo-sim")] + [(m.p, f"master{m.i}") for m in masters]
    finally:
        stop(sim, 30)
        for m in masters:
            stop(m.p)
        zk.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, action="append", help="N (repeatable; default 1000 and 10000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--zk_session_timeout", type=float, default=2.0)
    ap.add_argument("--zk_nodes", type=int, default=3)
    ap.add_argument("--zk_tick_ms", type=int, default=100,
                    help="ZooKeeper's tickTime: it expires sessions on tick boundaries, so the election overshoots "
                         "the session timeout by up to one tick (default 100)")
    ap.add_argument("--tasks", type=int, default=1000, help="long tasks of the framework (default 1000)")
    ap.add_argument("--ramp_per_s", type=float, default=5000.0)
    ap.add_argument("--per_agent_max", type=int, default=2000, help="one link per agent up to this many agents")
    ap.add_argument("--agents_per_link", type=int, default=1000)
    ap.add_argument("--pause", type=float, default=3.0,
                    help="seconds of calm before each SIGKILL (the followers' read-ahead of the registry catches up "
                         "with the registrations; default 3)")
    ap.add_argument("--settle_timeout", type=float, default=600.0)
    ap.add_argument("--round_timeout", type=float, default=300.0)
    ap.add_argument("--master_flag", action="append", default=[])
    ap.add_argument("--sim_flag", action="append", default=[])
    ap.add_argument("--keep_dir", help="keep logs under this directory")
    args = ap.parse_args()
    ok, why = zookeeper_available()
    if not ok:
        sys.exit(f"bench-failover: {why}")
    for name in ("mezzo-master", "mezzo-sim"):
        if not (BIN / name).exists():
            sys.exit(f"bench-failover: {BIN / name} not found (build first, or set MEZZO_BIN)")
    for n in args.agents or [1000, 10000]:
        if args.keep_dir:
            tmp = pathlib.Path(args.keep_dir) / f"agents-{n}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            run_point(args, n, tmp)
        else:
            with tempfile.TemporaryDirectory(prefix="mezzo-bench-failover-") as d:
                run_point(args, n, pathlib.Path(d))


if __name__ == "__main__":
    main()
