"""zkensemble: a real ZooKeeper (Debian's `zookeeper` package) started on free
loopback ports, for the tests (test_zk.py, test_chaos.py) and bench-failover:
one server, or an ensemble of n. tick_ms is ZooKeeper's tickTime, which also
rounds its session expiries (a smaller tick makes failovers measure closer to
the session timeout)."""
import pathlib
import shutil
import socket
import subprocess

from cluster import ROOT, Process, free_port, poll

ZK_JAR = pathlib.Path("/usr/share/java/zookeeper.jar")
ZK_CONF_DIR = pathlib.Path("/etc/zookeeper/conf")  # its log4j.properties


def zookeeper_available():
    """(ok, reason): the Java server is installed, installing it with scripts/deps.sh if needed."""
    if ZK_JAR.exists() and shutil.which("java"):
        return True, ""
    try:
        r = subprocess.run([str(ROOT / "scripts" / "deps.sh")], capture_output=True, text=True, timeout=900)
        detail = (r.stdout + r.stderr)[-400:]
    except (OSError, subprocess.TimeoutExpired) as e:
        detail = repr(e)
    if ZK_JAR.exists() and shutil.which("java"):
        return True, ""
    return False, f"the zookeeper package is not installed and cannot be installed: {detail}"


def four_letter(port, word, timeout=2.0):
    """A ZooKeeper four-letter command's answer ("" when the server does not answer)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            out = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                out += b
        return out.decode(errors="replace")
    except OSError:
        return ""


class ZooKeeper:
    """n ZooKeeper servers (an ensemble when n > 1) under root, on free loopback ports."""

    def __init__(self, root, n, tick_ms=500, heap="128m"):
        self.root = pathlib.Path(root)
        self.n = n
        self.tick_ms = tick_ms
        self.heap = heap
        self.procs = []
        self.client_ports = []

    def start(self):
        ids = range(1, self.n + 1)
        self.client_ports = [free_port() for _ in ids]
        quorum = [(free_port(), free_port()) for _ in ids]
        for i in ids:
            d = self.root / f"zk{i}"
            (d / "data").mkdir(parents=True, exist_ok=True)
            (d / "data" / "myid").write_text(f"{i}\n")
            ticks = lambda seconds: max(2, int(seconds * 1000 / self.tick_ms))  # noqa: E731
            cfg = [
                f"tickTime={self.tick_ms}", f"initLimit={ticks(20)}", f"syncLimit={ticks(10)}", f"dataDir={d / 'data'}",
                f"clientPort={self.client_ports[i - 1]}", "clientPortAddress=127.0.0.1",
                "admin.enableServer=false", "4lw.commands.whitelist=srvr,ruok",
                "minSessionTimeout=1000", "maxSessionTimeout=60000", "maxClientCnxns=0",
            ]
            if self.n > 1:
                cfg += [f"server.{j}=127.0.0.1:{quorum[j - 1][0]}:{quorum[j - 1][1]}" for j in ids]
            (d / "zoo.cfg").write_text("\n".join(cfg) + "\n")
            main = ("org.apache.zookeeper.server.quorum.QuorumPeerMain" if self.n > 1
                    else "org.apache.zookeeper.server.ZooKeeperServerMain")
            argv = ["java", f"-Xmx{self.heap}", "-Dzookeeper.root.logger=INFO,CONSOLE", "-Dzookeeper.console.threshold=WARN",
                    "-cp", f"{ZK_CONF_DIR}:{ZK_JAR}", main, str(d / "zoo.cfg")]
            self.procs.append(Process(f"zk{i}", argv, self.root / "logs" / f"zk{i}.log").start())
        return self

    def serving(self):
        """Every server answers srvr with its mode (the ensemble has a leader)."""
        for p in self.client_ports:
            if "Mode:" not in four_letter(p, "srvr"):
                return False
        return True

    def wait(self, timeout):
        poll(self.serving, timeout, interval=0.2, what=f"ZooKeeper ({self.n} node(s)) to serve")

    @property
    def hosts(self):
        return ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    def stop(self):
        for p in self.procs:
            p.stop(grace=5)
