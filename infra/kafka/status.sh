#!/usr/bin/env bash
# Tells whether Kafka serves clients at KAFKA_BROKERS and whether infra started it.
# Exit 0 when a broker serves metadata there, 3 when not (the LSB "not running" code), so
# scripts can use it as a readiness check: `infra/kafka/status.sh >/dev/null && ...`.
set -euo pipefail
# shellcheck source=infra/kafka/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

endpoint="$KAFKA_HOST:$KAFKA_PORT"
pid="$(our_kafka_pid || true)"
owner="not started by infra"
[[ -n "$pid" ]] && owner="started by infra, pid $pid, log ${KAFKA_LOG_FILE#"$REPO_ROOT"/}"

if kafka_serves_metadata "$KAFKA_HOST" "$KAFKA_PORT"; then
  echo "kafka: ready at $endpoint ($owner)"
  exit 0
elif [[ -n "$pid" && "$(our_kafka_port)" != "$KAFKA_PORT" ]]; then
  echo "kafka: not running at $endpoint; infra's broker (pid $pid) listens on port $(our_kafka_port)"
elif [[ -n "$pid" ]]; then
  echo "kafka: starting, not serving yet at $endpoint ($owner)"
elif tcp_open "$KAFKA_HOST" "$KAFKA_PORT"; then
  echo "kafka: $endpoint accepts connections but does not answer as a Kafka broker"
else
  echo "kafka: not running at $endpoint"
fi
exit 3
