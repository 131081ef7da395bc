#!/usr/bin/env bash
# The fault suite (test/faults/*.test.ts, or the files given): stops, kills and restarts Kafka,
# Redis, MySQL and the services with orders in flight, on servers the tests start themselves,
# then prints every scenario's figures. Needs the Kafka jars (bash infra/kafka/fetch.sh) and the
# machine's MariaDB, Redis and Kafka for the scenarios that break only a service.
# FAULT_SUITE=test/cluster runs another suite the same way (scripts/test-cluster.sh), its figures
# under FAULT_TITLE.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 24 from the lock file (npm package `node`), not the machine's Node.
PATH="$PWD/node_modules/.bin:$PATH"
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(ls "${FAULT_SUITE:-test/faults}"/*.test.ts | sort)
fi
figures="$(mktemp "${TMPDIR:-/tmp}/fault-figures.XXXXXX")"
trap 'rm -f "$figures"' EXIT
status=0
# One file at a time: each scenario times its faults against a steady load, and two of them at
# once on two cores would mostly measure each other.
FAULT_FIGURES="$figures" KAFKAJS_NO_PARTITIONER_WARNING=1 \
  node --import tsx --test --test-force-exit --test-concurrency="${TEST_CONCURRENCY:-1}" --test-reporter=spec "${files[@]}" \
  || status=$?
node --import tsx test/faults/summary.ts "$figures" ${FAULT_TITLE:+"$FAULT_TITLE"}
exit "$status"
