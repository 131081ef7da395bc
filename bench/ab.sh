#!/usr/bin/env bash
# A/B of two versions of the services on this machine, with the same bench: starts the services
# from <tree> (a checkout or a worktree of another commit, `npm ci` done there), runs this
# checkout's bench/run.ts against them (results in bench/results/raw/), stops them. Alternate old
# and new runs within minutes: the machine's speed drifts over a day.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && npm ci)
#   bench/ab.sh old-max /tmp/old -- --no-limits --big-city 0
#   bench/ab.sh new-max .        -- --no-limits --big-city 0
# Needs the broker, MariaDB and Redis up (`make infra`) and no services of this checkout running.
set -euo pipefail
label="$1" tree="$(cd "$2" && pwd)"
shift 2
[[ "${1:-}" == "--" ]] && shift
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [[ -n "$(ls .run/*-service.pid 2>/dev/null)" && "$tree" != "$ROOT" ]]; then
  echo "services of this checkout are running: make down first" >&2
  exit 1
fi
(cd "$tree" && bash scripts/services.sh start >/dev/null)
# The bench finds the services' processes (for CPU per process) through this checkout's pid files.
[[ "$tree" != "$ROOT" ]] && cp "$tree"/.run/*-service.pid .run/
stop() {
  (cd "$tree" && bash scripts/services.sh stop >/dev/null) || true
  # An `if`, not `&&`: the trap's last status is the script's, and a run of this checkout is no failure.
  if [[ "$tree" != "$ROOT" ]]; then rm -f .run/*-service.pid; fi
}
trap stop EXIT
sleep 3
npx tsx bench/run.ts --label "$label" --note "A/B: services from $tree ($(git -C "$tree" rev-parse --short HEAD))" "$@"
