#!/usr/bin/env bash
# Runs every test file (or the ones given) with node's test runner, TypeScript through tsx.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 24 from the lock file (npm package `node`), not the machine's Node.
PATH="$PWD/node_modules/.bin:$PATH"
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(ls common/test/*.test.ts order-service/test/*.test.ts inventory-service/test/*.test.ts \
    dispatcher-service/test/*.test.ts test/*.test.ts 2>/dev/null | sort)
fi
# Test files are separate processes; two at a time fits this 2-core machine and the broker.
# --test-force-exit: a file whose tests are done exits even if a failed test left a connection
# open, so a failure is reported instead of hanging CI.
exec node --import tsx --test --test-force-exit --test-concurrency="${TEST_CONCURRENCY:-2}" \
  --test-reporter=spec "${files[@]}"
