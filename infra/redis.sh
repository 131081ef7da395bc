#!/usr/bin/env bash
# Makes sure the Redis at REDIS_URL (default redis://127.0.0.1:6379) answers. On the
# project's machines it normally already runs; when it does not, this starts one, as long as
# the URL points at this machine and redis-server is installed. It never installs anything
# itself: it says what to install.
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_url "${REDIS_URL:-redis://127.0.0.1:6379}" 6379
host="$URL_HOST" port="$URL_PORT"
# REDISCLI_AUTH keeps the password out of `ps` output (redis://:secret@host or user:secret).
[[ -n "$URL_PASS" ]] && export REDISCLI_AUTH="$URL_PASS"

redis_up() {
  if command -v redis-cli >/dev/null; then
    # A server that wants a password we lack still proves it is up: accept NOAUTH too.
    # stderr is dropped: redis-cli warns there when given a password the server does not use.
    timeout 3 redis-cli -h "$host" -p "$port" ping 2>/dev/null | grep -qE '^(PONG|NOAUTH)'

  else
    tcp_open "$host" "$port"
  fi
}

if redis_up; then
  say "Redis answers at $host:$port"
  exit 0
fi
is_local_host "$host" || die "no Redis answers at $host:$port (REDIS_URL), and only a server on this machine can be started here"
command -v redis-server >/dev/null \
  || die "Redis is not installed and nothing answers at $host:$port; install it with: apt-get install -y redis-server"

# The packaged service's folders when they exist; otherwise (a container, a stripped image)
# the project's own .run, so starting never depends on the distro's layout.
data_dir=/var/lib/redis
log_file=/var/log/redis/ci.log
if [[ ! -d "$data_dir" || ! -w "$data_dir" ]]; then
  data_dir="$RUN_DIR/redis"
fi
if [[ ! -d "$(dirname "$log_file")" || ! -w "$(dirname "$log_file")" ]]; then
  log_file="$LOG_DIR/redis.log"
fi
mkdir -p "$data_dir" "$(dirname "$log_file")"

say "Redis not answering at $host:$port; starting redis-server"
# No persistence: the dispatcher rebuilds its locks from MySQL (DESIGN.md §6), and a test
# server that writes snapshots only slows tests down. "-::1" binds IPv6 loopback only
# where the machine has it.
redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" \
  --save "" --appendonly no --dir "$data_dir" --logfile "$log_file"

wait_until 30 "Redis at $host:$port" redis_up || die "Redis did not answer at $host:$port; see $log_file"
say "Redis answers at $host:$port"
