# shellcheck shell=bash disable=SC2034 # the variables set here are used by the sourcing scripts
# Helpers shared by the infra scripts. Sourced, never run: it only defines functions and paths.

# Everything is located from this file, not from $PWD or git, so the scripts behave the same
# when called from make, from CI's fresh clone or from another directory.
INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INFRA_DIR/.." && pwd)"
RUN_DIR="$REPO_ROOT/.run"
LOG_DIR="$RUN_DIR/logs"

# Messages go to stderr so callers can capture stdout of a script without our chatter.
say() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

# tcp_open HOST PORT: true when something accepts a TCP connection there.
# bash's /dev/tcp avoids depending on nc/ss; the timeout guards against filtered ports,
# where connect() would otherwise hang for minutes.
tcp_open() {
  # shellcheck disable=SC2016 # $1/$2 expand in the inner bash, as intended
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# is_local_host HOST: only loopback addresses are ours to start a server on.
is_local_host() {
  case "$1" in
    127.*|localhost|::1|'[::1]') return 0 ;;
    *) return 1 ;;
  esac
}

# parse_url URL DEFAULT_PORT: sets URL_USER, URL_PASS, URL_HOST, URL_PORT from
# scheme://[user[:pass]@]host[:port][/path]. Good enough for the MYSQL_URL/REDIS_URL we use;
# percent-encoded credentials are not decoded.
parse_url() {
  local rest="${1#*://}" default_port="$2" auth="" hostport
  rest="${rest%%/*}"
  rest="${rest%%\?*}"
  if [[ "$rest" == *@* ]]; then
    auth="${rest%@*}"
    rest="${rest##*@}"
  fi
  URL_USER="${auth%%:*}"
  URL_PASS=""
  [[ "$auth" == *:* ]] && URL_PASS="${auth#*:}"
  hostport="$rest"
  if [[ "$hostport" == \[*\]* ]]; then          # [::1]:6379
    URL_HOST="${hostport%%]*}"; URL_HOST="${URL_HOST#[}"
    URL_PORT="${hostport##*]}"; URL_PORT="${URL_PORT#:}"
  elif [[ "$hostport" == *:* ]]; then
    URL_HOST="${hostport%%:*}"
    URL_PORT="${hostport##*:}"
  else
    URL_HOST="$hostport"
    URL_PORT=""
  fi
  URL_HOST="${URL_HOST:-127.0.0.1}"
  URL_PORT="${URL_PORT:-$default_port}"
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every half second.
wait_until() {
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if (( SECONDS >= deadline )); then
      say "$what did not come up within ${seconds}s"
      return 1
    fi
    sleep 0.5
  done
}
