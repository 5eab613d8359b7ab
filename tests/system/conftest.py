"""Fixtures for the system tests: `cluster` is a running master with one agent
(see cluster.py); `cluster_factory` builds more (several agents, other flags);
`stalling_server` is an HTTP server that holds requests until released.
BIN is defined here too, because pytest may resolve `from conftest import BIN`
in tests/ to this file."""
import pytest

from cluster import BIN, DEFAULT_AGENT_RESOURCES, Cluster  # noqa: F401 (re-exported)


def _require_binaries():
    missing = [n for n in ("mezzo-master", "mezzo-agent", "mezzo-executor") if not (BIN / n).is_file()]
    if missing:
        pytest.fail(f"missing binaries in {BIN}: {', '.join(missing)} (build first, or set MEZZO_BIN)")


@pytest.fixture
def cluster_factory(tmp_path):
    made = []

    def make(agents=1, resources=DEFAULT_AGENT_RESOURCES, **kw):
        _require_binaries()
        c = Cluster(tmp_path / f"cluster{len(made)}", agents=agents, resources=resources, **kw)
        made.append(c)
        return c

    yield make
    errors = []
    for c in made:
        try:
            c.stop(check=True)
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def cluster(cluster_factory):
    return cluster_factory()


@pytest.fixture
def stalling_server():
    from test_executors import StallingServer  # the test module that defines it
    srv = StallingServer()
    yield srv
    srv.release()
    srv.close()
