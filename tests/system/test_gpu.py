"""System tests of GPU support (Mesos's gpu/nvidia isolator and GPU_RESOURCES rule).

Most tests run without a GPU: the agent is given a fake NVML library built for
the tests (tests/fake_nvml, <build>/lib/libfake_nvml.so) through --nvml_library,
and the fake's GPU count comes from FAKE_NVML_GPUS in its environment. They
check that the agent offers gpus:N, that only frameworks with the GPU_RESOURCES
capability get offers from it, that tasks get distinct GPUs through
CUDA_VISIBLE_DEVICES and a devices cgroup that denies the GPUs they were not
given (where cgroups v1 has a devices hierarchy), that a task waits while every
GPU is taken, and that a LAUNCH with gpus from a framework without the
capability is a TASK_ERROR. One test uses the real libnvidia-ml and skips where
there is none. Everything is polled with generous deadlines.
"""
import ctypes
import getpass
import os
import subprocess
import time

import pytest

from cgroup_paths import DEVICE_RULES, DEVICE_RULES_WHY, VERSION, WHY, container_cgroup, needs_device_rules
from cluster import BIN, poll
from mesos_client import MesosError, SchedulerClient, scalar, take_scalars
from taskrunner import TaskRunner
from test_agent_recovery import alive, restart_agent, sigkill_agent, starttime, task_pid
from test_containerizer import device_probe, probed

FAKE_NVML = BIN.parent / "lib" / "libfake_nvml.so"
GPU_TASK = {"cpus": 0.1, "mem": 32.0, "gpus": 1.0}
MZ_GPU_MAJOR = 195  # /dev/nvidia<minor> (gpu.h)

pytestmark = pytest.mark.skipif(not FAKE_NVML.exists(), reason=f"{FAKE_NVML} not built")


def fake_gpu_cluster(cluster_factory, gpus=2, agents=1, extra_flags=()):
    return cluster_factory(agents=agents, agent_flags=[f"--nvml_library={FAKE_NVML}", *extra_flags],
                           env={"FAKE_NVML_GPUS": str(gpus)})


class GpuRunner(TaskRunner):
    """TaskRunner whose framework has the GPU_RESOURCES capability (info: more FrameworkInfo)."""

    def __init__(self, port, name="gpu-runner", info=None):
        super().__init__(port, name=name, info={"capabilities": [{"type": "GPU_RESOURCES"}], **(info or {})})


def sandbox_stdout(agent, framework_id, task_id):
    """The stdout of the command executor that runs task_id (executor id == task id)."""
    files = [f for f in agent.work_dir.glob(f"slaves/*/frameworks/{framework_id}/executors/{task_id}/runs/*/stdout")
             if f.parent.name != "latest"]
    return files[0] if files else None


def read_visible(agent, framework_id, task_id):
    """The first line the task printed (its CUDA_VISIBLE_DEVICES), once it did."""
    def line():
        f = sandbox_stdout(agent, framework_id, task_id)
        if f is None:
            return None
        for ln in f.read_text().splitlines():
            if ln.startswith("GPUS="):
                return (ln[5:],)  # a tuple: "" is an answer too
        return None
    return poll(line, 60, what=f"CUDA_VISIBLE_DEVICES in the stdout of {task_id}")[0]


def devices_hierarchy():
    """(usable, reason) for reading containers' devices cgroups."""
    if VERSION != 1:
        return False, WHY or "cgroups v2 (no v1 devices hierarchy)"
    return DEVICE_RULES, DEVICE_RULES_WHY


def offers_of(client, timeout):
    """Every offer received within timeout seconds (declined with a long filter)."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ev = client.next_event(timeout=max(0.1, deadline - time.monotonic()))
        except MesosError:
            break
        if ev["type"] == "OFFERS":
            for o in ev["offers"]["offers"]:
                got.append(o)
                client.decline([o["id"]], refuse_seconds=3600)
    return got


# --------------------------------------------------------------------- tests

def test_agent_offers_fake_gpus(cluster_factory):
    c = fake_gpu_cluster(cluster_factory, gpus=2)
    agent = c.agents[0]
    st = agent.state()
    assert st["resources"]["gpus"] == 2, st["resources"]
    ms = c.master_state()
    assert ms["slaves"][0]["resources"]["gpus"] == 2
    metrics = c.get_json("/metrics/snapshot")
    assert metrics["master/gpus_total"] == 2
    assert metrics["master/gpus_used"] == 0
    log = agent.process.log()
    assert "gpu/nvidia: on" in log and "Fake GPU 1" in log, agent.process.log_tail()


def test_gpu_agent_offered_only_to_gpu_frameworks(cluster_factory):
    c = fake_gpu_cluster(cluster_factory, gpus=2)
    gpu_agent = c.agents[0]
    plain = c.add_agent(flags=["--nvml_library=/nonexistent/libnvidia-ml.so.1"])
    assert "gpus" not in plain.state()["resources"] or plain.state()["resources"]["gpus"] == 0
    assert "gpu/nvidia: off" in plain.process.log()

    legacy = SchedulerClient("127.0.0.1", c.master_port)
    legacy.subscribe({"user": getpass.getuser(), "name": "no-gpus"})
    capable = SchedulerClient("127.0.0.1", c.master_port)
    capable.subscribe({"user": getpass.getuser(), "name": "gpus", "capabilities": [{"type": "GPU_RESOURCES"}]})
    try:
        # The legacy framework is offered the plain agent, never the GPU agent.
        seen = []
        poll(lambda: (seen.extend(offers_of(legacy, 1.0)) or
                      any(o["agent_id"]["value"] == plain.id for o in seen)), 60,
             what="an offer of the plain agent to the legacy framework")
        seen.extend(offers_of(legacy, 2.0))
        assert all(o["agent_id"]["value"] != gpu_agent.id for o in seen), seen
        # The capable framework gets the GPU agent with its GPUs.
        got = []
        poll(lambda: (got.extend(offers_of(capable, 1.0)) or
                      any(o["agent_id"]["value"] == gpu_agent.id for o in got)), 60,
             what="an offer of the GPU agent to the GPU_RESOURCES framework")
        offer = next(o for o in got if o["agent_id"]["value"] == gpu_agent.id)
        assert scalar(offer["resources"], "gpus") == 2
    finally:
        legacy.close()
        capable.close()


def assert_waits_for_a_gpu(fw, agent, waiting, holders, freed, visible):
    """Launches task `waiting` (one GPU) while every GPU is held by `holders`: it does
    not start for 2 s; once `freed` (one of them) is killed it runs with that task's
    GPUs (`visible`). Then every task is killed."""
    fw.launch(waiting, 'echo "GPUS=$CUDA_VISIBLE_DEVICES"; sleep 600', GPU_TASK)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        with fw.lock:
            assert not fw.states.get(waiting), f"{waiting} started while every GPU was taken: {fw.states}"
        time.sleep(0.1)
    fw.kill(freed)
    fw.wait_state(freed, "TASK_KILLED")
    fw.wait_state(waiting, "TASK_RUNNING")
    assert read_visible(agent, fw.framework_id, waiting) == visible
    for t in [h for h in holders if h != freed] + [waiting]:
        fw.kill(t)
        fw.wait_state(t, "TASK_KILLED")


def test_tasks_get_distinct_gpus_and_wait_for_one(cluster_factory):
    c = fake_gpu_cluster(cluster_factory, gpus=2)
    agent = c.agents[0]
    fw = GpuRunner(c.master_port)
    try:
        cmd = 'echo "GPUS=$CUDA_VISIBLE_DEVICES"; echo "NV=$NVIDIA_VISIBLE_DEVICES"; sleep 600'
        fw.launch("t1", cmd, GPU_TASK)
        fw.launch("t2", cmd, GPU_TASK)
        fw.wait_state("t1", "TASK_RUNNING")
        fw.wait_state("t2", "TASK_RUNNING")
        v1 = read_visible(agent, fw.framework_id, "t1")
        v2 = read_visible(agent, fw.framework_id, "t2")
        assert {v1, v2} == {"0", "1"}, (v1, v2)
        assert f"NV={v1}" in sandbox_stdout(agent, fw.framework_id, "t1").read_text()
        metrics = c.get_json("/metrics/snapshot")
        assert metrics["master/gpus_used"] == 2

        ok, why = devices_hierarchy()
        if ok:
            for tid, mine, other in (("t1", v1, v2), ("t2", v2, v1)):
                rules = devices_rules(agent, fw.framework_id, tid)
                # fake minors equal indexes
                assert f"c 195:{mine} rwm" in rules, rules
                assert f"c 195:{other} rwm" not in rules, rules
                assert "c 195:255 rwm" in rules, rules  # nvidiactl, for a container holding a GPU
                assert "a *:* rwm" not in rules, rules
        else:
            print(f"devices cgroup not checked: {why}")

        # Every GPU is taken: a third task waits until one ends, and then gets its GPU.
        assert_waits_for_a_gpu(fw, agent, "t3", ["t1", "t2"], "t1", v1)
    finally:
        fw.close()


def devices_rules(agent, framework_id, task_id):
    run = sandbox_stdout(agent, framework_id, task_id).parent
    return (container_cgroup("devices", run.name) / "devices.list").read_text().split("\n")


def test_gpus_of_recovered_tasks_stay_theirs(cluster_factory):
    """An agent restarted (--recover=reconnect) while a GPU task runs gives the task its
    GPU back: a new task gets the other one, and no third task fits."""
    c = fake_gpu_cluster(cluster_factory, gpus=2, extra_flags=["--executor_reregistration_timeout=10secs"])
    agent = c.agents[0]
    agent_id = agent.id
    fw = GpuRunner(c.master_port, name="gpu-recovery", info={"checkpoint": True, "failover_timeout": 3600})
    try:
        cmd = 'echo "GPUS=$CUDA_VISIBLE_DEVICES"; echo $$ > pid; sleep 600'
        fw.launch("g1", cmd, GPU_TASK)
        fw.wait_state("g1", "TASK_RUNNING")
        v1 = read_visible(agent, fw.framework_id, "g1")
        assert checkpointed_gpu_tasks(agent, fw.framework_id, "g1") == {v1: "g1"}  # tagged with its task
        pid = task_pid(agent, fw.framework_id, "g1")
        started = starttime(pid)

        sigkill_agent(agent)
        assert alive(pid), "the GPU task died with its agent"
        restart_agent(c, agent)

        def reregistered():
            slaves = [s for s in c.master_state().get("slaves", []) if s["id"] == agent_id]
            return slaves and slaves[0].get("active") and "reregistered_time" in slaves[0]
        poll(reregistered, 60, what="the agent to re-register under its id")
        st = agent.state()
        running = {t["id"] for f in st["frameworks"] for e in f["executors"] for t in e["tasks"]
                   if t["state"] == "TASK_RUNNING"}
        assert running == {"g1"}, st
        assert alive(pid) and starttime(pid) == started, "g1 is not the same process"

        # A new task gets the GPU g1 does not hold.
        fw.launch("g2", cmd, GPU_TASK)
        fw.wait_state("g2", "TASK_RUNNING")
        v2 = read_visible(agent, fw.framework_id, "g2")
        assert {v1, v2} == {"0", "1"}, (v1, v2)
        ok, why = devices_hierarchy()
        if ok:
            for tid, mine, other in (("g1", v1, v2), ("g2", v2, v1)):
                rules = devices_rules(agent, fw.framework_id, tid)
                assert f"c 195:{mine} rwm" in rules and f"c 195:{other} rwm" not in rules, (tid, rules)
        else:
            print(f"devices cgroup not checked: {why}")

        # Both GPUs are held: the master offers none, and a third GPU task waits.
        def gpus_used():
            slaves = [s for s in c.master_state()["slaves"] if s["id"] == agent_id]
            return slaves[0]["used_resources"].get("gpus", 0) == 2
        poll(gpus_used, 60, what="both GPUs used on the master")
        # The recovered task ends: its GPU goes to the waiting one.
        assert_waits_for_a_gpu(fw, agent, "g3", ["g1", "g2"], "g1", v1)
    finally:
        fw.close()


def test_task_without_gpus_is_denied_every_gpu(cluster_factory):
    ok, why = devices_hierarchy()
    if not ok:
        pytest.skip(why)
    c = fake_gpu_cluster(cluster_factory, gpus=2)
    agent = c.agents[0]
    fw = GpuRunner(c.master_port)
    try:
        fw.launch("plain", 'echo "GPUS=$CUDA_VISIBLE_DEVICES"; sleep 600', {"cpus": 0.1, "mem": 32.0})
        fw.wait_state("plain", "TASK_RUNNING")
        assert read_visible(agent, fw.framework_id, "plain") == ""
        run = sandbox_stdout(agent, fw.framework_id, "plain").parent
        dl = container_cgroup("devices", run.name) / "devices.list"
        rules = dl.read_text()
        assert "c 1:3 rwm" in rules  # /dev/null stays
        assert "195:" not in rules, rules
        fw.kill("plain")
        fw.wait_state("plain", "TASK_KILLED")
    finally:
        fw.close()


def probe_results(agent, framework_id, task_id, names):
    """{node name: "open" or errno name} printed by the device probe in the task's stdout."""
    def got():
        f = sandbox_stdout(agent, framework_id, task_id)
        return probed(f.read_text(), names) if f is not None else None
    return poll(got, 60, what=f"the device probe's lines in the stdout of {task_id}")


@needs_device_rules
def test_gpu_device_nodes_open_only_for_their_holder(cluster_factory, tmp_path):
    """The kernel enforces the device rules (cgroups v1 devices cgroup or v2 BPF
    program): a task opens the node of the GPU it holds (without NVIDIA's driver the
    open gets ENXIO, past the device check) and gets EPERM for the other GPU; a task
    holding no GPU gets EPERM for both, and /dev/null stays open to all."""
    # The fake NVML's minors equal its indexes.
    probe = device_probe(tmp_path / "dev", {"null": ("c", 1, 3), "nvidia0": ("c", MZ_GPU_MAJOR, 0),
                                            "nvidia1": ("c", MZ_GPU_MAJOR, 1)})
    c = fake_gpu_cluster(cluster_factory, gpus=2)
    agent = c.agents[0]
    assert "allows only the GPUs it holds" in agent.process.log(), agent.process.log_tail()
    fw = GpuRunner(c.master_port)
    cmd = f'echo "GPUS=$CUDA_VISIBLE_DEVICES"; {probe}; sleep 600'
    names = {"null", "nvidia0", "nvidia1"}
    try:
        fw.launch("g1", cmd, GPU_TASK)
        fw.launch("g2", cmd, GPU_TASK)
        fw.launch("plain", cmd, {"cpus": 0.1, "mem": 32.0})
        for t in ("g1", "g2", "plain"):
            fw.wait_state(t, "TASK_RUNNING")
        held = {t: read_visible(agent, fw.framework_id, t) for t in ("g1", "g2", "plain")}
        assert {held["g1"], held["g2"]} == {"0", "1"} and held["plain"] == "", held
        for t in ("g1", "g2"):
            res = probe_results(agent, fw.framework_id, t, names)
            mine, other = int(held[t]), 1 - int(held[t])
            assert res["null"] == "open", (t, res)
            assert res[f"nvidia{mine}"] != "EPERM", (t, held[t], res)
            assert res[f"nvidia{other}"] == "EPERM", (t, held[t], res)
        res = probe_results(agent, fw.framework_id, "plain", names)
        assert res == {"null": "open", "nvidia0": "EPERM", "nvidia1": "EPERM"}, res
        for t in ("g1", "g2", "plain"):
            fw.kill(t)
            fw.wait_state(t, "TASK_KILLED")
    finally:
        fw.close()


def test_launch_with_gpus_needs_the_capability(cluster_factory):
    c = fake_gpu_cluster(cluster_factory, gpus=2)
    plain = c.add_agent(flags=["--nvml_library=/nonexistent/libnvidia-ml.so.1"])
    legacy = SchedulerClient("127.0.0.1", c.master_port)
    legacy.subscribe({"user": getpass.getuser(), "name": "no-gpus"})
    try:
        offer = None
        while offer is None:
            ev = legacy.next_event(timeout=60)
            if ev["type"] == "OFFERS":
                offer = next((o for o in ev["offers"]["offers"] if o["agent_id"]["value"] == plain.id), None)
        task = {"name": "g", "task_id": {"value": "g"}, "agent_id": offer["agent_id"],
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                              {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                              {"name": "gpus", "type": "SCALAR", "scalar": {"value": 1}}],
                "command": {"value": "true"}}
        legacy.launch([offer["id"]], [task])
        while True:
            ev = legacy.next_event(timeout=60)
            if ev["type"] == "UPDATE":
                st = ev["update"]["status"]
                legacy.acknowledge(st)
                break
        assert st["state"] == "TASK_ERROR", st
        assert "GPU_RESOURCES" in st.get("message", ""), st
    finally:
        legacy.close()


def agent_exit(tmp_path, *flags, gpus=2):
    """Runs mezzo-agent with flags that must make it exit at once; (code, output)."""
    env = dict(os.environ, FAKE_NVML_GPUS=str(gpus))
    p = subprocess.run([BIN / "mezzo-agent", "--master=127.0.0.1:1", "--port=0", f"--work_dir={tmp_path}/w",
                        f"--nvml_library={FAKE_NVML}", *flags], env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_gpu_flags_are_validated(tmp_path):
    code, out = agent_exit(tmp_path, "--resources=cpus:1;mem:256;gpus:1")
    assert code == 2 and "--nvidia_gpu_devices" in out, out
    code, out = agent_exit(tmp_path, "--resources=cpus:1;mem:256;gpus:2", "--nvidia_gpu_devices=[1]")
    assert code == 2 and "must match" in out, out
    code, out = agent_exit(tmp_path, "--resources=cpus:1;mem:256;gpus:1", "--nvidia_gpu_devices=[5]")
    assert code == 2 and "does not exist" in out, out
    code, out = agent_exit(tmp_path, "--resources=cpus:1;mem:256;gpus:1.5", "--nvidia_gpu_devices=[1]")
    assert code == 2 and "whole number" in out, out
    code, out = agent_exit(tmp_path, "--isolation=gpu/nvidia", "--nvml_library=/nonexistent/libnvidia-ml.so.1")
    assert code == 2 and "cannot load NVML" in out, out


def test_nvidia_gpu_devices_restricts(cluster_factory):
    c = fake_gpu_cluster(cluster_factory, gpus=3, agents=0)
    agent = c.add_agent(resources="cpus:2;mem:1024;gpus:1", flags=["--nvidia_gpu_devices=[2]"])
    assert agent.state()["resources"]["gpus"] == 1
    fw = GpuRunner(c.master_port)
    try:
        fw.launch("only", 'echo "GPUS=$CUDA_VISIBLE_DEVICES"; sleep 600', GPU_TASK)
        fw.wait_state("only", "TASK_RUNNING")
        assert read_visible(agent, fw.framework_id, "only") == "2"
        fw.kill("only")
        fw.wait_state("only", "TASK_KILLED")
    finally:
        fw.close()


def real_nvml():
    """(count, why): the GPUs the real NVML finds, or None with the reason."""
    try:
        lib = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError as e:
        return None, f"no NVIDIA GPU on this machine (libnvidia-ml.so.1: {e})"
    if lib.nvmlInit_v2() != 0:
        return None, "no NVIDIA GPU on this machine (nvmlInit_v2 failed)"
    n = ctypes.c_uint(0)
    rc = lib.nvmlDeviceGetCount_v2(ctypes.byref(n))
    lib.nvmlShutdown()
    if rc != 0 or n.value == 0:
        return None, "no NVIDIA GPU on this machine (NVML finds none)"
    return n.value, ""


def test_real_nvml(cluster_factory):
    count, why = real_nvml()
    if count is None:
        print(why)
        pytest.skip(why)
    c = cluster_factory(agents=1)
    agent = c.agents[0]
    assert agent.state()["resources"]["gpus"] == count
    print(f"real NVML: {count} GPU(s); agent log: "
          + next((ln for ln in agent.process.log().splitlines() if "gpu/nvidia" in ln), ""))
    fw = GpuRunner(c.master_port)
    try:
        fw.launch("real", 'echo "GPUS=$CUDA_VISIBLE_DEVICES"; nvidia-smi -L || true; sleep 600', GPU_TASK)
        fw.wait_state("real", "TASK_RUNNING")
        visible = read_visible(agent, fw.framework_id, "real")
        assert visible.isdigit(), visible
        out = sandbox_stdout(agent, fw.framework_id, "real")
        poll(lambda: len(out.read_text().splitlines()) > 1, 30, what="nvidia-smi output")
        print(out.read_text())
        fw.kill("real")
        fw.wait_state("real", "TASK_KILLED")
    finally:
        fw.close()


# --------------------------------------------------------------------- task groups

def gpu_group_task(offer, res, tid, command):
    from test_executors import group_task
    t = group_task(offer, res, tid, command)
    taken = take_scalars(res, {"gpus": 1.0})
    assert taken is not None, f"no GPU left in the offer: {res}"
    t["resources"] += taken
    return t


def executor_stdouts(agent, framework_id, executor_id):
    """The stdout files of the executor's runs (not through the `latest` link)."""
    return [f for f in agent.work_dir.glob(f"slaves/*/frameworks/{framework_id}/executors/{executor_id}/runs/*/stdout")
            if f.parent.name != "latest"]


def group_visible(agent, framework_id, executor_id, tag):
    """The value the task printed as <tag>=... in the default executor's stdout."""
    def line():
        for f in executor_stdouts(agent, framework_id, executor_id):
            for ln in f.read_text().splitlines():
                if ln.startswith(tag + "="):
                    return (ln[len(tag) + 1:],)
        return None
    return poll(line, 60, what=f"{tag} in the stdout of executor {executor_id}")[0]


def checkpointed_gpu_lines(agent, framework_id, executor_id):
    """The lines of the executor run's gpus file, split ([index, minor] or [index, minor, task])."""
    files = list(agent.work_dir.glob(f"meta/slaves/*/frameworks/{framework_id}/executors/{executor_id}/runs/*/gpus"))
    files = [f for f in files if f.parent.name != "latest"]
    return [ln.split() for ln in files[0].read_text().splitlines() if ln.strip()] if files else None


def checkpointed_gpus(agent, framework_id, executor_id):
    lines = checkpointed_gpu_lines(agent, framework_id, executor_id)
    return sorted(ln[0] for ln in lines) if lines is not None else None


def checkpointed_gpu_tasks(agent, framework_id, executor_id):
    """{GPU index: the task it was given for ("" for the executor's own)}."""
    lines = checkpointed_gpu_lines(agent, framework_id, executor_id)
    return {ln[0]: (ln[2] if len(ln) > 2 else "") for ln in lines} if lines is not None else None


def executor_devices_rules(agent, framework_id, executor_id):
    run = next(p for p in agent.work_dir.glob(f"slaves/*/frameworks/{framework_id}/executors/{executor_id}/runs/*")
               if p.name != "latest")
    return (container_cgroup("devices", run.name) / "devices.list").read_text()


def group_probe(tmp_path, tag):
    """(shell command, node names): probes nodes <tag>0 and <tag>1 (GPUs 0 and 1) from a
    task of a group, or ("true", None) where device rules are not enforced here."""
    if not DEVICE_RULES:
        return "true", None
    nodes = {f"{tag}{m}": ("c", MZ_GPU_MAJOR, m) for m in (0, 1)}
    return device_probe(tmp_path / tag, nodes), set(nodes)


def group_probed(agent, framework_id, executor_id, names):
    """What the group's task printed for the nodes `names` in the default executor's stdout."""
    def got():
        for f in executor_stdouts(agent, framework_id, executor_id):
            res = probed(f.read_text(), names)
            if res:
                return res
        return None
    return poll(got, 60, what=f"the device probe of {sorted(names)} in the stdout of executor {executor_id}")


def test_later_task_group_gets_its_gpus(cluster_factory, tmp_path):
    """A task group given to a running default executor that asks for gpus: the
    container gets another GPU (device rules, checkpoint), the new task is told its own
    GPU in CUDA_VISIBLE_DEVICES, and the GPU goes back when that task ends. Where device
    rules are enforced (v1 devices cgroup, v2 BPF program) each task probes both GPUs'
    nodes: the first opens its own only, the second (the container then holding both)
    both, and a third one, after the second's GPU went back, the first's only."""
    from test_executors import Framework, group_task, launch_group, launch_more
    c = fake_gpu_cluster(cluster_factory, gpus=2)
    agent = c.agents[0]
    fw = Framework(c, "gpu-groups", info={"capabilities": [{"type": "GPU_RESOURCES"}], "checkpoint": True})
    if not DEVICE_RULES:
        print(f"device access not probed: {DEVICE_RULES_WHY}")
    try:
        offer = fw.offer()
        res = [dict(r) for r in offer["resources"]]
        probe1, names1 = group_probe(tmp_path, "first")
        first = gpu_group_task(offer, res, "gpu-first", f'echo "FIRST=$CUDA_VISIBLE_DEVICES"; {probe1}; sleep 600')
        executor = launch_group(fw, offer, res, "gpu-group-exec", [first])
        fw.pump(lambda: fw.state("gpu-first") == "TASK_RUNNING", "the first group to run")
        v1 = group_visible(agent, fw.c.framework_id["value"], "gpu-group-exec", "FIRST")
        assert v1 in ("0", "1"), v1
        v2 = "1" if v1 == "0" else "0"
        fw_id = fw.c.framework_id["value"]
        assert checkpointed_gpus(agent, fw_id, "gpu-group-exec") == [v1]
        if names1:
            got = group_probed(agent, fw_id, "gpu-group-exec", names1)
            assert got[f"first{v1}"] != "EPERM" and got[f"first{v2}"] == "EPERM", (v1, got)

        probe2, names2 = group_probe(tmp_path, "second")
        launch_more(fw, executor, lambda offer, res: [
            gpu_group_task(offer, res, "gpu-second", f'echo "SECOND=$CUDA_VISIBLE_DEVICES"; {probe2}; sleep 600')])
        fw.pump(lambda: fw.state("gpu-second") == "TASK_RUNNING", "the second group to run")
        assert group_visible(agent, fw_id, "gpu-group-exec", "SECOND") == v2
        assert checkpointed_gpus(agent, fw_id, "gpu-group-exec") == ["0", "1"]
        if names2:
            got = group_probed(agent, fw_id, "gpu-group-exec", names2)
            assert got["second0"] != "EPERM" and got["second1"] != "EPERM", got
        ok, why = devices_hierarchy()
        if ok:
            rules = executor_devices_rules(agent, fw_id, "gpu-group-exec")
            assert "c 195:0 rwm" in rules and "c 195:1 rwm" in rules, rules

        # The second task ends: its GPU goes back (one kept for the first task).
        fw.c.kill("gpu-second", agent.id)
        fw.pump(lambda: fw.state("gpu-second") == "TASK_KILLED", "the second task to be killed")
        poll(lambda: checkpointed_gpus(agent, fw_id, "gpu-group-exec") == [v1], 60,
             what="one GPU given back by the container")
        assert "gave back 1 GPU" in agent.process.log()
        if names2:
            probe3, names3 = group_probe(tmp_path, "third")
            launch_more(fw, executor, lambda offer, res: [group_task(offer, res, "gpu-third", f"{probe3}; sleep 600")])
            fw.pump(lambda: fw.state("gpu-third") == "TASK_RUNNING", "the third group to run")
            got = group_probed(agent, fw_id, "gpu-group-exec", names3)
            assert got[f"third{v1}"] != "EPERM" and got[f"third{v2}"] == "EPERM", (v1, got)
            fw.c.kill("gpu-third", agent.id)
            fw.pump(lambda: fw.state("gpu-third") == "TASK_KILLED", "the third task to be killed")
        fw.c.kill("gpu-first", agent.id)
        fw.pump(lambda: fw.state("gpu-first") == "TASK_KILLED", "the first task to be killed")
    finally:
        fw.close()


def test_running_task_keeps_its_gpu_when_another_ends(cluster_factory):
    """Two task groups on one default executor, one GPU each: each task is told its
    own GPU; when the first group's task ends exactly its GPU goes back (the second
    task's stays with the container: checkpoint, devices cgroup), and the next task
    asking for a GPU gets the first task's former one."""
    from test_executors import Framework, launch_group, launch_more
    c = fake_gpu_cluster(cluster_factory, gpus=2)
    agent = c.agents[0]
    ex_id = "gpu-keep-exec"
    fw = Framework(c, "gpu-keep", info={"capabilities": [{"type": "GPU_RESOURCES"}], "checkpoint": True})
    try:
        offer = fw.offer()
        res = [dict(r) for r in offer["resources"]]
        a_task = gpu_group_task(offer, res, "gpu-a", 'echo "A=$CUDA_VISIBLE_DEVICES"; sleep 600')
        executor = launch_group(fw, offer, res, ex_id, [a_task])
        fw.pump(lambda: fw.state("gpu-a") == "TASK_RUNNING", "task A to run")
        fw_id = fw.c.framework_id["value"]
        va = group_visible(agent, fw_id, ex_id, "A")
        assert va in ("0", "1"), va

        launch_more(fw, executor, lambda offer, res: [gpu_group_task(
            offer, res, "gpu-b", 'echo "B=$CUDA_VISIBLE_DEVICES"; echo "NVB=$NVIDIA_VISIBLE_DEVICES"; sleep 600')])
        fw.pump(lambda: fw.state("gpu-b") == "TASK_RUNNING", "task B to run")
        vb = group_visible(agent, fw_id, ex_id, "B")
        assert {va, vb} == {"0", "1"}, (va, vb)  # one GPU each, not the same
        assert group_visible(agent, fw_id, ex_id, "NVB") == vb
        assert checkpointed_gpu_tasks(agent, fw_id, ex_id) == {va: "gpu-a", vb: "gpu-b"}

        # A ends: its GPU goes back, B keeps its own.
        fw.c.kill("gpu-a", agent.id)
        fw.pump(lambda: fw.state("gpu-a") == "TASK_KILLED", "task A to be killed")
        poll(lambda: checkpointed_gpu_tasks(agent, fw_id, ex_id) == {vb: "gpu-b"}, 60,
             what=f"the container to keep only GPU {vb} (task B's)")
        poll(lambda: f"gave back 1 GPU of task gpu-a, keeps '{vb}'" in agent.process.log(), 60,
             what="the agent to log the GPU task A gave back")
        ok, why = devices_hierarchy()
        if ok:
            def b_only():
                rules = executor_devices_rules(agent, fw_id, ex_id).split("\n")
                return f"c 195:{vb} rwm" in rules and f"c 195:{va} rwm" not in rules
            poll(b_only, 60, what=f"the devices cgroup to allow GPU {vb} only")
        else:
            print(f"devices cgroup not checked: {why}")
        assert fw.state("gpu-b") == "TASK_RUNNING", fw.states

        # The next task asking for a GPU gets A's former one.
        launch_more(fw, executor, lambda offer, res: [
            gpu_group_task(offer, res, "gpu-c", 'echo "C=$CUDA_VISIBLE_DEVICES"; sleep 600')])
        fw.pump(lambda: fw.state("gpu-c") == "TASK_RUNNING", "task C to run")
        assert group_visible(agent, fw_id, ex_id, "C") == va
        assert checkpointed_gpu_tasks(agent, fw_id, ex_id) == {va: "gpu-c", vb: "gpu-b"}
        for t in ("gpu-b", "gpu-c"):
            fw.c.kill(t, agent.id)
            fw.pump(lambda: fw.state(t) == "TASK_KILLED", f"task {t} to be killed")
    finally:
        fw.close()
