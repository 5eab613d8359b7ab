"""benchlib: the process and polling helpers the Python benchmarks share
(bench_scale.py, bench_failover.py); python3 stdlib only."""
import http.client
import pathlib
import signal
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "system"))
from cluster import free_port  # noqa: E402,F401  (the tests' helper, re-exported)

__all__ = ["BenchError", "free_port", "stop", "wait_for"]


class BenchError(Exception):
    pass


def wait_for(fn, timeout, what, interval=0.5, procs=()):
    """Polls fn() until it returns a true value (returned), every interval seconds.
    Connection and parse errors of fn count as "not yet". BenchError if one of
    procs ((Popen, name) pairs) exits first, or after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for p, name in procs:
            if p.poll() is not None:
                raise BenchError(f"{name} exited with {p.returncode} while waiting for {what}")
        try:
            v = fn()
            if v:
                return v
            last = None
        except (OSError, BenchError, http.client.HTTPException, ValueError) as e:
            last = e
        time.sleep(interval)
    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" ({last!r})" if last else ""))


def stop(p, grace=30):
    """SIGTERM, then SIGKILL after grace seconds; waits for the process."""
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=10)
