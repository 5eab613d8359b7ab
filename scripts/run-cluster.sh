#!/usr/bin/env bash
# `make run`: a local mezzo cluster in the foreground: one mezzo-master on
# 127.0.0.1:5050 (work dir ./run/master) and one mezzo-agent (work dir
# ./run/agent; it detects this machine's cpus, mem and disk and offers ports
# 31000-32000). Logs go to ./run/mezzo-master.log and ./run/mezzo-agent.log
# (--log_dir, so that the web UI's Log page and /files/read?path=/master/log or
# /slave/log show them; what either prints before its log is open is appended to
# the same file). Ctrl-C or SIGTERM stops both cleanly. Override with MASTER_PORT,
# AGENT_PORT, BIN_DIR, RUN_DIR.
set -uo pipefail

cd "$(dirname "$0")/.."
BIN_DIR=${BIN_DIR:-build/bin}
IP=127.0.0.1
MASTER_PORT=${MASTER_PORT:-5050}
AGENT_PORT=${AGENT_PORT:-5051}
RUN_DIR=${RUN_DIR:-"$PWD/run"}
MASTER_LOG="$RUN_DIR/mezzo-master.log" # the names --log_dir gives them
AGENT_LOG="$RUN_DIR/mezzo-agent.log"
START_TIMEOUT=${START_TIMEOUT:-60}

die() { echo "run-cluster: $*" >&2; exit 1; }

for b in mezzo-master mezzo-agent mezzo-executor mezzo; do
  [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing: build first (make build)"
done

# A port is taken if something accepts connections on it.
port_taken() { (exec 3<>"/dev/tcp/$IP/$1") 2>/dev/null; }
port_taken "$MASTER_PORT" && die "port $MASTER_PORT is already in use on $IP (another master?); stop it or set MASTER_PORT"
port_taken "$AGENT_PORT" && die "port $AGENT_PORT is already in use on $IP; stop it or set AGENT_PORT"

mkdir -p "$RUN_DIR/master" "$RUN_DIR/agent" || die "cannot create $RUN_DIR"
# Our flags, not stray MEZZO_* settings from the environment.
unset MEZZO_PORT MEZZO_IP MEZZO_WORK_DIR MEZZO_MASTER MEZZO_RESOURCES

MASTER_PID=""
AGENT_PID=""
stopping=0
cleanup() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap '' INT TERM
  echo
  echo "Stopping the cluster..."
  [ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null
  [ -n "$MASTER_PID" ] && kill -TERM "$MASTER_PID" 2>/dev/null
  for pid in $AGENT_PID $MASTER_PID; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  echo "Stopped. Logs: $MASTER_LOG $AGENT_LOG"
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

"$BIN_DIR/mezzo-master" --ip="$IP" --port="$MASTER_PORT" --work_dir="$RUN_DIR/master" --log_dir="$RUN_DIR" \
  >>"$MASTER_LOG" 2>&1 &
MASTER_PID=$!

fetch_state() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 2 "http://$IP:$MASTER_PORT/master/state" 2>/dev/null
  else
    python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://$IP:$MASTER_PORT/master/state', timeout=2).read().decode())" 2>/dev/null
  fi
}
agents_in() { python3 -c 'import json,sys; print(len([a for a in json.load(sys.stdin).get("slaves", []) if a.get("active", True)]))' 2>/dev/null; }

deadline=$((SECONDS + START_TIMEOUT))
until fetch_state >/dev/null; do
  kill -0 "$MASTER_PID" 2>/dev/null || { tail -n 20 "$MASTER_LOG" >&2; die "mezzo-master exited (log: $MASTER_LOG)"; }
  [ $SECONDS -ge $deadline ] && die "mezzo-master did not answer within ${START_TIMEOUT}s (log: $MASTER_LOG)"
  sleep 0.2
done

"$BIN_DIR/mezzo-agent" --master="$IP:$MASTER_PORT" --ip="$IP" --port="$AGENT_PORT" --work_dir="$RUN_DIR/agent" \
  --log_dir="$RUN_DIR" >>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!

deadline=$((SECONDS + START_TIMEOUT))
until [ "$(fetch_state | agents_in)" -ge 1 ] 2>/dev/null; do
  kill -0 "$AGENT_PID" 2>/dev/null || { tail -n 20 "$AGENT_LOG" >&2; die "mezzo-agent exited (log: $AGENT_LOG)"; }
  kill -0 "$MASTER_PID" 2>/dev/null || { tail -n 20 "$MASTER_LOG" >&2; die "mezzo-master exited (log: $MASTER_LOG)"; }
  [ $SECONDS -ge $deadline ] && die "the agent did not register within ${START_TIMEOUT}s (logs: $MASTER_LOG $AGENT_LOG)"
  sleep 0.2
done

cat <<EOF
mezzo is running.

  master:  http://$IP:$MASTER_PORT   (web UI; state: http://$IP:$MASTER_PORT/master/state)
  agent:   http://$IP:$AGENT_PORT    (work dir $RUN_DIR/agent)
  logs:    $MASTER_LOG  $AGENT_LOG

Run a task:
  $BIN_DIR/mezzo execute --master=$IP:$MASTER_PORT --name=hello --command='echo hello from mezzo'
See the cluster:
  $BIN_DIR/mezzo state --master=$IP:$MASTER_PORT

Press Ctrl-C to stop.
EOF

# Wait for either process to exit (or a signal); `wait -n` returns on the first.
while kill -0 "$MASTER_PID" 2>/dev/null && kill -0 "$AGENT_PID" 2>/dev/null; do
  wait -n "$MASTER_PID" "$AGENT_PID" 2>/dev/null
done
kill -0 "$MASTER_PID" 2>/dev/null || echo "run-cluster: mezzo-master exited; see $MASTER_LOG" >&2
kill -0 "$AGENT_PID" 2>/dev/null || echo "run-cluster: mezzo-agent exited; see $AGENT_LOG" >&2
exit 1
