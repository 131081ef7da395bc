#!/usr/bin/env bash
# Brings up everything the services and tests need on this machine, starting only what is
# not already running: MySQL (MariaDB), Redis, then Kafka: the single broker, or with
# KAFKA_NODES=3 the local cluster (infra/kafka/cluster.sh). Safe to run repeatedly.
# Each step fails with a message saying what is missing; the first failure stops the rest.
set -euo pipefail
infra="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$infra/mysql.sh"
"$infra/redis.sh"
if (( ${KAFKA_NODES:-1} > 1 )); then
  "$infra/kafka/cluster.sh" start
else
  "$infra/kafka/start.sh"
fi
