#!/usr/bin/env bash
# Starts, stops and reports the three services as background processes, the way `make up` runs
# them: INSTANCES processes of each (default 1), JSON logs in .run/logs/, pids in .run/.
#   scripts/services.sh start|stop|status
#
# Instance n of a service listens on its port + 10·(n-1): order-service 3001, 3011, 3021, …,
# inventory-service 3002, 3012, …, dispatcher-service 3003, 3013, …. The first instance keeps
# the plain names (.run/order-service.pid, .run/logs/order-service.log); instance n ≥ 2 is
# order-service-<n>. The instances of a service share its database and consumer group, so they
# split the partitions of its topics between them; ROLE (api, worker, all) applies to every one.
# stop and status cover every instance that runs, whatever INSTANCES says now.
# A second copy of the system beside `make up` (a bench arm, a trial against another broker):
# SERVICES_RUN_DIR (pids and logs, default .run), ORDER_PORT/INVENTORY_PORT/DISPATCHER_PORT and
# ORDER_DATABASE/INVENTORY_DATABASE/DISPATCHER_DATABASE, with KAFKA_TOPIC_PREFIX of its own.
# SERVICE_NODE_FLAGS adds flags to each service's node, e.g. to profile a bench run:
#   SERVICE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" make up   (written at `make down`)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="${SERVICES_RUN_DIR:-$ROOT/.run}"
cd "$ROOT"
# Node 24 from the lock file (npm package `node`), not the machine's Node.
PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p "$RUN/logs"

SERVICES=(order-service inventory-service dispatcher-service)
declare -A PORT=([order-service]=3001 [inventory-service]=3002 [dispatcher-service]=3003)
INSTANCES="${INSTANCES:-1}"
[[ "$INSTANCES" =~ ^[1-9][0-9]?$ ]] || { echo "INSTANCES=$INSTANCES: a number from 1 to 99" >&2; exit 2; }

say() { printf '[services] %s\n' "$*" >&2; }

# unit SERVICE N: the name of instance N's pid and log files.
unit() { if (( $2 == 1 )); then echo "$1"; else echo "$1-$2"; fi; }

# running_units: every instance with a pid file, as SERVICE:N.
running_units() {
  local s f n
  for s in "${SERVICES[@]}"; do
    for f in "$RUN/$s.pid" "$RUN/$s"-[0-9]*.pid; do
      [[ -f "$f" ]] || continue
      n="${f#"$RUN/$s"}"; n="${n%.pid}"; n="${n#-}"
      echo "$s:${n:-1}"
    done
  done
}

pid_of() { # SERVICE N: prints the pid of a running instance we started, or nothing
  local f; f="$RUN/$(unit "$1" "$2").pid"
  [[ -f "$f" ]] || return 0
  local pid; pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then echo "$pid"; else rm -f "$f"; fi
}

database_of() { # SERVICE: ORDER_DATABASE etc., else the service's own default
  local var="${1%%-service}"; var="${var^^}_DATABASE"
  echo "${!var:-}"
}

port_of() { # SERVICE N: ORDER_PORT etc. move the first instance; the others follow in steps of 10
  local var="${1%%-service}"; var="${var^^}_PORT"
  echo $(( ${!var:-${PORT[$1]}} + 10 * ($2 - 1) ))
}

ready() { curl -fsS -m 2 "http://127.0.0.1:$(port_of "$1" "$2")/readyz" >/dev/null 2>&1; }

start() {
  local s n u
  # The dispatcher's releases go to the first order-service of this copy of the system.
  export ORDER_SERVICE_URL="${ORDER_SERVICE_URL:-http://127.0.0.1:$(port_of order-service 1)}"
  for s in "${SERVICES[@]}"; do
    for ((n = 1; n <= INSTANCES; n++)); do
      u="$(unit "$s" "$n")"
      if [[ -n "$(pid_of "$s" "$n")" ]]; then say "$u already running (pid $(pid_of "$s" "$n"))"; continue; fi
      if curl -s -m 1 -o /dev/null "http://127.0.0.1:$(port_of "$s" "$n")/healthz"; then
        say "port $(port_of "$s" "$n") already answers but not with a process of ours: stop it first"; exit 1
      fi
      # setsid: the service outlives this shell, and `make` cannot take it down by accident.
      local database; database="$(database_of "$s")"
      PORT="$(port_of "$s" "$n")" env ${database:+MYSQL_DATABASE="$database"} setsid nohup node ${SERVICE_NODE_FLAGS:-} --import tsx "$ROOT/$s/src/main.ts" \
        >>"$RUN/logs/$u.log" 2>&1 </dev/null &
      echo $! >"$RUN/$u.pid"
      say "$u started (pid $!, port $(port_of "$s" "$n")), logs in ${RUN#"$ROOT"/}/logs/$u.log"
    done
  done
  local deadline=$((SECONDS + 90))
  for s in "${SERVICES[@]}"; do
    for ((n = 1; n <= INSTANCES; n++)); do
      u="$(unit "$s" "$n")"
      until ready "$s" "$n"; do
        if [[ -z "$(pid_of "$s" "$n")" ]]; then say "$u exited; last log lines:"; tail -n 20 "$RUN/logs/$u.log" >&2; exit 1; fi
        if (( SECONDS > deadline )); then say "$u not ready after 90 s"; tail -n 20 "$RUN/logs/$u.log" >&2; exit 1; fi
        sleep 0.3
      done
    done
  done
  status
}

stop() {
  local entry s n u pid
  for entry in $(running_units); do
    s="${entry%:*}" n="${entry#*:}" u="$(unit "$s" "$n")"
    pid="$(pid_of "$s" "$n")"
    [[ -n "$pid" ]] || continue
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then say "$u did not stop in 20 s; killing"; kill -KILL "$pid"; fi
    rm -f "$RUN/$u.pid"
    say "$u stopped"
  done
}

status() {
  local s n u state shown
  for s in "${SERVICES[@]}"; do
    # Instances 1..INSTANCES, and any other that runs.
    shown="$(seq 1 "$INSTANCES"; running_units | sed -n "s/^$s://p")"
    for n in $(sort -nu <<<"$shown"); do
      u="$(unit "$s" "$n")" state="stopped"
      [[ -n "$(pid_of "$s" "$n")" ]] && state="running, $(ready "$s" "$n" && echo ready || echo 'not ready')"
      printf '  %-21s http://127.0.0.1:%s  (%s)\n' "$u" "$(port_of "$s" "$n")" "$state"
    done
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
