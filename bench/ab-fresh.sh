#!/usr/bin/env bash
# An A/B run on a fresh system each time: the three databases dropped and migrated by <tree>'s
# own migrations, the bench's topics and consumer groups deleted, then bench/ab.sh. For commits
# whose schemas differ (the old code cannot run on the new schema, nor read the new topics).
#   bench/ab-fresh.sh old-rate-40 /tmp/old -- --no-limits --big-city 0 --rate 40 --orders 1600
# Needs `make infra` up and no services of this checkout running (`bash scripts/services.sh stop`).
set -euo pipefail
label="$1" tree="$(cd "$2" && pwd)"
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
npx tsx bench/reset-system.ts --yes
(cd "$tree" && npx tsx scripts/migrate.ts >/dev/null)
bash bench/ab.sh "$label" "$tree" "$@"
