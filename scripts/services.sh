#!/usr/bin/env bash
# Starts, stops and reports the three services as background processes, the way `make up` runs
# them: one process each, JSON logs in .run/logs/<service>.log, pid in .run/<service>.pid.
#   scripts/services.sh start|stop|status
# SERVICE_NODE_FLAGS adds flags to each service's node, e.g. to profile a bench run:
#   SERVICE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" make up   (written at `make down`)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="$ROOT/.run"
cd "$ROOT"
# Node 24 from the lock file (npm package `node`), not the machine's Node.
PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p "$RUN/logs"

SERVICES=(order-service inventory-service dispatcher-service)
declare -A PORT=([order-service]=3001 [inventory-service]=3002 [dispatcher-service]=3003)

say() { printf '[services] %s\n' "$*" >&2; }

pid_of() { # prints the pid of a running service we started, or nothing
  local f="$RUN/$1.pid"
  [[ -f "$f" ]] || return 0
  local pid; pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then echo "$pid"; else rm -f "$f"; fi
}

port_of() { # PORT from the environment applies to every service only if set per service
  local var="${1%%-service}"; var="${var^^}_PORT"
  echo "${!var:-${PORT[$1]}}"
}

ready() { curl -fsS -m 2 "http://127.0.0.1:$(port_of "$1")/readyz" >/dev/null 2>&1; }

start() {
  for s in "${SERVICES[@]}"; do
    if [[ -n "$(pid_of "$s")" ]]; then say "$s already running (pid $(pid_of "$s"))"; continue; fi
    if curl -s -m 1 -o /dev/null "http://127.0.0.1:$(port_of "$s")/healthz"; then
      say "port $(port_of "$s") already answers but not with a process of ours: stop it first"; exit 1
    fi
    # setsid: the service outlives this shell, and `make` cannot take it down by accident.
    PORT="$(port_of "$s")" setsid nohup node ${SERVICE_NODE_FLAGS:-} --import tsx "$ROOT/$s/src/main.ts" \
      >>"$RUN/logs/$s.log" 2>&1 </dev/null &
    echo $! >"$RUN/$s.pid"
    say "$s started (pid $!), logs in .run/logs/$s.log"
  done
  local deadline=$((SECONDS + 90))
  for s in "${SERVICES[@]}"; do
    until ready "$s"; do
      if [[ -z "$(pid_of "$s")" ]]; then say "$s exited; last log lines:"; tail -n 20 "$RUN/logs/$s.log" >&2; exit 1; fi
      if (( SECONDS > deadline )); then say "$s not ready after 90 s"; tail -n 20 "$RUN/logs/$s.log" >&2; exit 1; fi
      sleep 0.3
    done
  done
  status
}

stop() {
  for s in "${SERVICES[@]}"; do
    local pid; pid="$(pid_of "$s")"
    [[ -n "$pid" ]] || continue
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then say "$s did not stop in 20 s; killing"; kill -KILL "$pid"; fi
    rm -f "$RUN/$s.pid"
    say "$s stopped"
  done
}

status() {
  for s in "${SERVICES[@]}"; do
    local state="stopped"
    [[ -n "$(pid_of "$s")" ]] && state="running, $(ready "$s" && echo ready || echo 'not ready')"
    printf '  %-19s http://127.0.0.1:%s  (%s)\n' "$s" "$(port_of "$s")" "$state"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
