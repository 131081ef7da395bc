# The two commands: `make up` runs the whole system, `make test` runs every test.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

NPM_STAMP := node_modules/.package-lock.json
# Node 24 from the lock file (the npm package `node`): every target, script and service runs on
# it, whatever Node the machine has (npm itself may run on the system's Node to install it).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help up down status logs migrate infra test lint typecheck check seed demo bench sample-logs test-faults

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(NPM_STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

infra: ## Start what is missing of MariaDB, Redis and the local Kafka broker
	bash infra/up.sh

migrate: $(NPM_STAMP) ## Create the databases if missing and apply migrations
	bash infra/mysql.sh
	npx tsx scripts/migrate.ts

up: $(NPM_STAMP) infra migrate ## Run the whole system in the background and wait until it is ready
	bash scripts/services.sh start

down: ## Stop the services and the Kafka broker that `make up` started
	bash scripts/services.sh stop
	bash infra/kafka/stop.sh

status: ## Show which services run and are ready
	bash scripts/services.sh status

logs: ## Follow the services' logs, pretty-printed
	tail -n 30 -F .run/logs/order-service.log .run/logs/inventory-service.log .run/logs/dispatcher-service.log \
	  | grep --line-buffered '^{' | npx pino-pretty --singleLine --translateTime SYS:HH:MM:ss.l --ignore pid,hostname

typecheck: $(NPM_STAMP) ## Type-check every package
	npm run typecheck

lint: $(NPM_STAMP) ## ESLint (typescript-eslint, no-floating-promises)
	npm run lint

check: typecheck lint

test: $(NPM_STAMP) infra check ## Every test, against the real MariaDB, Redis and Kafka (never touches `make up`'s data)
	bash scripts/test.sh

test-faults: $(NPM_STAMP) infra ## Kill, stop and restart Kafka, Redis, MySQL and the services under load; prints the figures
	bash infra/kafka/fetch.sh
	bash scripts/test-faults.sh

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
