#!/usr/bin/env bash
# Makes sure the MySQL-compatible server at MYSQL_URL (default mysql://root@127.0.0.1:3306)
# answers. On the project's machines that is the local MariaDB, normally already running;
# when it is not, this starts it, as long as the URL points at this machine and MariaDB is
# installed. It never installs anything itself: it says what to install.
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_url "${MYSQL_URL:-mysql://root@127.0.0.1:3306}" 3306
host="$URL_HOST" port="$URL_PORT" user="${URL_USER:-root}"
# MYSQL_PWD keeps the password out of `ps` output.
[[ -n "$URL_PASS" ]] && export MYSQL_PWD="$URL_PASS"

# mysqladmin ping exits 0 whenever the server runs, even if these credentials are refused:
# this script is about the server being up; a bad password surfaces in the services.
mysql_up() {
  if command -v mysqladmin >/dev/null; then
    mysqladmin --protocol=tcp -h "$host" -P "$port" -u "$user" --connect-timeout=2 ping >/dev/null 2>&1
  else
    tcp_open "$host" "$port"
  fi
}

if mysql_up; then
  say "MySQL answers at $host:$port"
  exit 0
fi
is_local_host "$host" || die "no MySQL answers at $host:$port (MYSQL_URL), and only a server on this machine can be started here"

mariadbd=""
for candidate in /usr/sbin/mariadbd /usr/sbin/mysqld; do
  [[ -x "$candidate" ]] && { mariadbd="$candidate"; break; }
done
[[ -n "$mariadbd" ]] || die "MariaDB is not installed and nothing answers at $host:$port; install it with: apt-get install -y mariadb-server"

say "MySQL not answering at $host:$port; starting $mariadbd"
# The server drops privileges to the mysql user (my.cnf: user = mysql) and puts its socket
# and pid file in /run/mysqld, which is a tmpfs that a reboot empties.
if [[ ! -d /run/mysqld ]]; then
  mkdir -p /run/mysqld
  chown mysql:mysql /run/mysqld 2>/dev/null || true
fi
# --oknodo: a mariadbd that is already running (still starting, or hung) is not an error
# here; the wait below decides whether it is usable.
start_args=()
[[ "$port" != 3306 ]] && start_args=(-- --port="$port")
start-stop-daemon --start --oknodo --background --exec "$mariadbd" "${start_args[@]}"

wait_until 60 "MySQL at $host:$port" mysql_up \
  || die "MariaDB did not answer at $host:$port; see its error log (/var/log/mysql/error.log)"
say "MySQL answers at $host:$port"
