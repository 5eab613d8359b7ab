"""A real mezzo cluster for system tests: one mezzo-master and N mezzo-agents as
processes, each on its own free port with its own work_dir under the test's
tmp_path and its log in <tmp_path>/logs/<name>.log.

    with Cluster(tmp_path, agents=2, resources="cpus:4;mem:4096") as c:
        state = c.master_state()

Waiting is always polling with a generous deadline, never a fixed sleep.
stop() sends SIGTERM, then SIGKILL after a grace period, and fails the test if
any process (or an executor, from the sandboxes' stderr) left a sanitizer
report, or if a process died before it was asked to stop.

The binaries come from MEZZO_BIN (default <repo>/build-test/bin), as in
tests/conftest.py.
"""
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BIN = pathlib.Path(os.environ.get("MEZZO_BIN", ROOT / "build-test" / "bin"))

DEFAULT_AGENT_RESOURCES = "cpus:4;mem:4096;disk:8192;ports:[31000-32000]"
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "ERROR: UndefinedBehaviorSanitizer",
    "runtime error:",
)
START_TIMEOUT = 30.0
STOP_GRACE = 15.0


class ClusterError(AssertionError):
    pass


_issued_ports = set()


def free_port():
    """A port that was free a moment ago, never the same one twice in a run. It is taken
    below the kernel's ephemeral range: an outgoing connection of a process under test (to
    ZooKeeper, to a master) takes its local port from that range, and could take this one
    in the moment before the process it is meant for binds it ("Address already in use")."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    for _ in range(500 if low > 11000 else 0):
        port = random.randrange(10000, low)
        if port in _issued_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _issued_ports.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # no room below the range: the kernel's pick
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(fn, timeout, interval=0.05, what="condition"):
    """Calls fn until it returns something truthy; returns that. Raises on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - polling tolerates transient errors
            last_exc = e
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}"
                               + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def http_get(port, path, host="127.0.0.1", timeout=10.0):
    """GET http://host:port/path -> (status, body bytes)."""
    req = urllib.request.Request(f"http://{host}:{port}{path}", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get_json(port, path, host="127.0.0.1", timeout=10.0):
    status, body = http_get(port, path, host, timeout)
    if status != 200:
        raise ClusterError(f"GET {path} on port {port} answered {status}: {body[:500]!r}")
    return json.loads(body)


def sanitizer_report(text):
    """The part of text from the first sanitizer marker on, or None."""
    for m in SANITIZER_MARKERS:
        i = text.find(m)
        if i >= 0:
            start = text.rfind("\n", 0, max(0, i - 2000)) + 1
            return text[start:i + 6000]
    return None


def kill_processes_under(directory):
    """SIGKILLs this user's processes whose working directory is inside directory
    (executors and tasks left behind in sandboxes). Returns how many."""
    directory = str(pathlib.Path(directory).resolve())
    n = 0
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == directory or cwd.startswith(directory + "/"):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                n += 1
            except OSError:
                pass
    return n


class Process:
    """One binary running with stdout+stderr in a log file."""

    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = pathlib.Path(log_path)
        self.env = env
        self.proc = None
        self.stopping = False
        self.returncode = None

    def start(self):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # Our own flags must not be overridden by stray MEZZO_* variables of the caller.
        for k in list(env):
            if k.startswith("MEZZO_") and k != "MEZZO_BIN":
                del env[k]
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if self.env:
            env.update(self.env)
        with open(self.log_path, "ab") as log:
            log.write(("$ " + " ".join(self.argv) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log().splitlines()[-n:])

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, grace=STOP_GRACE):
        """SIGTERM, then SIGKILL (of the whole process group) after grace seconds. Returns the exit code."""
        if self.proc is None:
            return None
        self.stopping = True
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode
        # Anything left in its process group (executors, tasks) goes too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return self.returncode


class Agent:
    def __init__(self, cluster, index, port, work_dir, resources, process):
        self.cluster = cluster
        self.index = index
        self.port = port
        self.work_dir = pathlib.Path(work_dir)
        self.resources = resources
        self.process = process
        self.id = None  # filled once registered

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def state(self):
        return get_json(self.port, "/state")

    def sandboxes(self):
        """Every run directory under this agent's work_dir (Mesos layout)."""
        return sorted(self.work_dir.glob("slaves/*/frameworks/*/executors/*/runs/*"))


class Cluster:
    """A master and N agents. Use as a context manager or call start()/stop()."""

    def __init__(self, tmp_path, agents=1, resources=DEFAULT_AGENT_RESOURCES, master_flags=(), agent_flags=(),
                 start=True, env=None):
        self.root = pathlib.Path(tmp_path)
        self.logs = self.root / "logs"
        self.n_agents_initial = agents
        self.default_resources = resources
        self.master_flags = list(master_flags)
        self.agent_flags = list(agent_flags)
        self.env = env
        self.master = None
        self.master_port = None
        self.agents = []
        self.extra = []  # other Processes whose logs are checked at stop
        self._stopped = False
        if start:
            self.start()

    # ------------------------------------------------------------ lifecycle
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop(check=exc[0] is None)
        return False

    def start(self):
        try:
            self.start_master()
            for _ in range(self.n_agents_initial):
                self.add_agent(wait=False)
            if self.n_agents_initial:
                self.wait_agents(self.n_agents_initial)
        except BaseException:
            self.stop(check=False)
            raise
        return self

    @property
    def master_address(self):
        return f"127.0.0.1:{self.master_port}"

    @property
    def master_url(self):
        return f"http://{self.master_address}"

    def start_master(self, attempts=5):
        last = ""
        for attempt in range(attempts):
            port = free_port()
            work_dir = self.root / "master"
            work_dir.mkdir(parents=True, exist_ok=True)
            p = Process("master", [BIN / "mezzo-master", "--ip=127.0.0.1", f"--port={port}",
                                   f"--work_dir={work_dir}", *self.master_flags],
                        self.logs / f"master-{attempt}.log" if attempt else self.logs / "master.log", self.env)
            p.start()
            self.master, self.master_port = p, port

            def up():
                if not p.alive():
                    raise ClusterError("master exited")
                status, _ = http_get(port, "/master/state", timeout=2)
                return status == 200

            try:
                poll(up, START_TIMEOUT, what=f"the master on port {port}")
                return p
            except ClusterError:
                last = p.log_tail()
                p.stop(grace=5)
                if "in use" not in last.lower():
                    break
        raise ClusterError(f"mezzo-master did not start:\n{last}")

    def add_agent(self, resources=None, flags=(), wait=True, attempts=5):
        index = len(self.agents)
        resources = resources if resources is not None else self.default_resources
        last = ""
        for attempt in range(attempts):
            port = free_port()
            work_dir = self.root / f"agent{index}"
            work_dir.mkdir(parents=True, exist_ok=True)
            argv = [BIN / "mezzo-agent", f"--master={self.master_address}", "--ip=127.0.0.1", f"--port={port}",
                    f"--work_dir={work_dir}", *self.agent_flags, *flags]
            if resources:
                argv.append(f"--resources={resources}")
            log = self.logs / (f"agent{index}.log" if not attempt else f"agent{index}-{attempt}.log")
            p = Process(f"agent{index}", argv, log, self.env)
            p.start()

            def up():
                if not p.alive():
                    raise ClusterError("agent exited")
                status, _ = http_get(port, "/state", timeout=2)
                return status == 200

            try:
                poll(up, START_TIMEOUT, what=f"agent{index} on port {port}")
            except ClusterError:
                last = p.log_tail()
                p.stop(grace=5)
                if "in use" in last.lower():
                    continue
                raise ClusterError(f"mezzo-agent did not start:\n{last}")
            agent = Agent(self, index, port, work_dir, resources, p)
            self.agents.append(agent)
            if wait:
                self.wait_agents(len(self.agents))
            return agent
        raise ClusterError(f"mezzo-agent did not start:\n{last}")

    def wait_agents(self, n, timeout=60.0):
        """Polls /master/state until n agents are registered and active; fills in their ids."""
        def registered():
            self.check_alive()
            slaves = [s for s in self.master_state().get("slaves", []) if s.get("active", True)]
            if len(slaves) < n:
                return None
            return slaves

        slaves = poll(registered, timeout, what=f"{n} agent(s) to register with the master")
        by_port = {}
        for s in slaves:
            port = s.get("port")
            if port is None and isinstance(s.get("pid"), str) and ":" in s["pid"]:
                port = int(s["pid"].rsplit(":", 1)[1])
            by_port[port] = s["id"]
        for a in self.agents:
            if a.id is None:
                a.id = by_port.get(a.port)
                if a.id is None and len(self.agents) == 1 and len(slaves) == 1:
                    a.id = slaves[0]["id"]
        return slaves

    def check_alive(self):
        for p in self.processes():
            if p.proc is not None and not p.stopping and not p.alive():
                raise ClusterError(f"{p.name} exited with {p.proc.returncode}:\n{p.log_tail()}")

    def processes(self):
        out = [a.process for a in self.agents]
        out.extend(self.extra)
        if self.master:
            out.append(self.master)
        return out

    def stop(self, check=True):
        """Stops agents, then the master; with check, fails on sanitizer reports and early deaths."""
        if self._stopped:
            return
        self._stopped = True
        problems = []
        for p in self.processes():
            if p.proc is not None and not p.alive() and not p.stopping and p.proc.returncode not in (0, None):
                problems.append(f"{p.name} died before the end of the test (exit {p.proc.returncode}):\n"
                                f"{p.log_tail()}")
        for p in self.processes():
            p.stop()
        for a in self.agents:
            kill_processes_under(a.work_dir)
        for p in self.processes():
            rep = sanitizer_report(p.log())
            if rep:
                problems.append(f"sanitizer report in {p.name} ({p.log_path}):\n{rep}")
        for a in self.agents:
            for f in a.work_dir.glob("slaves/*/frameworks/*/executors/*/runs/*/stderr"):
                try:
                    rep = sanitizer_report(f.read_text(errors="replace"))
                except OSError:
                    rep = None
                if rep:
                    problems.append(f"sanitizer report in executor stderr {f}:\n{rep}")
        if check and problems:
            raise ClusterError("\n\n".join(problems))

    # ------------------------------------------------------------ endpoints
    def get(self, path, port=None):
        return http_get(port or self.master_port, path)

    def get_json(self, path, port=None):
        return get_json(port or self.master_port, path)

    def master_state(self):
        return self.get_json("/master/state")

    def agent_state(self, agent=None):
        agent = agent or self.agents[0]
        return agent.state()

    def wait_master(self, pred, timeout=60.0, what="master state"):
        """Polls /master/state until pred(state) is truthy; returns pred's value."""
        def check():
            self.check_alive()
            return pred(self.master_state())
        return poll(check, timeout, what=what)

    def logs_text(self):
        return "\n".join(f"==== {p.name} ====\n{p.log_tail(40)}" for p in self.processes())
