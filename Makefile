# The README's two commands: `make run` (a local cluster) and `make test` (every test).
# Both install missing Debian packages first (scripts/deps.sh), then build with CMake.
#   build/      optimized binaries (build/bin/mezzo-master, mezzo-agent, mezzo-executor, mezzo)
#   build-test/ the same with ASan+UBSan, used by the test suite
JOBS ?= $(shell nproc)
PYTHON ?= /usr/bin/python3
PYTEST_ARGS ?=

.PHONY: all deps build build-test run test unit clean bench-allocator bench-scale bench-launch bench-failover

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)

build-test: deps
	@cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DMZ_SANITIZE=ON >/dev/null
	@cmake --build build-test -j $(JOBS)

run: build
	@bash scripts/run-cluster.sh

test: build build-test
	@MEZZO_BIN=$(CURDIR)/build-test/bin $(PYTHON) -m pytest -q tests $(PYTEST_ARGS)

# Figures, not tests: see the README's performance section.
bench-allocator: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS) --target bench-allocator
	@build/bin/bench-allocator

# Issue 4: a master with 1,000 to 100,000 emulated agents (mezzo-sim); AGENTS=N runs one point.
AGENTS ?=
bench-scale: build
	@MEZZO_BIN=$(CURDIR)/build/bin $(PYTHON) bench/bench_scale.py $(if $(AGENTS),--agents=$(AGENTS))

# Issue 5: 5,000 `true` tasks through one real master and agent, against posix_spawn's rate.
TASKS ?=
bench-launch: build
	@MEZZO_BIN=$(CURDIR)/build/bin $(PYTHON) bench/bench_launch.py $(if $(TASKS),--tasks=$(TASKS))

# Issue 6: SIGKILL the leading master of 3 (ZooKeeper, --zk_session_timeout=2secs) with N emulated
# agents and a framework; one line per round. AGENTS=N runs one point (default 1,000 and 10,000).
bench-failover: build
	@MEZZO_BIN=$(CURDIR)/build/bin $(PYTHON) bench/bench_failover.py $(if $(AGENTS),--agents=$(AGENTS))

clean:
	rm -rf build build-test
