#!/usr/bin/env bash
# A local KRaft cluster of KAFKA_NODES nodes (default 3), every node both broker and controller,
# from the same cached jars and server.properties.template as the single broker (start.sh).
# What `make up KAFKA_NODES=3` runs; the single broker on 9092 stays the default.
#
#   infra/kafka/cluster.sh start|stop|status|brokers
#
# Node n (1-based) listens for clients on KAFKA_CLUSTER_PORT+n and for the controller quorum on
# KAFKA_CLUSTER_PORT+100+n: 19091-19093 and 19191-19193 by default, clear of 9092/9093, so
# the single broker and the cluster can both run. Data in KAFKA_CLUSTER_DIR/node-<n>, pids in
# .run/<cluster>-node-<n>.pid, logs in .run/logs/<cluster>-node-<n>.log, where <cluster> is the
# name of KAFKA_CLUSTER_DIR (kafka-cluster).
#
# Env: KAFKA_NODES (3), KAFKA_CLUSTER_PORT (19090), KAFKA_CLUSTER_DIR (infra/.data/kafka-cluster),
#      KAFKA_HEAP_OPTS (-Xms256m -Xmx512m per node), KAFKA_START_TIMEOUT (90 s),
#      KAFKA_STOP_TIMEOUT (30 s).
set -euo pipefail
# shellcheck source=infra/kafka/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

base_port="${KAFKA_CLUSTER_PORT:-19090}"
cluster_dir="${KAFKA_CLUSTER_DIR:-$INFRA_DIR/.data/kafka-cluster}"
name="$(basename "$cluster_dir")"
heap_opts="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
start_timeout="${KAFKA_START_TIMEOUT:-90}"
stop_timeout="${KAFKA_STOP_TIMEOUT:-30}"
# `make` exports KAFKA_NODES=1 when no cluster is asked for: stop and status then go by the
# nodes the cluster was formatted with.
nodes="${KAFKA_NODES:-3}"
if [[ "${1:-}" == stop || "${1:-}" == status ]] && ! (( nodes >= 3 )) 2>/dev/null; then
  nodes=0
  for dir in "$cluster_dir"/node-*; do [[ -d "$dir" ]] && nodes=$((nodes + 1)); done
elif ! [[ "$nodes" =~ ^[0-9]+$ ]] || (( nodes < 3 )); then
  die "KAFKA_NODES=$nodes: a cluster needs at least 3 nodes (replication factor 3, min ISR 2)"
fi

# Replicas of the internal topics and the cluster's defaults: a write acknowledged by 2 of 3
# replicas survives the loss of any one node, and the cluster keeps accepting writes without it.
REPLICATION=3
MIN_ISR=2

client_port() { echo $((base_port + $1)); }
controller_port() { echo $((base_port + 100 + $1)); }
node_dir() { echo "$cluster_dir/node-$1"; }
pid_file() { echo "$RUN_DIR/$name-node-$1.pid"; }
log_file() { echo "$LOG_DIR/$name-node-$1.log"; }
voters() {
  local n list=()
  for ((n = 1; n <= nodes; n++)); do list+=("$n@127.0.0.1:$(controller_port "$n")"); done
  local IFS=,; echo "${list[*]}"
}
brokers() {
  local n list=()
  for ((n = 1; n <= nodes; n++)); do list+=("127.0.0.1:$(client_port "$n")"); done
  local IFS=,; echo "${list[*]}"
}

# node_pid N: the pid of node N when it is still the JVM we launched with its config.
node_pid() {
  local f pid; f="$(pid_file "$1")"
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $(node_dir "$1")/server.properties" || return 1
  echo "$pid"
}

node_ready() { kafka_serves_metadata 127.0.0.1 "$(client_port "$1")"; }

# render N: the single broker's template, then what makes node N one of the cluster
# (a .properties file keeps the last value of a key).
render() {
  local n="$1" dir; dir="$(node_dir "$1")"
  sed -e "s|@BROKER_PORT@|$(client_port "$n")|g" \
      -e "s|@CONTROLLER_PORT@|$(controller_port "$n")|g" \
      -e "s|@DATA_DIR@|$dir|g" \
      "$KAFKA_DIR/server.properties.template"
  cat <<EOF

# --- cluster.sh: node $n of $nodes, every node broker and controller ---
node.id=$n
controller.quorum.voters=$(voters)
default.replication.factor=$REPLICATION
min.insync.replicas=$MIN_ISR
offsets.topic.replication.factor=$REPLICATION
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$REPLICATION
transaction.state.log.min.isr=$MIN_ISR
share.coordinator.state.topic.replication.factor=$REPLICATION
share.coordinator.state.topic.min.isr=$MIN_ISR
# A replica that fell behind never becomes leader: no acknowledged write is lost for availability.
unclean.leader.election.enable=false
EOF
}

# format_if_needed: every node's data dir is formatted once, all with one cluster id kept in
# cluster.stamp next to the version and the voters. When any of that differs (another version,
# other ports or node count, a half-deleted dir), the nodes are wiped and formatted afresh:
# a node alone cannot rejoin a quorum whose voters or cluster id changed.
format_if_needed() {
  local stamp="$cluster_dir/cluster.stamp" wanted n cluster_id ok=1
  wanted="version=$KAFKA_VERSION voters=$(voters)"
  cluster_id="$(sed -n 's/^cluster.id=//p' "$stamp" 2>/dev/null || true)"
  grep -qxF "$wanted" "$stamp" 2>/dev/null || ok=0
  for ((n = 1; n <= nodes; n++)); do
    [[ -n "$cluster_id" && "$(sed -n 's/^cluster.id=//p' "$(node_dir "$n")/logs/meta.properties" 2>/dev/null)" == "$cluster_id" ]] || ok=0
  done
  (( ok )) && return 0
  [[ -f "$stamp" ]] && say "cluster data was made for another version, voters or cluster; reformatting every node"
  # Kafka's cluster ids are 16 random bytes, URL-safe base64 without padding, never starting with '-'.
  cluster_id="-"
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  for ((n = 1; n <= nodes; n++)); do
    rm -rf "$(node_dir "$n")/logs"
    java -Xmx256m -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.xml" -cp "$KAFKA_LIBS/*" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$(node_dir "$n")/server.properties" \
      >> "$(log_file "$n")" 2>&1 || { tail -n 20 "$(log_file "$n")" >&2; die "formatting node $n failed"; }
  done
  printf '%s\ncluster.id=%s\n' "$wanted" "$cluster_id" > "$stamp"
  say "formatted $nodes nodes in ${cluster_dir#"$REPO_ROOT"/} for cluster $cluster_id"
}

launch() {
  local n="$1" pid
  [[ -f "$(log_file "$n")" ]] && mv -f "$(log_file "$n")" "$(log_file "$n").1"
  # Same JVM flags as start.sh; setsid + nohup detach the node from this shell and terminal.
  # shellcheck disable=SC2086 # heap_opts holds several flags
  setsid nohup java $heap_opts \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.xml" -cp "$KAFKA_LIBS/*" \
    kafka.Kafka "$(node_dir "$n")/server.properties" \
    >> "$(log_file "$n")" 2>&1 < /dev/null 9>&- &
  pid=$!
  echo "$pid" > "$(pid_file "$n")"
  say "node $n starting (pid $pid, client port $(client_port "$n"), log ${LOG_DIR#"$REPO_ROOT"/}/$name-node-$n.log)"
}

start() {
  local n started_at=$SECONDS missing=()
  mkdir -p "$LOG_DIR" "$cluster_dir"
  exec 9>"$RUN_DIR/$name.lock"
  flock -w $((start_timeout + 30)) 9 || die "another cluster.sh holds $RUN_DIR/$name.lock"
  for ((n = 1; n <= nodes; n++)); do
    if node_pid "$n" >/dev/null || node_ready "$n"; then continue; fi
    tcp_open 127.0.0.1 "$(client_port "$n")" && die "port $(client_port "$n") (node $n) is taken by another process; set KAFKA_CLUSTER_PORT"
    tcp_open 127.0.0.1 "$(controller_port "$n")" && die "port $(controller_port "$n") (controller of node $n) is taken by another process; set KAFKA_CLUSTER_PORT"
    missing+=("$n")
  done
  if (( ${#missing[@]} == 0 )); then
    say "cluster already runs at $(brokers)"
  else
    "$KAFKA_DIR/fetch.sh"
    # Rendered on every start, like start.sh's; a running node read its copy when it started.
    for ((n = 1; n <= nodes; n++)); do
      mkdir -p "$(node_dir "$n")"
      render "$n" > "$(node_dir "$n")/server.properties"
    done
    # Reformatting wipes every node, so only when none of them runs.
    (( ${#missing[@]} == nodes )) && format_if_needed
    # All missing nodes at once: a controller quorum elects a leader only with a majority up.
    for n in "${missing[@]}"; do launch "$n"; done
  fi
  local deadline=$((SECONDS + start_timeout))
  for ((n = 1; n <= nodes; n++)); do
    until node_ready "$n"; do
      if ! node_pid "$n" >/dev/null && [[ " ${missing[*]} " == *" $n "* ]]; then
        say "node $n exited during start-up; last lines of its log:"; tail -n 30 "$(log_file "$n")" >&2; exit 1
      fi
      (( SECONDS < deadline )) || { say "node $n not serving after ${start_timeout}s"; tail -n 30 "$(log_file "$n")" >&2; exit 1; }
      sleep 0.5
    done
  done
  say "Kafka $KAFKA_VERSION cluster of $nodes ready at $(brokers) after $((SECONDS - started_at))s"
}

stop() {
  local n pid pids=()
  # SIGTERM to every node at once: each moves its leaderships away (controlled shutdown).
  for ((n = 1; n <= nodes; n++)); do
    if pid="$(node_pid "$n")"; then kill -TERM "$pid"; pids+=("$n:$pid"); else rm -f "$(pid_file "$n")"; fi
  done
  (( ${#pids[@]} > 0 )) || { say "no cluster node started by infra is running"; return 0; }
  local deadline=$((SECONDS + stop_timeout)) entry
  for entry in "${pids[@]}"; do
    n="${entry%%:*}" pid="${entry#*:}"
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      say "node $n (pid $pid) still running after ${stop_timeout}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$(pid_file "$n")"
    say "node $n (pid $pid) stopped"
  done
}

status() {
  local n state pid leaders=""
  # Partition leaders per node, from one Metadata request through KafkaJS (about a second).
  if [[ -x "$REPO_ROOT/node_modules/.bin/tsx" ]]; then
    leaders="$(cd "$REPO_ROOT" && PATH="$REPO_ROOT/node_modules/.bin:$PATH" tsx scripts/kafka-leaders.ts "$(brokers)" 2>/dev/null || true)"
  fi
  for ((n = 1; n <= nodes; n++)); do
    pid="$(node_pid "$n" || true)"
    if node_ready "$n"; then state="up"; elif [[ -n "$pid" ]]; then state="starting"; else state="down"; fi
    printf '  kafka node %-2s 127.0.0.1:%-5s  %-8s %s%s\n' "$n" "$(client_port "$n")" "$state" \
      "${pid:+pid $pid  }" "$(sed -n "s/^$n //p" <<<"$leaders")"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  brokers) brokers ;;
  *) echo "usage: $0 start|stop|status|brokers" >&2; exit 2 ;;
esac
