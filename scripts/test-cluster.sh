#!/usr/bin/env bash
# The cluster suite (test/cluster/*.test.ts, or the files given): a three-node KRaft cluster of
# its own (replication factor 3, min ISR 2) under two order-service, two inventory-service and
# three dispatcher instances; brokers are killed, restarted one by one, and two of three taken
# away with orders in flight, then every scenario's figures are printed. Run like the fault suite
# (one file at a time: three brokers and seven service processes already fill two cores). Needs
# the Kafka jars (bash infra/kafka/fetch.sh) and the machine's MariaDB and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
FAULT_SUITE=test/cluster FAULT_TITLE='Cluster suite figures' exec bash scripts/test-faults.sh "$@"
