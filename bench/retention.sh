#!/usr/bin/env bash
# Tables stay bounded: ORDERS orders (default 100,000) at full speed through a fresh system whose
# retention is minutes instead of days, with every table's rows sampled throughout and for a
# while after. The retention-bounded tables (outbox, release_requests) should
# level off at about (rate × their retention); the business tables (orders, reservations,
# assignments, finished_orders) grow with the orders, as they should.
#   bash bench/retention.sh [ORDERS]
# It drops and recreates the `make up` databases, topics and groups at the start and at the end
# (bench/reset-system.ts), so it needs `make infra` up and no services of this checkout running.
set -euo pipefail
orders="${1:-100000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PATH="$PWD/node_modules/.bin:$PATH"

# Short enough that the job has work in a ten-minute run.
export OUTBOX_RETENTION=1m KAFKA_TOPIC_RETENTION=2m RETENTION_INTERVAL=30s
after_s="${AFTER_S:-180}" # keep sampling after the last order: the job runs every ~30 s, rows go at 1 or 5 min

if bash scripts/services.sh status 2>/dev/null | grep -q 'running'; then
  echo "services of this checkout are running: bash scripts/services.sh stop first" >&2
  exit 2
fi
out="bench/results/raw/retention-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$(dirname "$out")"
reset() { npx tsx bench/reset-system.ts --yes && npx tsx scripts/migrate.ts >/dev/null; }
sampler=""
cleanup() {
  [[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null || true
  bash scripts/services.sh stop || true
  reset || true
}
trap cleanup EXIT

reset
bash scripts/services.sh start
# node itself, not npx: the TERM below must reach the sampler so it prints its table.
node --import tsx bench/table-sizes.ts --every 30 --json "$out.json" >"$out.md" &
sampler=$!
npx tsx bench/run.ts --orders "$orders" --no-limits --big-city 0 --no-save \
  --note "bench/retention.sh: OUTBOX_RETENTION=$OUTBOX_RETENTION KAFKA_TOPIC_RETENTION=$KAFKA_TOPIC_RETENTION RETENTION_INTERVAL=$RETENTION_INTERVAL" \
  | tee "$out.bench.md" | sed -n '/## Pipeline/,/## Where/p'
echo "[retention] orders done; sampling ${after_s} s more while the job catches up" >&2
end=$((SECONDS + after_s))
while ((SECONDS < end)); do sleep 5; done
kill -TERM "$sampler"
wait "$sampler" || true
sampler=""
cat "$out.md"
echo "[retention] wrote $out.md, $out.json, $out.bench.md" >&2
