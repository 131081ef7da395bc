#!/usr/bin/env bash
# Makes sure a Kafka broker answers at KAFKA_BROKERS (default 127.0.0.1:9092), starting a
# local single-node KRaft broker in the background only when none does. Safe to run again and
# again, and from several terminals at once: a broker that already answers, ours or not, is
# left alone. The broker outlives this script; infra/kafka/stop.sh stops it.
#
# Env: KAFKA_BROKERS, KAFKA_PORT (default: port of the first broker in KAFKA_BROKERS),
#      KAFKA_CONTROLLER_PORT (default KAFKA_PORT+1), KAFKA_HEAP_OPTS,
#      KAFKA_START_TIMEOUT (seconds, default 60).
set -euo pipefail
# shellcheck source=infra/kafka/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

start_timeout="${KAFKA_START_TIMEOUT:-60}"
heap_opts="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
endpoint="$KAFKA_HOST:$KAFKA_PORT"
started_at=$SECONDS

mkdir -p "$LOG_DIR"
# Two `make up`s at once must not both format the data dir or launch two JVMs. The broker
# must not inherit fd 9 (see the launch below), or it would hold this lock for its lifetime.
exec 9>"$RUN_DIR/kafka.lock"
flock -w $((start_timeout + 30)) 9 || die "another infra/kafka/start.sh holds $RUN_DIR/kafka.lock"

# wait_ready PID: waits until the broker serves metadata. With a PID, gives up as soon as
# that JVM dies, showing why, instead of sitting out the whole timeout.
wait_ready() {
  local pid="${1:-}" deadline=$((SECONDS + start_timeout))
  until kafka_serves_metadata "$KAFKA_HOST" "$KAFKA_PORT"; do
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$KAFKA_PID_FILE"
      say "Kafka exited during start-up; last lines of ${KAFKA_LOG_FILE#"$REPO_ROOT"/}:"
      tail -n 40 "$KAFKA_LOG_FILE" >&2 || true
      exit 1
    fi
    if (( SECONDS >= deadline )); then
      say "Kafka did not serve metadata at $endpoint within ${start_timeout}s; last log lines:"
      tail -n 40 "$KAFKA_LOG_FILE" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

# 1. Something already there? Use it, whoever started it.
if kafka_serves_metadata "$KAFKA_HOST" "$KAFKA_PORT"; then
  say "Kafka already answers at $endpoint; starting nothing"
  exit 0
fi
if pid="$(our_kafka_pid)"; then
  running_port="$(our_kafka_port)"
  [[ "$running_port" == "$KAFKA_PORT" ]] \
    || die "infra's Kafka (pid $pid) already runs on port ${running_port:-?}, not $KAFKA_PORT; stop it first: infra/kafka/stop.sh"
  say "Kafka (pid $pid) is still starting; waiting for it"
  wait_ready "$pid"
  say "Kafka ready at $endpoint"
  exit 0
fi
if tcp_open "$KAFKA_HOST" "$KAFKA_PORT"; then
  # Not ours, but it holds the port: maybe a broker someone else is starting. Give it the same
  # time ours would get rather than failing on a race.
  say "$endpoint accepts connections but does not serve Kafka metadata yet; waiting"
  wait_ready
  say "Kafka already answers at $endpoint; starting nothing"
  exit 0
fi
is_local_host "$KAFKA_HOST" || die "no Kafka answers at $endpoint, and only a broker on this machine (127.0.0.1) can be started here"
if tcp_open 127.0.0.1 "$KAFKA_CONTROLLER_PORT"; then
  die "port $KAFKA_CONTROLLER_PORT (KRaft controller) is taken by another process; set KAFKA_CONTROLLER_PORT to a free port"
fi

# 2. Jars (downloads only the first time).
"$KAFKA_DIR/fetch.sh"
java_major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
(( ${java_major:-0} >= 17 )) || die "Kafka $KAFKA_VERSION needs Java 17 or newer (found: ${java_major:-none}); apt-get install -y openjdk-17-jdk-headless"

classpath="$KAFKA_LIBS/*"
log_opts=(-Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.xml")
props="$KAFKA_DATA_DIR/server.properties"
stamp="$KAFKA_DATA_DIR/format.stamp"

# One log per start, plus the previous one: enough to compare, never growing without bound.
[[ -f "$KAFKA_LOG_FILE" ]] && mv -f "$KAFKA_LOG_FILE" "$KAFKA_LOG_FILE.1"

# 3. Config: rendered on every start so that edits to the template and port overrides apply.
mkdir -p "$KAFKA_DATA_DIR"
sed_escape() { printf '%s' "$1" | sed 's/[\\|&]/\\&/g'; }
sed -e "s|@BROKER_PORT@|$KAFKA_PORT|g" \
    -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$(sed_escape "$KAFKA_DATA_DIR")|g" \
    "$KAFKA_DIR/server.properties.template" > "$props"

# 4. Storage: a KRaft log dir is formatted once for one cluster id, and its metadata log is
# written by one Kafka version with the controller at one address. The stamp records all
# three; when any differs (another version pinned, a port override, a half-deleted dir) the
# data is only local test data, so start over with a clean format rather than risk a broker
# that refuses to start or a quorum that never elects itself.
wanted_stamp="version=$KAFKA_VERSION controller.port=$KAFKA_CONTROLLER_PORT"
meta_cluster="$(sed -n 's/^cluster.id=//p' "$KAFKA_DATA_DIR/logs/meta.properties" 2>/dev/null || true)"
stamp_cluster="$(sed -n 's/^cluster.id=//p' "$stamp" 2>/dev/null || true)"
if [[ -z "$meta_cluster" || "$meta_cluster" != "$stamp_cluster" ]] \
   || ! grep -qxF "$wanted_stamp" "$stamp" 2>/dev/null; then
  [[ -d "$KAFKA_DATA_DIR/logs" ]] && say "data dir was made for another Kafka version, port or cluster; reformatting"
  rm -rf "$KAFKA_DATA_DIR/logs" "$stamp"
  # A Kafka cluster id is 16 random bytes in URL-safe base64 without padding; Kafka itself
  # never hands out ids starting with '-', which command lines would read as an option.
  cluster_id="-"
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  # Static controller.quorum.voters in the template, so no --standalone (4.x refuses both).
  if ! java -Xmx256m "${log_opts[@]}" -cp "$classpath" kafka.tools.StorageTool \
        format -t "$cluster_id" -c "$props" >> "$KAFKA_LOG_FILE" 2>&1; then
    tail -n 20 "$KAFKA_LOG_FILE" >&2
    die "formatting $KAFKA_DATA_DIR failed"
  fi
  printf '%s\ncluster.id=%s\n' "$wanted_stamp" "$cluster_id" > "$stamp"
  say "formatted ${KAFKA_DATA_DIR#"$REPO_ROOT"/} for cluster $cluster_id"
fi

# 5. Launch. setsid + nohup detach the JVM from this shell's session and terminal, so a
# Ctrl-C in `make up` or a closed terminal does not take the broker down with it.
# shellcheck disable=SC2086 # heap_opts holds several flags
setsid nohup java $heap_opts \
  -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
  -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
  "${log_opts[@]}" -cp "$classpath" kafka.Kafka "$props" \
  >> "$KAFKA_LOG_FILE" 2>&1 < /dev/null 9>&- &
pid=$!
printf '%s\n' "$pid" > "$KAFKA_PID_FILE"
say "starting Kafka $KAFKA_VERSION (pid $pid, log ${KAFKA_LOG_FILE#"$REPO_ROOT"/})"

wait_ready "$pid"
say "Kafka $KAFKA_VERSION ready at $endpoint after $((SECONDS - started_at))s"
