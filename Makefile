# The two commands: `make up` runs the whole system, `make test` runs every test.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

NPM_STAMP := node_modules/.package-lock.json
# Node 24 from the lock file (the npm package `node`): every target, script and service runs on
# it, whatever Node the machine has (npm itself may run on the system's Node to install it).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

# Scaling out (README "Scaling out"). `make up KAFKA_NODES=3`: a local 3-node Kafka cluster
# (infra/kafka/cluster.sh, ports 19091-19093) instead of the single broker on 9092, and services
# that keep every topic on 3 brokers, 2 in sync. `make up INSTANCES=2`: two processes of each
# service (ports 3001/3011, 3002/3012, 3003/3013) sharing its database and consumer group.
KAFKA_NODES ?= 1
INSTANCES ?= 1
export KAFKA_NODES INSTANCES
ifneq ($(KAFKA_NODES),1)
export KAFKA_BROKERS := $(shell bash infra/kafka/cluster.sh brokers)
export KAFKA_REPLICATION_FACTOR ?= 3
export KAFKA_MIN_INSYNC_REPLICAS ?= 2
endif

.PHONY: help up down status logs migrate infra test lint typecheck build check seed demo bench sample-logs test-faults test-cluster

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(NPM_STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

infra: ## Start what is missing of MariaDB, Redis and the local Kafka broker (KAFKA_NODES=3: the cluster)
	bash infra/up.sh

migrate: $(NPM_STAMP) ## Create the databases if missing and apply migrations
	bash infra/mysql.sh
	npx tsx scripts/migrate.ts

up: $(NPM_STAMP) infra migrate ## Run the whole system in the background and wait until it is ready
	bash scripts/services.sh start

down: ## Stop the services and the Kafka broker (or cluster) that `make up` started
	bash scripts/services.sh stop
	bash infra/kafka/stop.sh
	bash infra/kafka/cluster.sh stop

status: ## Show which services run and are ready, and the Kafka broker or each node of the cluster
	bash scripts/services.sh status
	@if [[ "$(KAFKA_NODES)" != 1 ]] || compgen -G '.run/kafka-cluster-node-*.pid' >/dev/null; then \
	  bash infra/kafka/cluster.sh status; else bash infra/kafka/status.sh | sed 's/^/  /' || true; fi

logs: ## Follow the services' logs, pretty-printed
	tail -n 30 -F .run/logs/order-service.log .run/logs/inventory-service.log .run/logs/dispatcher-service.log \
	  $$(ls .run/logs/*-service-[0-9]*.log 2>/dev/null || true) \
	  | grep --line-buffered '^{' | npx pino-pretty --singleLine --translateTime SYS:HH:MM:ss.l --ignore pid,hostname

typecheck: $(NPM_STAMP) ## Type-check every package
	npm run typecheck

lint: $(NPM_STAMP) ## ESLint (typescript-eslint, no-floating-promises)
	npm run lint

build: $(NPM_STAMP) ## Compile every package to its dist/: what the image runs (`make up` runs the sources)
	npm run build

check: typecheck lint build

test: $(NPM_STAMP) infra check ## Every test, against the real MariaDB, Redis and Kafka (never touches `make up`'s data)
	bash scripts/test.sh

test-faults: $(NPM_STAMP) infra ## Kill, stop and restart Kafka, Redis, MySQL and the services under load; prints the figures
	bash infra/kafka/fetch.sh
	bash scripts/test-faults.sh

test-cluster: $(NPM_STAMP) infra ## A 3-node Kafka cluster of its own under 2+2+3 service instances: brokers killed, rolled, 2 of 3 down; prints the figures
	bash infra/kafka/fetch.sh
	bash scripts/test-cluster.sh

seed: $(NPM_STAMP) ## Products (101 included) and vehicles in Colombo and Kandy; a second run changes nothing
	npx tsx scripts/seed.ts

bench: $(NPM_STAMP) ## Benchmark the running system (`make up` first if needed): make bench ARGS="--rate 100" or ARGS="--rate 10,20,40,100,max"
	npx tsx bench/run.ts $(ARGS)

.PHONY: bench-canonical
bench-canonical: $(NPM_STAMP) ## Regenerate bench/results/ (one result per scenario) and docs/performance.md's tables, ~10 min on a quiet machine
	npx tsx bench/canonical.ts $(ARGS)

demo: $(NPM_STAMP) ## The whole story over HTTP against a running `make up`
	npx tsx scripts/demo.ts

sample-logs: $(NPM_STAMP) ## Regenerate docs/sample-logs.md from a real demo run (needs `make up`)
	@mkdir -p docs
	npx tsx scripts/demo.ts --markdown docs/sample-logs.md

trace: ## One order's journey across the services: make trace ID=<x-request-id>
	@npx tsx scripts/trace.ts "$(ID)"

.PHONY: dlq dlq-replay dlq-discard
dlq: $(NPM_STAMP) ## Dead letters waiting in each DLQ (count, oldest, error, order); make dlq TOPIC=order.created for one, errors in full
	@npx tsx scripts/dlq.ts list $(TOPIC)

dlq-replay: $(NPM_STAMP) ## Send a topic's dead letters back once the cause is fixed: make dlq-replay TOPIC=order.created [ID=<event id or partition/offset>]
	@npx tsx scripts/dlq.ts replay "$(TOPIC)" $(ID)

dlq-discard: $(NPM_STAMP) ## Mark dead letters that can never apply as dealt with, unsent: make dlq-discard TOPIC=… [ID=…]
	@npx tsx scripts/dlq.ts discard "$(TOPIC)" $(ID)
