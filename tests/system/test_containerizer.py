"""System tests of the agent's containerizer: isolation (cgroups or posix), killing
every process of a task, destroying what a crashed agent left, the executor's
environment, switching user, the fetcher, /monitor/statistics and /files.

They drive a real mezzo-agent and mezzo-executor through the fake master of
test_agent.py. Tests that need cgroups (v1 or v2, see cgroup_paths.py) or root
are skipped with the reason where the machine lacks them. No fixed sleeps: everything
is polled with generous deadlines. Every cgroup made is removed by the agent; the
tests check that, and kill what they started.
"""
import base64
import hashlib
import http.client
import http.server
import io
import json
import os
import pathlib
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

import pytest

from cgroup_paths import (CONTROLLERS, VERSION, WHY, container_cgroup, cfs_of, cpu_usage_ns, cpu_weight,
                          cpu_weight_of, mem_limit_of, needs_cgroups, needs_device_rules, pids_max_of, procs_of)
from test_agent import (AGENT, EXECUTOR, FRAMEWORK, TIMEOUT, Agent, FakeMaster, ack_through, registered,
                        sandbox, wait_for)

pytestmark = pytest.mark.skipif(
    not AGENT.exists() or not EXECUTOR.exists(), reason=f"{AGENT} or {EXECUTOR} not built"
)

def proc_stat(pid):
    """(state, ppid) of a process from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        return proc_stat(pid)[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.fixture
def master():
    m = FakeMaster()
    yield m
    m.close()


@pytest.fixture
def pids_to_kill():
    """Pids a test saw; killed at the end whatever happened (the test checks they are gone)."""
    pids = []
    yield pids
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def task_info(master, task_id, command, cpus=0.1, mem=32, **extra):
    task = {
        "name": f"name-{task_id}",
        "task_id": {"value": task_id},
        "agent_id": {"value": master.agent_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        ],
        "command": {"value": command, "shell": True},
    }
    for k, v in extra.items():
        if k == "command_extra":
            task["command"].update(v)
        else:
            task[k] = v
    return task


def launch(master, task):
    master.send({"type": "RUN_TASK", "run_task": {"framework": FRAMEWORK, "task": task}})


def kill(master, task_id):
    master.send({"type": "KILL_TASK", "kill_task": {"framework_id": {"value": "fw-1"},
                                                   "task_id": {"value": task_id}}})


def container_of(agent, task_id):
    def find():
        st = agent.state()
        for fw in st["frameworks"]:
            for ex in fw["executors"]:
                if ex["id"] == task_id:
                    return ex["container"]
        return None
    return wait_for(find, what=f"the container of {task_id}")


def read_pid(box, name):
    path = os.path.join(box, name)
    return int(wait_for(lambda: os.path.exists(path) and open(path).read().strip(), what=f"{name} in the sandbox"))


TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED"}


def ack_until_terminal(master, task_id, timeout=TIMEOUT, start=0):
    """Acknowledges each update of a task in turn (from the start-th call to the master on)
    until a terminal one, which is returned (acknowledged)."""
    while True:
        i, u = master.wait_call(lambda c: c.get("type") == "STATUS_UPDATE"
                                and c["status_update"]["status"]["task_id"]["value"] == task_id,
                                f"an update for {task_id}", timeout, start)
        start = i + 1
        master.ack(u)
        if u["status_update"]["status"]["state"] in TERMINAL:
            return u


def agent_log(tmp_path):
    return (tmp_path / "agent.log").read_text(errors="replace")


# --------------------------------------------------------------------------- isolation


def test_isolation_is_chosen_and_logged_with_a_reason(master, tmp_path):
    a = Agent(master, tmp_path)
    try:
        registered(master)
        log = agent_log(tmp_path)
        line = next(l for l in log.splitlines() if "isolation:" in l)
        assert "chosen because" in line
        if VERSION:
            assert "cgroups/cpu" in line and "cgroups/mem" in line and f"cgroups v{VERSION}" in line
    finally:
        assert a.stop() == 0


def test_unknown_isolator_is_a_clear_error(tmp_path):
    proc = subprocess.run([str(AGENT), "--master=127.0.0.1:1", f"--work_dir={tmp_path}",
                           "--isolation=cgroups/cpu,bogus/thing"], capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode != 0
    assert "--isolation" in proc.stderr and "bogus/thing" in proc.stderr


@needs_cgroups
def test_cgroups_limits_from_the_task_resources_and_removed_after(master, tmp_path):
    """On v1 the container has a cgroup in each hierarchy, under the agent's own; on v2 it is
    /sys/fs/cgroup/mezzo/<container>, at the top as in Mesos (the agent's own cgroup holds a
    process, so v2 would give no controller below it)."""
    a = Agent(master, tmp_path, extra=["--cgroups_limit_pids=500"])
    try:
        registered(master)
        line = next(l for l in agent_log(tmp_path).splitlines() if "isolation:" in l)
        assert f"cgroups v{VERSION}" in line and "cgroups/cpu" in line and "cgroups/mem" in line, line
        launch(master, task_info(master, "limits-1", "sleep 100", cpus=0.5, mem=64))
        ack_through(master, "limits-1", ["TASK_STARTING", "TASK_RUNNING"])
        cid = container_of(a, "limits-1")
        # Mesos's command executor overhead (0.1 cpus, 32 MB) is added to the task's.
        assert cpu_weight_of(cid) == cpu_weight(0.6)
        assert mem_limit_of(cid) == (64 + 32) << 20
        mem = container_cgroup("memory", cid)
        if (mem / "memory.memsw.limit_in_bytes").exists():  # v1, no swap beyond the limit
            assert int((mem / "memory.memsw.limit_in_bytes").read_text()) == (64 + 32) << 20
        if (mem / "memory.swap.max").exists():  # v2, no swap
            assert (mem / "memory.swap.max").read_text().strip() == "0"
        assert pids_max_of(cid) == 500
        # The executor (which joins them itself, first thing) and its command, in every hierarchy.
        for ctrl in CONTROLLERS:
            assert len(procs_of(ctrl, cid)) >= 2, (ctrl, procs_of(ctrl, cid))
        kill(master, "limits-1")
        ack_through(master, "limits-1", ["TASK_KILLING", "TASK_KILLED"])
        for ctrl in CONTROLLERS:
            d = container_cgroup(ctrl, cid)
            wait_for(lambda: not d.exists(), what=f"{d} to be removed")
    finally:
        assert a.stop() == 0


@needs_cgroups
def test_cfs_quota_with_cgroups_enable_cfs(master, tmp_path):
    a = Agent(master, tmp_path, extra=["--cgroups_enable_cfs"])
    try:
        registered(master)
        launch(master, task_info(master, "cfs-1", "sleep 100", cpus=1.0, mem=64))
        ack_through(master, "cfs-1", ["TASK_STARTING", "TASK_RUNNING"])
        assert cfs_of(container_of(a, "cfs-1")) == (110000, 100000)
        kill(master, "cfs-1")
        ack_through(master, "cfs-1", ["TASK_KILLING", "TASK_KILLED"])
    finally:
        assert a.stop() == 0


@needs_cgroups
def test_cpu_shares_split_one_core_one_to_three(master, tmp_path):
    """Two cpu-bound tasks pinned to the same core, with cpus 0.25 and 0.75: their cpu
    weights (cpu.shares on v1, cpu.weight on v2; each task's plus the command executor's
    0.1) split that core about 0.35:0.85."""
    if not shutil.which("taskset"):
        pytest.skip("taskset is not installed")
    core = min(os.sched_getaffinity(0))
    a = Agent(master, tmp_path)
    try:
        registered(master)
        spin = f"exec taskset -c {core} sh -c 'while :; do :; done'"
        launch(master, task_info(master, "small", spin, cpus=0.25, mem=32))
        launch(master, task_info(master, "large", spin, cpus=0.75, mem=32))
        ack_through(master, "small", ["TASK_STARTING", "TASK_RUNNING"])
        ack_through(master, "large", ["TASK_STARTING", "TASK_RUNNING"])
        cids = {t: container_of(a, t) for t in ("small", "large")}
        assert cpu_weight_of(cids["small"]) == cpu_weight(0.35)
        assert cpu_weight_of(cids["large"]) == cpu_weight(0.85)
        # Measure from when both spin (each has used some cpu) until 4 cpu-seconds went to them.
        wait_for(lambda: all(cpu_usage_ns(c) > 50_000_000 for c in cids.values()), what="both tasks to spin")
        base = {t: cpu_usage_ns(c) for t, c in cids.items()}
        used = {}

        def enough():
            used.update({t: cpu_usage_ns(c) - base[t] for t, c in cids.items()})
            return sum(used.values()) >= 4_000_000_000
        wait_for(enough, timeout=120, what="4 cpu-seconds of the two tasks")
        ratio = used["large"] / max(used["small"], 1)
        print(f"cpu shares 0.35:0.85 -> cpu time {used['small'] / 1e9:.2f}s : {used['large'] / 1e9:.2f}s "
              f"(ratio {ratio:.2f}, expected about {0.85 / 0.35:.2f})")
        assert 2.0 <= ratio <= 4.5, f"cpu time ratio {ratio:.2f} (small {used['small']}, large {used['large']})"
        for t in ("small", "large"):
            kill(master, t)
            ack_until_terminal(master, t)
    finally:
        assert a.stop() == 0


HOG = ("python3 -c \"import time\nchunks = []\nfor i in range(200):\n"
       "    chunks.append(b'x' * (4 << 20))\n    time.sleep(0.01)\ntime.sleep(100)\"")


@needs_cgroups
def test_memory_hog_is_killed_with_the_memory_limitation_reason(master, tmp_path):
    a = Agent(master, tmp_path)
    try:
        registered(master)
        launch(master, task_info(master, "hog-1", HOG, mem=64))
        st = ack_until_terminal(master, "hog-1")["status_update"]["status"]
        assert st["state"] == "TASK_FAILED", st
        assert st["reason"] == "REASON_CONTAINER_LIMITATION_MEMORY", st
        assert "Memory limit exceeded" in st["message"]
        cid = container_of_completed(a, "hog-1")
        d = container_cgroup("memory", cid)
        wait_for(lambda: not d.exists(), what="the hog's memory cgroup to be removed")
        # A hog that is the task's child: the task's shell lives on after the kill, and the
        # agent destroys the container on the OOM (v1: its event fd, signalled before the
        # kill is counted; v2: memory.events).
        launch(master, task_info(master, "hog-child", HOG + "; exec sleep 1000", mem=64))
        st = ack_until_terminal(master, "hog-child")["status_update"]["status"]
        assert st["state"] == "TASK_FAILED", st
        assert st["reason"] == "REASON_CONTAINER_LIMITATION_MEMORY", st
    finally:
        assert a.stop() == 0


needs_cgroups_v1 = pytest.mark.skipif(VERSION != 1, reason=WHY or "cgroups v2: the agent makes new cgroups for "
                                      "every container (v2 cannot rename a cgroup nor reset cpu.stat)")


def free_sets(pid):
    """The cgroup sets an agent (pid) keeps for reuse: {controller: {name: inode}}."""
    out = {}
    for ctrl in CONTROLLERS:
        base = container_cgroup(ctrl, "x").parent
        names = os.listdir(base) if base.exists() else []
        out[ctrl] = {n: os.stat(base / n).st_ino for n in names if n.startswith(f".free-{pid}-")}
    return out


def skip_unless_alone(agent, tmp_path):
    """Waits for the agent's recovery; skips the test when another agent on this machine
    (a `make run` beside the tests) uses the same cgroups root: the agent then sweeps
    nothing it did not record, by design (cgroups_lock.h)."""
    wait_for(lambda: answers(agent), what="the agent to serve /state (recovery is over)")
    if "another agent uses these cgroups too" in agent_log(tmp_path):
        pytest.skip("another mezzo-agent on this machine uses the same cgroups root")


def answers(agent):
    try:
        agent.state()
        return True
    except OSError:
        return False


def inodes(cid):
    return {ctrl: os.stat(container_cgroup(ctrl, cid)).st_ino for ctrl in CONTROLLERS}


@needs_cgroups_v1
def test_v1_cgroups_are_reused_with_their_limits_and_counters_written_anew(master, tmp_path):
    """A container that ends clean leaves its cgroups (renamed .free-<agent pid>-<n>) for the
    next one, which gets its own limits (lower, then higher than the last: memsw follows),
    counters starting from zero and the OOM event fd the set keeps registered. Cgroups in
    which the kernel counted an OOM kill are removed; the agent removes the sets it keeps
    when it stops."""
    a = Agent(master, tmp_path, extra=["--logging_level=DEBUG"])  # says why cgroups are not kept
    try:
        registered(master)
        pid = a.proc.pid
        # r1 spins until the test has seen it use a second of cpu.
        launch(master, task_info(master, "r1", "while [ ! -e done ]; do :; done", cpus=0.5, mem=256))
        ack_through(master, "r1", ["TASK_STARTING", "TASK_RUNNING"])
        c1 = container_of(a, "r1")
        ino1 = inodes(c1)
        wait_for(lambda: cpu_usage_ns(c1) > 1_000_000_000, what="r1 to use a second of cpu")
        (pathlib.Path(sandbox(a, master, "r1")) / "done").touch()
        assert ack_until_terminal(master, "r1")["status_update"]["status"]["state"] == "TASK_FINISHED"
        wait_for(lambda: all(not container_cgroup(c, c1).exists() for c in CONTROLLERS), what="r1's cgroups to go")
        kept = free_sets(pid)
        assert all(sorted(kept[c].values()) == [ino1[c]] for c in CONTROLLERS), (kept, ino1)

        # r2 and r3 end by themselves: a killed task's cgroups may still count a process
        # the agent has not reaped yet, and are then removed rather than kept.
        for task, cpus, mem in (("r2", 1.0, 64), ("r3", 0.2, 1024)):
            launch(master, task_info(master, task, "until [ -e done ]; do sleep 0.05; done", cpus=cpus, mem=mem))
            ack_through(master, task, ["TASK_STARTING", "TASK_RUNNING"])
            cid = container_of(a, task)
            assert inodes(cid) == ino1, f"{task} did not get r1's cgroups"
            assert all(not free_sets(pid)[c] for c in CONTROLLERS)
            assert cpu_weight_of(cid) == cpu_weight(cpus + 0.1)
            assert mem_limit_of(cid) == (mem + 32) << 20
            memcg = container_cgroup("memory", cid)
            if (memcg / "memory.memsw.limit_in_bytes").exists():
                assert int((memcg / "memory.memsw.limit_in_bytes").read_text()) == (mem + 32) << 20
            # Counted from this container's start: not r1's second of cpu.
            assert cpu_usage_ns(cid) < 500_000_000, cpu_usage_ns(cid)
            stats = {s["executor_id"]: s["statistics"] for s in get(a, "/monitor/statistics")[1]}
            assert stats[task]["cpus_user_time_secs"] + stats[task]["cpus_system_time_secs"] < 0.5, stats[task]
            assert int((memcg / "memory.max_usage_in_bytes").read_text()) < 64 << 20
            (pathlib.Path(sandbox(a, master, task)) / "done").touch()
            assert ack_until_terminal(master, task)["status_update"]["status"]["state"] == "TASK_FINISHED"
            wait_for(lambda: all(free_sets(pid)[c] for c in CONTROLLERS), what=f"{task}'s cgroups to be kept")

        # The hog takes the kept set and runs out of memory. It is the task's child and its
        # shell lives on: only the OOM event fd that the set kept registered from r1's start
        # tells the agent. The set is removed when the kernel counted its kill in it, and
        # kept when the agent's kill came first (the kernel signals the OOM before it
        # kills): a kept set never shows a kill, which the next container would inherit.
        launch(master, task_info(master, "hog-2", HOG + "; exec sleep 1000", mem=64))
        st = ack_until_terminal(master, "hog-2")["status_update"]["status"]
        assert st["reason"] == "REASON_CONTAINER_LIMITATION_MEMORY", st
        hog = container_of_completed(a, "hog-2")
        wait_for(lambda: not container_cgroup("memory", hog).exists(), what="the hog's cgroups to go")
        memory_base = container_cgroup("memory", "x").parent
        for name in free_sets(pid)["memory"]:
            oom = (memory_base / name / "memory.oom_control").read_text()
            assert "oom_kill 0" in oom and "under_oom 0" in oom, (name, oom)

        launch(master, task_info(master, "r4", "true"))
        assert ack_until_terminal(master, "r4")["status_update"]["status"]["state"] == "TASK_FINISHED"
        wait_for(lambda: all(free_sets(pid)[c] for c in CONTROLLERS), what="r4's cgroups to be kept")
    finally:
        assert a.stop() == 0
    assert all(not free_sets(pid)[c] for c in CONTROLLERS), free_sets(pid)


@needs_cgroups_v1
def test_v1_cgroups_kept_by_a_crashed_agent_are_removed_at_start(master, tmp_path):
    a = Agent(master, tmp_path, extra=["--logging_level=DEBUG"])
    b = None
    try:
        registered(master)
        launch(master, task_info(master, "k1", "true"))
        st = ack_until_terminal(master, "k1")["status_update"]["status"]
        assert st["state"] == "TASK_FINISHED", st
        wait_for(lambda: all(free_sets(a.proc.pid)[c] for c in CONTROLLERS), what="k1's cgroups to be kept")
        a.proc.kill()  # SIGKILL: nothing is cleaned up
        a.proc.wait()
        a.log.close()
        kept = free_sets(a.proc.pid)
        assert all(kept[c] for c in CONTROLLERS), (kept, agent_log(tmp_path)[-3000:])
        b = Agent(master, tmp_path)
        wait_for(lambda: all(not free_sets(a.proc.pid)[c] for c in CONTROLLERS),
                 what="the new agent to remove the cgroups the crashed one kept")
        wait_for(lambda: answers(b), what="the new agent to serve /state")  # then SIGTERM stops it
    finally:
        if b:
            assert b.stop() == 0
        elif a.proc.poll() is None:
            a.stop()


@needs_cgroups_v1
def test_v1_free_sets_whose_pid_lives_on_are_removed_by_an_agent_alone(master, tmp_path):
    # A crashed agent's pid may be another process's by the time an agent starts: its
    # free sets look like a live agent's. An agent that holds the cgroups root alone
    # (no other agent beside it) removes them all the same. Pid 1 stands for it.
    made = []
    try:
        for ctrl in CONTROLLERS:
            d = container_cgroup(ctrl, "x").parent / ".free-1-0"
            d.mkdir(parents=True)
            made.append(d)
        a = Agent(master, tmp_path)
        try:
            skip_unless_alone(a, tmp_path)
            left = [str(d) for d in made if d.exists()]
            assert not left, left
        finally:
            assert a.stop() == 0
    finally:
        for d in made:
            if d.exists():
                d.rmdir()


# Run by a task: opens each device node given and prints "<name>=open" or the errno's name.
OPEN_PROBE = """import errno, os, sys
for p in sys.argv[1:]:
    try:
        os.close(os.open(p, os.O_RDONLY | os.O_NONBLOCK))
        r = "open"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    print(os.path.basename(p) + "=" + r, flush=True)
"""


def device_probe(directory, nodes):
    """Makes the device nodes {name: (type 'c' or 'b', major, minor)} in directory and
    the probe script; returns the shell command that probes them all from a task."""
    directory.mkdir(exist_ok=True)
    paths = []
    for name, (kind, major, minor) in nodes.items():
        path = directory / name
        os.mknod(path, 0o666 | (stat.S_IFCHR if kind == "c" else stat.S_IFBLK), os.makedev(major, minor))
        paths.append(str(path))
    probe = directory / "probe.py"
    probe.write_text(OPEN_PROBE)
    return f"{sys.executable} {probe} {' '.join(paths)}"


def probed(stdout_text, names):
    """{node name: "open" or errno name} from the probe's output (None until complete)."""
    res = dict(ln.split("=", 1) for ln in stdout_text.splitlines() if ln.split("=", 1)[0] in names)
    return res if len(res) == len(names) else None


@needs_device_rules
def test_devices_isolator_allows_only_the_default_whitelist(master, tmp_path):
    """--isolation with cgroups/devices: a task opens the whitelisted nodes (null,
    zero, urandom) and gets EPERM for any other device (/dev/mem's numbers, a GPU's,
    a block device), whoever made the node: v1 writes the container's devices cgroup,
    v2 attaches a BPF device program to it."""
    nodes = {"null": ("c", 1, 3), "zero": ("c", 1, 5), "urandom": ("c", 1, 9), "mem": ("c", 1, 1),
             "nvidia0": ("c", 195, 0), "loop0": ("b", 7, 0)}
    cmd = device_probe(tmp_path / "dev", nodes)
    a = Agent(master, tmp_path, extra=["--isolation=cgroups/cpu,cgroups/mem,cgroups/devices"])
    try:
        registered(master)
        assert "cgroups/devices" in next(l for l in agent_log(tmp_path).splitlines() if "isolation:" in l)
        launch(master, task_info(master, "dev-1", cmd))
        st = ack_until_terminal(master, "dev-1")["status_update"]["status"]
        assert st["state"] == "TASK_FINISHED", st
        out = open(os.path.join(sandbox(a, master, "dev-1"), "stdout")).read()
        assert probed(out, set(nodes)) == {"null": "open", "zero": "open", "urandom": "open", "mem": "EPERM",
                                           "nvidia0": "EPERM", "loop0": "EPERM"}, out
    finally:
        assert a.stop() == 0


def container_of_completed(agent, task_id):
    def find():
        st = agent.state()
        for fw in st["frameworks"] + st["completed_frameworks"]:
            for ex in fw["executors"] + fw["completed_executors"]:
                if ex["id"] == task_id:
                    return ex["container"]
        return None
    return wait_for(find, what=f"the container of {task_id}")


def test_posix_mem_kills_a_task_over_its_memory(master, tmp_path):
    a = Agent(master, tmp_path, extra=["--isolation=posix/cpu,posix/mem"])
    try:
        registered(master)
        launch(master, task_info(master, "phog-1", HOG, mem=64))
        st = ack_until_terminal(master, "phog-1")["status_update"]["status"]
        assert st["state"] == "TASK_FAILED", st
        assert st["reason"] == "REASON_CONTAINER_LIMITATION_MEMORY", st
        assert "Memory limit exceeded" in st["message"]
    finally:
        assert a.stop() == 0


def with_disk(task, mb):
    task["resources"].append({"name": "disk", "type": "SCALAR", "scalar": {"value": mb}})
    return task


def test_disk_du_measures_sandboxes_and_enforces_their_quota(master, tmp_path):
    """Mesos's disk/du isolator: /monitor/statistics shows each running container's
    disk_used_bytes and disk_limit_bytes (its disk resources), and with
    --enforce_container_disk_quota a container that outgrows them is destroyed, its
    task failed with REASON_CONTAINER_LIMITATION_DISK."""
    a = Agent(master, tmp_path, extra=["--isolation=posix/cpu,posix/mem,disk/du",
                                       "--container_disk_watch_interval=200ms", "--enforce_container_disk_quota"])
    try:
        registered(master)
        assert "disk/du" in next(l for l in agent_log(tmp_path).splitlines() if "isolation:" in l)
        flags = a.state()["flags"]
        assert flags["enforce_container_disk_quota"] == "true" and flags["container_disk_watch_interval"] == "0.2secs"
        launch(master, with_disk(task_info(master, "du-ok", "head -c 300000 /dev/zero > f; exec sleep 600"), 2))
        ack_through(master, "du-ok", ["TASK_STARTING", "TASK_RUNNING"])

        def stats():
            entries = {s["executor_id"]: s["statistics"] for s in get(a, "/monitor/statistics")[1]}
            s = entries.get("du-ok", {})
            return s if s.get("disk_used_bytes", 0) >= 300000 else None
        s = wait_for(stats, what="du-ok's disk use in /monitor/statistics")
        assert s["disk_limit_bytes"] == 2 << 20 and s["disk_used_bytes"] < 2 << 20, s
        start = len(master.calls)
        launch(master, with_disk(task_info(master, "du-big", "head -c 3000000 /dev/zero > f; exec sleep 600"), 1))
        st = ack_until_terminal(master, "du-big", start=start)["status_update"]["status"]
        assert st["state"] == "TASK_FAILED" and st["reason"] == "REASON_CONTAINER_LIMITATION_DISK", st
        assert re.fullmatch(r"Disk usage \(\d+B\) exceeds quota \(1048576B\)", st["message"]), st
        # The one within its quota runs on.
        assert "du-ok" in {s["executor_id"] for s in get(a, "/monitor/statistics")[1]}
        kill(master, "du-ok")
        ack_through(master, "du-ok", ["TASK_KILLING", "TASK_KILLED"])
    finally:
        assert a.stop() == 0


def test_disk_watch_interval_must_be_positive(tmp_path):
    proc = subprocess.run([str(AGENT), "--master=127.0.0.1:1", f"--work_dir={tmp_path}",
                           "--container_disk_watch_interval=0secs"], capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2 and "--container_disk_watch_interval: must be positive" in proc.stderr, proc.stderr


# --------------------------------------------------------------------------- every process dies with its task


@pytest.mark.parametrize("isolation", ["default", "posix"])
def test_double_forked_grandchild_dies_with_its_task(master, tmp_path, pids_to_kill, isolation):
    if isolation == "default" and not VERSION:
        pytest.skip(WHY)
    extra = ["--isolation=posix/cpu,posix/mem"] if isolation == "posix" else []
    # With cgroups even a grandchild in a session of its own is found; the posix
    # launcher finds those that stay in the container's session.
    escape = "setsid " if isolation == "default" else ""
    cmd = f"( {escape}sh -c 'echo $$ > grandchild; exec sleep 1000' > /dev/null 2>&1 & ) ; exec sleep 1000"
    a = Agent(master, tmp_path, extra=extra)
    try:
        registered(master)
        launch(master, task_info(master, "fork-1", cmd, kill_policy={"grace_period": {"nanoseconds": 500000000}}))
        ack_through(master, "fork-1", ["TASK_STARTING", "TASK_RUNNING"])
        gc = read_pid(sandbox(a, master, "fork-1"), "grandchild")
        pids_to_kill.append(gc)
        assert alive(gc)
        kill(master, "fork-1")
        ack_through(master, "fork-1", ["TASK_KILLING", "TASK_KILLED"])
        wait_for(lambda: not alive(gc), what="the grandchild to die with its task")
    finally:
        assert a.stop() == 0


@needs_cgroups
@pytest.mark.parametrize("work_dir", ["kept", "removed"])
def test_containers_of_a_crashed_agent_are_destroyed_at_start(master, tmp_path, pids_to_kill, work_dir):
    # With its work_dir kept the new agent finds the container in its journal; with it
    # removed, by its cgroups, as Mesos's launcher finds orphans under its cgroups root.
    cmd = "( setsid sh -c 'echo $$ > grandchild; exec sleep 1000' > /dev/null 2>&1 & ) ; exec sleep 1000"
    a = Agent(master, tmp_path)
    b = None
    try:
        registered(master)
        launch(master, task_info(master, "orphan-1", cmd))
        ack_through(master, "orphan-1", ["TASK_STARTING", "TASK_RUNNING"])
        cid = container_of(a, "orphan-1")
        gc = read_pid(sandbox(a, master, "orphan-1"), "grandchild")
        pids_to_kill.append(gc)
        a.proc.kill()  # SIGKILL: nothing is cleaned up
        a.proc.wait()
        a.log.close()
        if work_dir == "removed":
            shutil.rmtree(a.work_dir)  # the journal goes with it
        # The executor goes away with its agent connection; the grandchild has its own session.
        assert alive(gc)
        assert container_cgroup("freezer" if VERSION == 1 else "unified", cid).exists()
        b = Agent(master, tmp_path)  # the same work_dir path (made anew when removed)
        if work_dir == "removed":
            skip_unless_alone(b, tmp_path)
        wait_for(lambda: not alive(gc), what="the orphan's grandchild to be killed by the new agent")
        for ctrl in CONTROLLERS:
            d = container_cgroup(ctrl, cid)
            wait_for(lambda: not d.exists(), what=f"{d} to be removed")
        log = agent_log(tmp_path)
        expected = "left by an earlier run" if work_dir == "kept" else f"destroying container {cid}: its cgroups were left"
        assert expected in log, log[-3000:]
    finally:
        if b:
            assert b.stop() == 0
        elif a.proc.poll() is None:
            a.stop()


@needs_cgroups
def test_an_agent_leaves_alone_the_containers_of_another_agent_beside_it(master, tmp_path, pids_to_kill):
    a = Agent(master, tmp_path)
    other = FakeMaster()
    b_dir = tmp_path / "b"
    b_dir.mkdir()
    b = None
    try:
        registered(master)
        launch(master, task_info(master, "beside-1", "echo $$ > pid; exec sleep 1000"))
        ack_through(master, "beside-1", ["TASK_STARTING", "TASK_RUNNING"])
        cid = container_of(a, "beside-1")
        pid = read_pid(sandbox(a, master, "beside-1"), "pid")
        pids_to_kill.append(pid)
        b = Agent(other, b_dir)  # another work_dir, the same cgroups root
        wait_for(lambda: answers(b), what="the second agent to serve /state (recovery is over)")
        b_log = (b_dir / "agent.log").read_text(errors="replace")
        assert "another agent uses these cgroups too" in b_log, b_log[-3000:]
        assert alive(pid)
        for ctrl in CONTROLLERS:
            assert container_cgroup(ctrl, cid).exists()
        assert b.stop() == 0
        b = None
        assert alive(pid)
        kill(master, "beside-1")
        ack_through(master, "beside-1", ["TASK_KILLING", "TASK_KILLED"])
    finally:
        if b:
            b.stop()
        assert a.stop() == 0
        other.close()


# --------------------------------------------------------------------------- the executor fork server


def executor_pid(tmp_path, container):
    """The pid the agent logged for a container's first process (its executor)."""
    pat = re.compile(rf"container {re.escape(container)}: launched \S+ as pid (\d+)")
    return int(wait_for(lambda: (pat.search(agent_log(tmp_path)) or [None, None])[1],
                        what=f"the launch of container {container} in the agent's log"))


def test_executors_are_forks_of_the_fork_server_and_children_of_the_agent(master, tmp_path):
    # Command tasks with a command executor (test_direct_command.py has those without).
    a = Agent(master, tmp_path, extra=["--direct_command_tasks=false", "--executor_fork_servers=1"])
    try:
        registered(master)
        m = wait_for(lambda: re.search(r"executors start as forks of (\S+) --fork-server \(1 server, pid (\d+)\)",
                                       agent_log(tmp_path)), what="the fork server in the agent's log")
        assert m.group(1) == str(EXECUTOR)
        server = int(m.group(2))
        launch(master, task_info(master, "forked-1", "echo MESOS_SANDBOX=$MESOS_SANDBOX; exec sleep 1000"))
        ack_through(master, "forked-1", ["TASK_STARTING", "TASK_RUNNING"])
        box = sandbox(a, master, "forked-1")
        pid = executor_pid(tmp_path, container_of(a, "forked-1"))
        # The agent's child (it reaps it), not the server's; in the sandbox; showing its own argv.
        assert proc_stat(pid)[1] == a.proc.pid
        assert os.readlink(f"/proc/{pid}/cwd") == os.path.realpath(box)
        assert open(f"/proc/{pid}/cmdline", "rb").read().rstrip(b"\0").split(b"\0") == [str(EXECUTOR).encode()]
        assert proc_stat(server)[1] == a.proc.pid and alive(server)
        # The server's environment (what /proc shows for each executor it forks) is the agent's
        # without the agent's own MEZZO_* settings, as an exec'd executor's starts.
        agent_env = open(f"/proc/{a.proc.pid}/environ", "rb").read().split(b"\0")
        inherited = [e for e in agent_env if e and (not e.startswith(b"MEZZO_") or e.startswith(b"MEZZO_EXECUTOR_"))]
        assert [e for e in open(f"/proc/{server}/environ", "rb").read().split(b"\0") if e] == inherited
        if VERSION:  # in the container's cgroups, like its task
            cid = container_of(a, "forked-1")
            for ctl in CONTROLLERS:
                assert str(pid) in procs_of(ctl, cid), (ctl, pid)
        wait_for(lambda: f"MESOS_SANDBOX={box}" in open(os.path.join(box, "stdout")).read(),
                 what="the task's environment in its stdout")
        kill(master, "forked-1")
        ack_through(master, "forked-1", ["TASK_KILLING", "TASK_KILLED"])
        # Without the server (killed), executors are exec'd again, and tasks still run.
        os.kill(server, signal.SIGKILL)
        launch(master, task_info(master, "exec-1", "true"))
        assert ack_until_terminal(master, "exec-1")["status_update"]["status"]["state"] == "TASK_FINISHED"
        assert f"executor fork server (pid {server})" in agent_log(tmp_path)
        wait_for(lambda: not alive(server), what="the killed fork server to be reaped")
    finally:
        assert a.stop() == 0


def test_executors_are_execd_without_the_fork_server(master, tmp_path):
    a = Agent(master, tmp_path, extra=["--executor_fork_server=false"])
    try:
        registered(master)
        launch(master, task_info(master, "plain-1", "exec sleep 1000"))
        ack_through(master, "plain-1", ["TASK_STARTING", "TASK_RUNNING"])
        pid = executor_pid(tmp_path, container_of(a, "plain-1"))
        assert proc_stat(pid)[1] == a.proc.pid
        assert "fork server" not in agent_log(tmp_path)
        kill(master, "plain-1")
        ack_through(master, "plain-1", ["TASK_KILLING", "TASK_KILLED"])
    finally:
        assert a.stop() == 0


# --------------------------------------------------------------------------- environment and user


def stdout_vars(box):
    """The NAME=value lines a task printed to its sandbox's stdout, as a dict."""
    return dict(l.split("=", 1) for l in open(os.path.join(box, "stdout")).read().splitlines())


def test_executor_and_task_environment(master, tmp_path):
    a = Agent(master, tmp_path)
    try:
        registered(master)
        cmd = ("echo SANDBOX=$MESOS_SANDBOX; echo FW=$MESOS_FRAMEWORK_ID; echo EX=$MESOS_EXECUTOR_ID; "
               "echo EP=$MESOS_AGENT_ENDPOINT; echo P0=$PORT0; echo P1=$PORT1; echo P2=$PORT2; echo P=$PORT; "
               "echo WEB=$PORT_WEB; echo ADMIN=$PORT_ADMIN_UI; echo CGFDS=${MEZZO_CGROUP_PROCS_FDS-unset}; "
               "for fd in 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$fd ] && echo OPEN=$fd; done; true")
        task = task_info(master, "env-2", cmd,
                         discovery={"visibility": "FRAMEWORK", "ports": {"ports": [
                             {"number": 31005, "name": "web"}, {"number": 31007, "name": "admin-ui"}]}})
        task["resources"].append({"name": "ports", "type": "RANGES",
                                  "ranges": {"range": [{"begin": 31005, "end": 31006}, {"begin": 31007, "end": 31007}]}})
        launch(master, task)
        ack_through(master, "env-2", ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"])
        box = sandbox(a, master, "env-2")
        out = stdout_vars(box)
        assert out["SANDBOX"] == box
        assert out["FW"] == "fw-1" and out["EX"] == "env-2"
        assert out["EP"] == f"127.0.0.1:{a.port}"
        assert (out["P0"], out["P1"], out["P2"], out["P"]) == ("31005", "31006", "31007", "31005")
        assert out["WEB"] == "31005" and out["ADMIN"] == "31007"
        # The cgroup.procs fds the agent passed the executor are neither in the task's
        # environment nor open in it.
        assert out["CGFDS"] == "unset" and "OPEN" not in out, out
    finally:
        assert a.stop() == 0


def test_executor_environment_variables_replace_the_agents(master, tmp_path):
    """As Mesos's --executor_environment_variables: executors (and their tasks) get exactly
    those variables, a default PATH when they name none, and what Mesos sets; without the
    flag they inherit the agent's environment (pytest's PYTEST_CURRENT_TEST, here)."""
    env_task = "env | grep -E '^(PATH|FOO|EMPTY|PYTEST_CURRENT_TEST|MESOS_SANDBOX|TASKVAR)=' | sort"
    for i, (flag, path) in enumerate((
            ('{"FOO": "bar baz", "EMPTY": ""}', "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            ('{"FOO": "bar baz", "EMPTY": "", "PATH": "/usr/bin:/bin"}', "/usr/bin:/bin"))):
        m, d = FakeMaster(), tmp_path / f"flagged-{i}"
        d.mkdir()
        a = Agent(m, d, extra=[f"--executor_environment_variables={flag}"])
        try:
            registered(m)
            launch(m, task_info(m, "envflag", env_task,
                                command_extra={"environment": {"variables": [{"name": "TASKVAR", "value": "t"}]}}))
            ack_through(m, "envflag", ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"])
            box = sandbox(a, m, "envflag")
            assert stdout_vars(box) == {"EMPTY": "", "FOO": "bar baz", "MESOS_SANDBOX": box, "PATH": path,
                                        "TASKVAR": "t"}
            assert a.state()["flags"]["executor_environment_variables"] == flag
        finally:
            assert a.stop() == 0
            m.close()
    a = Agent(master, tmp_path)
    try:
        registered(master)
        launch(master, task_info(master, "envflag-none", env_task))
        ack_through(master, "envflag-none", ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"])
        out = stdout_vars(sandbox(a, master, "envflag-none"))
        assert "PYTEST_CURRENT_TEST" in out and out["PATH"] == os.environ["PATH"], out
    finally:
        assert a.stop() == 0


@pytest.mark.parametrize("value,why", [
    ('{"FOO": 1}', "`executor_environment_variables` must only contain string values ('FOO' is not)"),
    ('["FOO"]', "must be a JSON object of names to strings"),
    ("{nope", "must be a JSON object of names to strings: "),
    ('{"A=B": "x"}', "'A=B' is not a variable name"),
])
def test_executor_environment_variables_errors_name_the_flag(tmp_path, value, why):
    proc = subprocess.run([str(AGENT), "--master=127.0.0.1:1", f"--work_dir={tmp_path}",
                           f"--executor_environment_variables={value}"], capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2 and f"--executor_environment_variables: {why}" in proc.stderr, proc.stderr


def unix_http(path, method, url, body=None, headers=None):
    """One HTTP request over the Unix socket at path: (status, body)."""
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(TIMEOUT)
            self.sock.connect(path)

    c = Conn("localhost", timeout=TIMEOUT)
    try:
        c.request(method, url, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


SOCKET_TASK = 'echo SOCK=${MESOS_DOMAIN_SOCKET-unset}; test -S "$MESOS_DOMAIN_SOCKET" && echo IS=socket; true'


def test_latest_run_link_follows_the_newest_run(master, tmp_path):
    a = Agent(master, tmp_path)
    try:
        registered(master)
        runs_of = lambda: sorted(p.name for p in a.work_dir.glob("slaves/*/frameworks/*/executors/again-1/runs/*"))
        for n in (1, 2):  # the same executor id twice: a second run beside the first
            start = len(master.calls)
            launch(master, task_info(master, "again-1", "true"))
            end = ack_until_terminal(master, "again-1", start=start)
            assert end["status_update"]["status"]["state"] == "TASK_FINISHED"
            runs = runs_of()
            assert len(runs) == n + 1 and "latest" in runs, runs
            if n == 1:
                first = [r for r in runs if r != "latest"][0]
                wait_for(lambda: not any(ex["id"] == "again-1" for fw in a.state()["frameworks"]
                                         for ex in fw["executors"]), what="the first executor to be gone")
        latest = next(a.work_dir.glob("slaves/*/frameworks/*/executors/again-1/runs/latest"))
        assert os.readlink(latest) == [r for r in runs if r not in ("latest", first)][0]
    finally:
        assert a.stop() == 0


def test_executors_reach_the_agent_over_its_domain_socket(master, tmp_path):
    sock_dir = tempfile.mkdtemp(prefix="mz-sock-")
    loc = os.path.join(sock_dir, "executors.sock")
    a = Agent(master, tmp_path, extra=[f"--domain_socket_location={loc}", "--direct_command_tasks=false"])
    try:
        registered(master)
        launch(master, task_info(master, "sock-1", SOCKET_TASK))
        ack_through(master, "sock-1", ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"])
        out = stdout_vars(sandbox(a, master, "sock-1"))
        assert out["SOCK"] == loc and out["IS"] == "socket", out
        assert stat.S_IMODE(os.stat(loc).st_mode) == 0o666  # executors of any user connect
        # The command executor subscribed (and sent its updates) over the socket.
        assert re.search(r"executor sock-1 of framework fw-1 subscribed \([^)]*, from unix\)", agent_log(tmp_path))
        flags = a.state()["flags"]
        assert flags["http_executor_domain_sockets"] == "true" and flags["domain_socket_location"] == loc
        # As in Mesos, the socket serves the executor API and /api/v1 alone.
        status, body = unix_http(loc, "GET", "/state")
        assert status == 403 and b"only /api/v1/executor and /api/v1" in body, (status, body)
        for prefix in ("", "/slave(1)"):  # Mesos's executor library posts under /slave(1)
            status, body = unix_http(loc, "POST", prefix + "/api/v1", json.dumps({"type": "GET_HEALTH"}),
                                     {"Content-Type": "application/json", "Accept": "application/json"})
            assert status == 200 and json.loads(body)["get_health"]["healthy"] is True, (status, body)
            call = {"type": "SUBSCRIBE", "framework_id": {"value": "no-such"}, "executor_id": {"value": "no-such"},
                    "subscribe": {}}
            status, body = unix_http(loc, "POST", prefix + "/api/v1/executor", json.dumps(call),
                                     {"Content-Type": "application/json", "Accept": "application/json"})
            assert (status, body) == (400, b"Framework cannot be found")  # the executor API's own answer
        # Without the socket's file (say, a /tmp cleaner took it), executors connect over TCP.
        os.unlink(loc)
        launch(master, task_info(master, "sock-2", SOCKET_TASK))
        ack_through(master, "sock-2", ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"])
        assert stdout_vars(sandbox(a, master, "sock-2")) == {"SOCK": loc}
        assert re.search(r"executor sock-2 of framework fw-1 subscribed \([^)]*, from 127\.0\.0\.1:\d+\)",
                         agent_log(tmp_path))
        box = sandbox(a, master, "sock-2")
        assert f"cannot connect to {loc}: No such file or directory; connecting to 127.0.0.1:{a.port} instead" in \
            open(os.path.join(box, "stderr")).read()
        open(loc, "w").close()  # not the agent's: left where it is as the agent stops
    finally:
        assert a.stop() == 0
        assert os.path.isfile(loc)
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_executor_socket_is_in_the_work_dir_by_default(master, tmp_path):
    a = Agent(master, tmp_path)
    expected = str(a.work_dir / "agent.sock")
    try:
        registered(master)
        flags = a.state()["flags"]
        if len(expected) < 108:
            assert flags["domain_socket_location"] == expected and stat.S_ISSOCK(os.stat(expected).st_mode)
        else:  # pytest's directory is too deep for a socket's path
            assert "domain_socket_location" not in flags
            assert "executors reach the agent over TCP only" in agent_log(tmp_path)
    finally:
        assert a.stop() == 0
    assert not os.path.exists(expected)


def test_executor_socket_turned_off(master, tmp_path):
    a = Agent(master, tmp_path, extra=["--http_executor_domain_sockets=false", "--direct_command_tasks=false"])
    try:
        registered(master)
        launch(master, task_info(master, "tcp-1", SOCKET_TASK))
        ack_through(master, "tcp-1", ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"])
        assert stdout_vars(sandbox(a, master, "tcp-1")) == {"SOCK": "unset"}
        assert not os.path.exists(a.work_dir / "agent.sock")
        assert re.search(r"executor tcp-1 of framework fw-1 subscribed \([^)]*, from 127\.0\.0\.1:\d+\)",
                         agent_log(tmp_path))
        assert a.state()["flags"]["http_executor_domain_sockets"] == "false"
    finally:
        assert a.stop() == 0


def test_executor_socket_location_errors_name_the_flag(tmp_path):
    taken = tmp_path / "a-directory"
    taken.mkdir()
    for bad in ["/" + "s" * 120, str(taken), ""]:
        proc = subprocess.run([str(AGENT), "--master=127.0.0.1:1", "--ip=127.0.0.1", "--port=0",
                               f"--work_dir={tmp_path / 'agent'}", f"--domain_socket_location={bad}"],
                              capture_output=True, text=True, timeout=TIMEOUT)
        assert proc.returncode == 2, (bad, proc.returncode, proc.stderr)
        assert "flag --domain_socket_location" in proc.stderr, (bad, proc.stderr)
    assert taken.is_dir()


@pytest.fixture
def open_dir():
    """A directory other users can enter (pytest's tmp dirs are private to root)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="mezzo-cont-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def user_exists(name):
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.mark.skipif(os.geteuid() != 0 or not user_exists("nobody"), reason="needs root and the user nobody")
def test_command_user_is_switched_to(master, open_dir):
    a = Agent(master, open_dir)
    try:
        registered(master)
        launch(master, task_info(master, "user-1", "id -un; echo hi > mine; stat -c %U mine",
                                 command_extra={"user": "nobody"}))
        ack_through(master, "user-1", ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"])
        out = open(os.path.join(sandbox(a, master, "user-1"), "stdout")).read().split()
        assert out == ["nobody", "nobody"]
    finally:
        assert a.stop() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (without it the agent does not switch users)")
def test_unknown_user_fails_the_task_clearly(master, tmp_path):
    a = Agent(master, tmp_path)
    try:
        registered(master)
        launch(master, task_info(master, "user-2", "true", command_extra={"user": "no-such-user-mz"}))
        failed = master.wait_update("user-2", "TASK_FAILED")
        st = failed["status_update"]["status"]
        assert "no-such-user-mz" in st["message"] and "does not exist" in st["message"]
        assert st["source"] == "SOURCE_AGENT"
        master.ack(failed)
    finally:
        assert a.stop() == 0


def test_command_not_found_fails_the_task_naming_it(master, tmp_path):
    """shell=false with a program that does not exist: TASK_FAILED from the executor, naming the
    program and why (the executor learns it from posix_spawn, before any TASK_RUNNING)."""
    a = Agent(master, tmp_path)
    try:
        registered(master)
        launch(master, task_info(master, "nocmd-1", "/no/such/program-mz",
                                 command_extra={"shell": False, "arguments": ["program-mz", "x"]}))
        u = ack_until_terminal(master, "nocmd-1")
        st = u["status_update"]["status"]
        assert st["state"] == "TASK_FAILED", st
        assert "/no/such/program-mz" in st["message"] and "No such file" in st["message"], st
        assert st["source"] == "SOURCE_EXECUTOR"
        assert all(c["status_update"]["status"]["state"] != "TASK_RUNNING" for c in master.calls
                   if c.get("type") == "STATUS_UPDATE"
                   and c["status_update"]["status"]["task_id"]["value"] == "nocmd-1")
    finally:
        assert a.stop() == 0


# --------------------------------------------------------------------------- fetcher


class FileServer:
    """A local HTTP server over a dict of path -> bytes, counting the requests of each path."""

    def __init__(self, files):
        self.files = files
        self.hits = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                if self.path == "/stall":  # 10 of 1,000 bytes, then nothing
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b"0123456789")
                    self.wfile.flush()
                    time.sleep(30)
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def tar_bytes(files, mode):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def files():
    srv = FileServer({
        "/app.tar.gz": tar_bytes({"app/hello.txt": b"from tar.gz\n"}, "w:gz"),
        "/data.tar.xz": tar_bytes({"xz/data.txt": b"from tar.xz\n"}, "w:xz"),
        "/plain.tar": tar_bytes({"plain.txt": b"from tar\n"}, "w"),
        "/bundle.zip": zip_bytes({"zipped/z.txt": b"from zip\n"}),
        "/run.sh": b"#!/bin/sh\necho script ran\n",
        "/evil.tar": tar_bytes({"../escaped.txt": b"nope\n"}, "w"),
    })
    yield srv
    srv.close()


def test_fetcher_downloads_extracts_and_copies(master, tmp_path, files):
    local = tmp_path / "local.txt"
    local.write_text("local file\n")
    a = Agent(master, tmp_path)
    try:
        registered(master)
        uris = [
            {"value": files.url("/app.tar.gz")},
            {"value": files.url("/data.tar.xz")},
            {"value": files.url("/plain.tar")},
            {"value": files.url("/bundle.zip")},
            {"value": files.url("/run.sh"), "executable": True},
            {"value": files.url("/app.tar.gz"), "extract": False, "output_file": "kept/copy.tgz"},
            {"value": str(local)},
            {"value": f"file://{local}", "output_file": "renamed.txt"},
        ]
        cmd = ("cat app/hello.txt xz/data.txt plain.txt zipped/z.txt local.txt renamed.txt && ./run.sh "
               "&& test -f kept/copy.tgz && test ! -e kept/app")
        launch(master, task_info(master, "fetch-1", cmd, command_extra={"uris": uris}))
        st = ack_until_terminal(master, "fetch-1")["status_update"]["status"]
        box = sandbox(a, master, "fetch-1")
        assert st["state"] == "TASK_FINISHED", (st, open(os.path.join(box, "stderr")).read())
        assert open(os.path.join(box, "stdout")).read() == (
            "from tar.gz\nfrom tar.xz\nfrom tar\nfrom zip\nlocal file\nlocal file\nscript ran\n")
    finally:
        assert a.stop() == 0


def test_fetcher_cache_downloads_once(master, tmp_path, files):
    cache = tmp_path / "cache"
    a = Agent(master, tmp_path, extra=[f"--fetcher_cache_dir={cache}"])
    try:
        registered(master)
        for i in (1, 2):
            uris = [{"value": files.url("/app.tar.gz"), "cache": True}]
            launch(master, task_info(master, f"cache-{i}", "cat app/hello.txt", command_extra={"uris": uris}))
            st = ack_until_terminal(master, f"cache-{i}")["status_update"]["status"]
            assert st["state"] == "TASK_FINISHED", st
            assert open(os.path.join(sandbox(a, master, f"cache-{i}"), "stdout")).read() == "from tar.gz\n"
        assert files.hits["/app.tar.gz"] == 1
        assert len(cache_entries(cache)) == 1 and (cache / ".lock").exists()
    finally:
        assert a.stop() == 0


def cache_entries(cache):
    """The fetcher cache's entries (its users' dirs included; not the lock, not downloads in progress)."""
    return sorted(p for p in cache.rglob("*") if p.is_file() and not p.name.startswith("."))


def fetch_to_the_end(a, master, task_id, uris, command="true", **command_extra):
    launch(master, task_info(master, task_id, command, command_extra={"uris": uris, **command_extra}))
    st = ack_until_terminal(master, task_id)["status_update"]["status"]
    box = sandbox(a, master, task_id)
    assert st["state"] == "TASK_FINISHED", (st, open(os.path.join(box, "stderr")).read())
    return box


def agent_metric(agent, name):
    with urllib.request.urlopen(agent.url("/metrics/snapshot"), timeout=10) as r:
        return json.loads(r.read())[name]


def test_fetcher_cache_is_emptied_at_start_and_holds_at_most_its_size(master, tmp_path):
    """As Mesos's: the cache is emptied when the agent starts; with --fetcher_cache_size
    the least recently used entry is evicted for a new one, and a URI larger than the
    whole cache is fetched into the sandbox without being cached."""
    blobs = {"/a.bin": os.urandom(40000), "/b.bin": os.urandom(40000), "/big.bin": os.urandom(100000)}
    srv = FileServer(blobs)
    cache = tmp_path / "cache"
    (cache / "someone").mkdir(parents=True)
    (cache / "someone" / "stale").write_text("left by an earlier run")
    (cache / "0123-uri").write_text("stale")
    a = Agent(master, tmp_path, extra=[f"--fetcher_cache_dir={cache}", "--fetcher_cache_size=60KB"])
    try:
        registered(master)
        assert cache_entries(cache) == [] and not (cache / "someone").exists()
        assert agent_metric(a, "containerizer/fetcher/cache_size_total_bytes") == 60 * 1024
        assert a.state()["flags"]["fetcher_cache_size"] == "61440B"

        def fetch(task_id, path):
            box = fetch_to_the_end(a, master, task_id, [{"value": srv.url(path), "cache": True}])
            assert open(os.path.join(box, path[1:]), "rb").read() == blobs[path]
            return open(os.path.join(box, "stderr")).read()

        fetch("lru-a", "/a.bin")
        assert len(cache_entries(cache)) == 1
        err = fetch("lru-b", "/b.bin")  # a and b do not fit together: a goes
        assert "evicted" in err, err
        assert [p.read_bytes() for p in cache_entries(cache)] == [blobs["/b.bin"]]
        err = fetch("lru-big", "/big.bin")
        assert "not caching" in err and "more than the whole cache (--fetcher_cache_size=61440B)" in err, err
        assert [p.read_bytes() for p in cache_entries(cache)] == [blobs["/b.bin"]]
        err = fetch("lru-b2", "/b.bin")
        assert "using the cached copy" in err and srv.hits["/b.bin"] == 1, (err, srv.hits)
        assert agent_metric(a, "containerizer/fetcher/cache_size_used_bytes") == 40000
        assert not [p for p in cache.rglob(".tmp-*")]  # no download left behind
    finally:
        assert a.stop() == 0
        srv.close()


@pytest.mark.skipif(os.geteuid() != 0 or not user_exists("nobody"), reason="needs root and the user nobody")
def test_fetcher_cache_has_a_dir_per_user(master, open_dir, files):
    """As Mesos's: a container switched to a user caches in <cache>/<user>, owned by it."""
    a = Agent(master, open_dir)
    try:
        registered(master)
        uris = [{"value": files.url("/app.tar.gz"), "cache": True}]
        for i in (1, 2):
            box = fetch_to_the_end(a, master, f"ucache-{i}", uris, "cat app/hello.txt", user="nobody")
            assert open(os.path.join(box, "stdout")).read() == "from tar.gz\n"
        user_dir = a.work_dir / "fetch_cache" / "nobody"
        import pwd
        assert user_dir.stat().st_uid == pwd.getpwnam("nobody").pw_uid
        assert len(cache_entries(user_dir)) == 1 and files.hits["/app.tar.gz"] == 1
    finally:
        assert a.stop() == 0


@pytest.mark.parametrize("flag,why", [
    ("--fetcher_cache_size=1.5GB", "--fetcher_cache_size: invalid value '1.5GB' (expected a size such as 512MB"),
    ("--fetcher_cache_size=100", "--fetcher_cache_size: invalid value '100'"),
    ("--fetcher_cache_dir={tmp}", "--fetcher_cache_dir: {tmp} holds the work_dir"),
    ("--fetcher_cache_dir=/", "--fetcher_cache_dir: / holds the work_dir"),
    ("--fetcher_stall_timeout=500ms", "--fetcher_stall_timeout: must be at least 1secs"),
])
def test_fetcher_cache_flag_errors_name_the_flag(tmp_path, flag, why):
    flag, why = flag.format(tmp=tmp_path), why.format(tmp=tmp_path)
    proc = subprocess.run([str(AGENT), "--master=127.0.0.1:1", f"--work_dir={tmp_path}/w", flag],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2 and why in proc.stderr, (proc.returncode, proc.stderr)


def test_a_stalled_download_fails_after_the_fetcher_stall_timeout(master, tmp_path, files):
    """As Mesos's --fetcher_stall_timeout: a download that stops moving fails its task
    (as every failed fetch: REASON_CONTAINER_LAUNCH_FAILED, naming the URI) once it has
    stalled that long."""
    a = Agent(master, tmp_path, extra=["--fetcher_stall_timeout=2secs"])
    try:
        registered(master)
        assert a.state()["flags"]["fetcher_stall_timeout"] == "2secs"
        url = files.url("/stall")
        t0 = time.monotonic()
        launch(master, task_info(master, "stall-1", "true", command_extra={"uris": [{"value": url}]}))
        st = ack_until_terminal(master, "stall-1")["status_update"]["status"]
        assert st["state"] == "TASK_FAILED" and st["reason"] == "REASON_CONTAINER_LAUNCH_FAILED", st
        assert f"Failed to fetch '{url}'" in st["message"] and "the last 2 seconds" in st["message"], st
        assert time.monotonic() - t0 >= 2
    finally:
        assert a.stop() == 0


@pytest.mark.parametrize("path", ["/missing.tar.gz", "/evil.tar"])
def test_failed_fetch_fails_the_task_naming_the_uri(master, tmp_path, files, path):
    a = Agent(master, tmp_path)
    try:
        registered(master)
        uri = files.url(path)
        launch(master, task_info(master, "nofetch-1", "echo should not run", command_extra={"uris": [{"value": uri}]}))
        st = ack_until_terminal(master, "nofetch-1")["status_update"]["status"]
        assert st["state"] == "TASK_FAILED"
        # Mesos has no REASON_FETCHER_FAILED: a failed fetch is a container launch failure there.
        assert st["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
        assert uri in st["message"] and "Failed to fetch" in st["message"]
        box = sandbox(a, master, "nofetch-1")
        assert "should not run" not in open(os.path.join(box, "stdout")).read()
        assert not (pathlib.Path(box).parent / "escaped.txt").exists()
    finally:
        assert a.stop() == 0


# --------------------------------------------------------------------------- health checks and kill policy


def updates_with_health(master, task_id):
    return [u["status_update"]["status"] for u in master.updates(task_id)
            if "healthy" in u["status_update"]["status"]]


@pytest.mark.parametrize("kind", ["COMMAND", "HTTP", "TCP"])
def test_health_check_reports_changes_and_kills_a_failing_task(master, tmp_path, kind):
    """The check passes (healthy=true is reported), then fails: healthy=false is
    reported and, after consecutive_failures, the task is killed (TASK_KILLED, healthy=false)."""
    import socket
    srv = listener = None
    flag = None
    check = {"delay_seconds": 0, "interval_seconds": 0.2, "timeout_seconds": 10, "grace_period_seconds": 0,
             "consecutive_failures": 3, "type": kind}
    if kind == "COMMAND":
        flag = tmp_path / "healthy-flag"
        flag.write_text("ok")
        check["command"] = {"value": f"test -f {flag}"}
    elif kind == "HTTP":
        srv = FileServer({"/health": b"ok"})
        check["http"] = {"port": srv.port, "path": "/health"}
    else:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        check["tcp"] = {"port": listener.getsockname()[1]}

    def make_unhealthy():
        if flag:
            flag.unlink()
        elif srv:
            srv.files.pop("/health")
        else:
            listener.close()

    a = Agent(master, tmp_path)
    try:
        registered(master)
        launch(master, task_info(master, "health-1", "exec sleep 100", health_check=check,
                                 kill_policy={"grace_period": {"nanoseconds": 500000000}}))
        ack_through(master, "health-1", ["TASK_STARTING", "TASK_RUNNING"])
        healthy = master.wait_call(lambda c: c.get("type") == "STATUS_UPDATE"
                                   and c["status_update"]["status"]["task_id"]["value"] == "health-1"
                                   and c["status_update"]["status"].get("healthy") is True, "healthy=true")[1]
        st = healthy["status_update"]["status"]
        assert st["state"] == "TASK_RUNNING" and st["reason"] == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
        master.ack(healthy)
        make_unhealthy()
        unhealthy = master.wait_call(lambda c: c.get("type") == "STATUS_UPDATE"
                                     and c["status_update"]["status"]["task_id"]["value"] == "health-1"
                                     and c["status_update"]["status"].get("healthy") is False, "healthy=false")[1]
        assert unhealthy["status_update"]["status"]["state"] == "TASK_RUNNING"
        master.ack(unhealthy)
        final = ack_until_terminal(master, "health-1")["status_update"]["status"]
        assert final["state"] == "TASK_KILLED", final
        assert final.get("healthy") is False
        # Reported on changes only: one healthy=true, and no healthy=true after the failure.
        hs = [s["healthy"] for s in updates_with_health(master, "health-1") if s["state"] == "TASK_RUNNING"]
        assert hs[0] is True and True not in hs[hs.index(False):]
    finally:
        assert a.stop() == 0
        if srv:
            srv.close()
        if listener:
            listener.close()


def test_failures_within_the_grace_period_are_ignored(master, tmp_path):
    check = {"delay_seconds": 0, "interval_seconds": 0.2, "timeout_seconds": 10, "grace_period_seconds": 3600,
             "consecutive_failures": 1, "type": "COMMAND", "command": {"value": "test -f ready"}}
    a = Agent(master, tmp_path)
    try:
        registered(master)
        launch(master, task_info(master, "grace-1", "exec sleep 100", health_check=check))
        ack_through(master, "grace-1", ["TASK_STARTING", "TASK_RUNNING"])
        box = sandbox(a, master, "grace-1")
        # Failing checks in the grace period: nothing reported, the task keeps running.
        stderr = os.path.join(box, "stderr")
        wait_for(lambda: open(stderr).read().count("within the grace period") >= 3, what="ignored failures")
        assert updates_with_health(master, "grace-1") == []
        open(os.path.join(box, "ready"), "w").close()
        master.wait_call(lambda c: c.get("type") == "STATUS_UPDATE"
                         and c["status_update"]["status"].get("healthy") is True, "healthy=true")
        kill(master, "grace-1")
        final = ack_until_terminal(master, "grace-1")["status_update"]["status"]
        assert final["state"] == "TASK_KILLED" and "healthy" not in final
    finally:
        assert a.stop() == 0


# --------------------------------------------------------------------------- /monitor/statistics and /files


def get(agent, path):
    try:
        with urllib.request.urlopen(agent.url(path), timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_files_download_and_debug(master, tmp_path):
    """/files/download sends a sandbox file's bytes as an attachment (a big one too, on a
    connection that serves the next request after it), confined like /files/read;
    /files/debug maps the paths Mesos serves for a run to its sandbox."""
    a, box, secret = files_task(master, tmp_path, "dl-1", "printf 'hello download' > note.txt; "
                                "head -c 3000000 /dev/urandom > big.bin; mkdir sub; ln -s {secret} link", "done")
    try:
        parts = box.split("/")
        fid, eid = parts[parts.index("frameworks") + 1], parts[parts.index("executors") + 1]
        virtual = f"/frameworks/{fid}/executors/{eid}/runs/latest"
        q = urllib.parse.quote
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)

        def fetch(path, method="GET"):
            conn.request(method, path)
            r = conn.getresponse()
            return r.status, r.headers, r.read()

        status, headers, body = fetch(f"/files/download?path={q(box + '/note.txt')}")
        assert (status, body) == (200, b"hello download")
        assert headers["Content-Type"] == "text/plain"
        assert headers["Content-Disposition"] == "attachment; filename=note.txt"
        big = pathlib.Path(box, "big.bin").read_bytes()
        status, headers, body = fetch(f"/files/download?path={q(virtual + '/big.bin')}")
        assert status == 200 and headers["Content-Type"] == "application/octet-stream"
        assert int(headers["Content-Length"]) == len(big) == 3000000
        assert hashlib.sha256(body).digest() == hashlib.sha256(big).digest()
        status, headers, body = fetch(f"/files/download?path={q(box + '/big.bin')}", "HEAD")
        assert (status, body, headers["Content-Length"]) == (200, b"", "3000000")
        # The same connection goes on serving after the file replies.
        assert fetch(f"/files/read?path={q(box + '/note.txt')}&offset=6")[2] == b'{"data":"download","offset":6}'
        assert fetch(f"/files/download?path={q(box + '/sub')}")[:3:2] == (400, b"Cannot download a directory")
        assert fetch("/files/download")[0] == 400
        assert fetch(f"/files/download?path={q(box + '/link')}")[0] == 403
        assert fetch(f"/files/download?path={q(box + '/../../../../../secret.txt')}")[0] == 403
        assert fetch(f"/files/download?path={q(str(secret))}")[0] == 403
        assert fetch(f"/files/download?path={q(box + '/nope')}")[0] == 404
        assert fetch(f"/files/download?path={q(box + '/note.txt')}", "POST")[0] == 405
        status, _, body = fetch("/files/debug")
        paths = json.loads(body)
        assert status == 200 and "/slave/log" not in paths  # the agent logs to stderr
        status, _, body = fetch("/files/read?path=/slave/log&offset=0")
        assert status == 404 and b"--log_dir" in body
        assert paths[box] == box and paths[virtual] == box
        assert paths[os.path.join(os.path.dirname(box), "latest")] == box
        conn.close()
        kill(master, "dl-1")
        ack_until_terminal(master, "dl-1")
        # A completed run stays downloadable and listed.
        assert get_raw(a, f"/files/download?path={q(virtual + '/note.txt')}") == (200, b"hello download")
        assert get(a, "/files/debug")[1][virtual] == box
    finally:
        assert a.stop() == 0


def test_agent_log_is_served_as_slave_log(master, tmp_path):
    """With --log_dir the agent's log file is Mesos's virtual /slave/log for /files/* and the
    operator API (test_files_download_and_debug: without, a 404 that says why)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    a = Agent(master, tmp_path, extra=[f"--log_dir={logs}"])
    try:
        registered(master)
        log = logs / "mezzo-agent.log"
        wait_for(lambda: log.exists() and log.stat().st_size > 0, what="the agent's log file")
        status, data = get(a, "/files/read?path=/slave/log&offset=0")
        assert status == 200 and "INFO" in data["data"] and "agent" in data["data"]
        assert get(a, "/files/read?path=/slave/log&offset=-1")[1]["offset"] >= len(data["data"].encode())
        status, entries = get(a, "/files/browse?path=/slave/log")
        assert status == 200 and [e["path"] for e in entries] == ["/slave/log"]
        status, body = get_raw(a, "/files/download?path=/slave/log")
        assert status == 200 and body.startswith(data["data"].encode()[:100])
        assert get(a, "/files/debug")[1]["/slave/log"] == str(log)
        req = urllib.request.Request(a.url("/api/v1"), method="POST", data=json.dumps(
            {"type": "READ_FILE", "read_file": {"path": "/slave/log", "offset": 0}}).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            rf = json.loads(r.read())["read_file"]
        assert b"INFO" in base64.b64decode(rf["data"]) and rf["size"] > 0
    finally:
        assert a.stop() == 0


def get_raw(agent, path):
    try:
        with urllib.request.urlopen(agent.url(path), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_monitor_statistics_per_executor(master, tmp_path):
    a = Agent(master, tmp_path)
    try:
        registered(master)
        # Burns a little cpu, then sleeps: usage shows up without depending on timing.
        launch(master, task_info(master, "stats-1", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; "
                                 "touch burnt; exec sleep 100", cpus=0.5, mem=64))
        ack_through(master, "stats-1", ["TASK_STARTING", "TASK_RUNNING"])
        box = sandbox(a, master, "stats-1")
        wait_for(lambda: os.path.exists(os.path.join(box, "burnt")), what="the cpu burn")
        status, stats = get(a, "/monitor/statistics")
        assert status == 200
        (entry,) = [e for e in stats if e["executor_id"] == "stats-1"]
        assert entry["framework_id"] == "fw-1"
        s = entry["statistics"]
        assert s["cpus_limit"] == pytest.approx(0.6)
        assert s["mem_limit_bytes"] == (64 + 32) << 20
        assert s["cpus_user_time_secs"] + s["cpus_system_time_secs"] > 0
        assert s["mem_rss_bytes"] > 0 and s["timestamp"] > 0
        assert get(a, "/slave(1)/monitor/statistics")[0] == 200
        # /containers: the same entries with the container's id and status, and Mesos's filters.
        cid = os.path.basename(box)
        status, conts = get(a, "/containers")
        (c,) = [e for e in conts if e["executor_id"] == "stats-1"]
        assert status == 200 and c["container_id"] == cid and c["framework_id"] == "fw-1"
        assert c["status"]["container_id"] == {"value": cid} and c["status"]["executor_pid"] > 0
        assert c["statistics"]["mem_limit_bytes"] == (64 + 32) << 20
        assert [e["container_id"] for e in get(a, f"/containers?container_id={cid}")[1]] == [cid]
        assert [e["container_id"] for e in get(a, "/containers?framework_id=fw-1&executor_id=stats-1")[1]] == [cid]
        assert get(a, "/containers?framework_id=fw-1")[1][0]["container_id"] == cid
        assert get(a, "/containers?container_id=nope")[1] == []
        assert get(a, "/containers?framework_id=fw-2")[1] == []
        for bad in ("executor_id=stats-1", f"container_id={cid}&framework_id=fw-1"):
            status, body = get(a, "/containers?" + bad)
            assert status == 400 and b"Supported query parameters" in body
        assert get_raw(a, "/slave(1)/containers?jsonp=cb")[1].startswith(b"cb([")
        kill(master, "stats-1")
        ack_until_terminal(master, "stats-1")
        wait_for(lambda: not [e for e in get(a, "/monitor/statistics")[1] if e["executor_id"] == "stats-1"],
                 what="the executor to leave the statistics")
        assert get(a, "/containers")[1] == []
    finally:
        assert a.stop() == 0


def files_task(master, tmp_path, task_id, command, ready):
    """A new agent running task_id: command (which may name {secret}, a file outside every
    sandbox), then `touch <ready>; exec sleep 100`. (agent, sandbox, secret) once ready is there."""
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    a = Agent(master, tmp_path)
    try:
        registered(master)
        launch(master, task_info(master, task_id, command.format(secret=secret) + f"; touch {ready}; exec sleep 100"))
        ack_through(master, task_id, ["TASK_STARTING", "TASK_RUNNING"])
        box = sandbox(a, master, task_id)
        wait_for(lambda: os.path.exists(os.path.join(box, ready)), what="the task's files")
        return a, box, secret
    except BaseException:
        a.stop()
        raise


def test_files_browse_and_read_are_confined_to_sandboxes(master, tmp_path):
    a, box, secret = files_task(master, tmp_path, "files-1", "printf 'hello files' > out.txt; mkdir sub; "
                                "ln -s {secret} link; ln -s out.txt inner", "ready")
    try:
        q = urllib.parse.quote
        status, entries = get(a, f"/files/browse?path={q(box)}")
        assert status == 200
        names = {os.path.basename(e["path"]): e for e in entries}
        assert {"stdout", "stderr", "out.txt", "sub", "link"} <= set(names)
        assert names["sub"]["mode"].startswith("d") and names["out.txt"]["size"] == 11
        status, data = get(a, f"/files/read?path={q(box + '/out.txt')}&offset=6&length=3")
        assert status == 200 and data == {"data": "fil", "offset": 6}
        status, data = get(a, f"/files/read?path={q(box + '/out.txt')}&offset=-1")
        assert data["offset"] == 11 and data["data"] == ""
        assert get(a, f"/files/read?path={q(box + '/inner')}&offset=0")[1]["data"] == "hello files"
        # Escapes: '..', a symlink out of the sandbox, absolute paths elsewhere.
        assert get(a, f"/files/read?path={q(box + '/../../../../../secret.txt')}&offset=0")[0] == 403
        assert get(a, f"/files/read?path={q(box + '/link')}&offset=0")[0] == 403
        assert get(a, f"/files/read?path={q(str(secret))}&offset=0")[0] == 403
        assert get(a, f"/files/browse?path={q('/etc')}")[0] == 403
        assert get(a, f"/files/browse?path={q(box + '/nope')}")[0] == 404
        assert get(a, "/files/browse")[0] == 400
        assert get(a, f"/files/read?path={q(box + '/out.txt')}&offset=abc")[0] == 400
        # Mesos's virtual path of the latest run: listed as asked, read, and confined the same way.
        parts = box.split("/")
        fid, eid = parts[parts.index("frameworks") + 1], parts[parts.index("executors") + 1]
        virtual = f"/frameworks/{fid}/executors/{eid}/runs/latest"
        status, entries = get(a, f"/files/browse?path={q(virtual + '/')}")
        assert status == 200
        assert {e["path"] for e in entries} >= {virtual + "/stdout", virtual + "/out.txt", virtual + "/sub"}
        assert get(a, f"/files/read?path={q(virtual + '/out.txt')}&offset=0")[1]["data"] == "hello files"
        assert get(a, f"/files/read?path={q(virtual + '/link')}&offset=0")[0] == 403
        assert get(a, f"/files/read?path={q(virtual + '/../../x')}&offset=0")[0] == 403
        assert get(a, f"/files/browse?path={q(f'/frameworks/{fid}/executors/nope/runs/latest')}")[0] == 404
        kill(master, "files-1")
        ack_until_terminal(master, "files-1")
        # Completed executors' sandboxes stay browsable.
        assert get(a, f"/files/read?path={q(box + '/out.txt')}&offset=0")[0] == 200
    finally:
        assert a.stop() == 0
