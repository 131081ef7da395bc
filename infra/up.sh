#!/usr/bin/env bash
# Brings up everything the services and tests need on this machine, starting only what is
# not already running: MySQL (MariaDB), Redis, then Kafka. Safe to run repeatedly.
# Each step fails with a message saying what is missing; the first failure stops the rest.
set -euo pipefail
infra="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$infra/mysql.sh"
"$infra/redis.sh"
"$infra/kafka/start.sh"
