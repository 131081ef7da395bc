#!/usr/bin/env bash
# Stops the broker that infra/kafka/start.sh started, and only that one: it goes by the pid
# file, so a broker someone else runs on the same port is never touched. Harmless when
# nothing runs.
#
# Env: KAFKA_STOP_TIMEOUT (seconds to wait for a clean shutdown before SIGKILL, default 30).
set -euo pipefail
# shellcheck source=infra/kafka/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stop_timeout="${KAFKA_STOP_TIMEOUT:-30}"

if ! pid="$(our_kafka_pid)"; then
  [[ -f "$KAFKA_PID_FILE" ]] && say "removing stale pid file (its process is gone)"
  rm -f "$KAFKA_PID_FILE"
  say "no Kafka started by infra is running"
  exit 0
fi

started_at=$SECONDS
# SIGTERM lets Kafka close its logs cleanly, so the next start skips log recovery.
kill -TERM "$pid"
deadline=$((SECONDS + stop_timeout))
while kill -0 "$pid" 2>/dev/null; do
  if (( SECONDS >= deadline )); then
    say "Kafka (pid $pid) still running after ${stop_timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    # Wait for the kernel to reap it, so the ports are free when we return.
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    break
  fi
  sleep 0.2
done
rm -f "$KAFKA_PID_FILE"
say "Kafka (pid $pid) stopped after $((SECONDS - started_at))s"
