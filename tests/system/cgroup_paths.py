"""Where the agent puts a container's cgroups, and the values the tests read there,
for both cgroups versions: v1 (a hierarchy per controller, the container under the
agent's own cgroup in each) and v2 (one unified hierarchy, the container under
/sys/fs/cgroup/<cgroups_root> at its top, as in Mesos's cgroups2 isolator).

The agent under test is a child of the test, so it shares the test's cgroups."""
import os
import pathlib

import pytest

ROOT = pathlib.Path("/sys/fs/cgroup")
CGROUPS_ROOT = "mezzo"  # the agent's default --cgroups_root


def detect():
    """(1 or 2, "") for the cgroups version the agent will use, or (None, why not)."""
    if os.geteuid() != 0:
        return None, "cgroups tests need root"
    unified = ROOT / "cgroup.controllers"
    if unified.exists():
        if {"cpu", "memory"} <= set(unified.read_text().split()):
            return 2, ""
        return None, "the cgroups v2 hierarchy at /sys/fs/cgroup has no cpu and memory controllers"
    for c in ("cpu", "memory", "freezer"):
        if not (ROOT / c / "cgroup.procs").exists():
            return None, f"no cgroups v1 {c} hierarchy at /sys/fs/cgroup/{c}"
    return 1, ""


VERSION, WHY = detect()
needs_cgroups = pytest.mark.skipif(VERSION is None, reason=WHY)


def detect_device_rules():
    """(True, "") where the agent enforces device rules (isolator cgroups/devices): a v1
    devices hierarchy, or v2 (a BPF device program per container); else (False, why).
    Testing them needs root too: the tests make device nodes with mknod."""
    if VERSION is None:
        return False, WHY
    if VERSION == 1 and not (ROOT / "devices" / "devices.list").exists():
        return False, "no cgroups v1 devices hierarchy at /sys/fs/cgroup/devices"
    return True, ""


DEVICE_RULES, DEVICE_RULES_WHY = detect_device_rules()
needs_device_rules = pytest.mark.skipif(not DEVICE_RULES, reason=DEVICE_RULES_WHY)

# The hierarchies a container has a cgroup in.
CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "freezer") if VERSION == 1 else ("unified",)


def own_cgroup(ctrl):
    """The test's own cgroup in the v1 hierarchy of ctrl, relative ("" at the root)."""
    for line in open("/proc/self/cgroup"):
        _, ctrls, path = line.rstrip("\n").split(":", 2)
        if ctrl in ctrls.split(","):
            return path.lstrip("/")
    return ""


def container_cgroup(ctrl, container_id):
    """The container's cgroup directory holding controller ctrl."""
    if VERSION == 2:
        return ROOT / CGROUPS_ROOT / container_id
    return ROOT / ctrl / own_cgroup(ctrl) / CGROUPS_ROOT / container_id


def read_int(ctrl, container_id, v1_file, v2_file):
    return int((container_cgroup(ctrl, container_id) / (v2_file if VERSION == 2 else v1_file)).read_text())


def cpu_weight(cpus):
    """What the agent writes for cpus: cpu.shares 1024 a cpu (v1), cpu.weight 100 a cpu (v2)."""
    return int(cpus * (100 if VERSION == 2 else 1024))


def cpu_weight_of(container_id):
    return read_int("cpu", container_id, "cpu.shares", "cpu.weight")


def mem_limit_of(container_id):
    return read_int("memory", container_id, "memory.limit_in_bytes", "memory.max")


def pids_max_of(container_id):
    return read_int("pids", container_id, "pids.max", "pids.max")


def cfs_of(container_id):
    """(quota, period) in microseconds."""
    if VERSION == 2:
        quota, period = (container_cgroup("cpu", container_id) / "cpu.max").read_text().split()
        return int(quota), int(period)
    d = container_cgroup("cpu", container_id)
    return int((d / "cpu.cfs_quota_us").read_text()), int((d / "cpu.cfs_period_us").read_text())


def cpu_usage_ns(container_id):
    if VERSION == 2:
        stat = (container_cgroup("cpu", container_id) / "cpu.stat").read_text().split()
        return int(stat[stat.index("usage_usec") + 1]) * 1000
    return int((container_cgroup("cpuacct", container_id) / "cpuacct.usage").read_text())


def procs_of(ctrl, container_id):
    return (container_cgroup(ctrl, container_id) / "cgroup.procs").read_text().split()
