#!/usr/bin/env bash
# The cluster suite (test/cluster/*.test.ts, or the files given): a three-node KRaft cluster of
# its own (replication factor 3, min ISR 2) under two order-service, two inventory-service and
# three dispatcher instances; brokers are killed, restarted one by one, and two of three taken
# away with orders in flight, then every scenario's figures are printed. Needs the Kafka jars
# (bash infra/kafka/fetch.sh) and the machine's MariaDB and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 24 from the lock file (npm package `node`), not the machine's Node.
PATH="$PWD/node_modules/.bin:$PATH"
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(ls test/cluster/*.test.ts | sort)
fi
figures="$(mktemp "${TMPDIR:-/tmp}/cluster-figures.XXXXXX")"
trap 'rm -f "$figures"' EXIT
status=0
# One file at a time: three brokers and seven service processes already fill two cores.
FAULT_FIGURES="$figures" KAFKAJS_NO_PARTITIONER_WARNING=1 \
  node --import tsx --test --test-force-exit --test-concurrency=1 --test-reporter=spec "${files[@]}" \
  || status=$?
node --import tsx test/faults/summary.ts "$figures" 'Cluster suite figures'
exit "$status"
