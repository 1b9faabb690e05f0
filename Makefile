# Crossdock — `make run` to try it, `make test` to prove it. `make help` lists all.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Without DATABASE_URL, a project-local PostgreSQL under .data/ is used.
LOCAL_DB := $(if $(DATABASE_URL),,yes)
BIN := bin/crossdock
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help run test soak generate check-generated lint fuzz-short db db-stop build clean e2e-deps bench-load bench-explorer

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

build: ## build bin/crossdock
	$(GO) build -o $(BIN) ./cmd/crossdock

db: ## start the project-local PostgreSQL (idempotent)
	@scripts/pg.sh start

db-stop: ## stop the project-local PostgreSQL
	@scripts/pg.sh stop

run: build ## start PostgreSQL if needed, migrate, serve the UI on :8080
ifeq ($(LOCAL_DB),yes)
	@scripts/pg.sh start
	DATABASE_URL="$$(scripts/pg.sh url)" ./$(BIN) migrate
	DATABASE_URL="$$(scripts/pg.sh url)" CROSSDOCK_DEMO=$${CROSSDOCK_DEMO:-1} ./$(BIN) serve
else
	./$(BIN) migrate
	CROSSDOCK_DEMO=$${CROSSDOCK_DEMO:-1} ./$(BIN) serve
endif

test: e2e-deps ## run the whole suite against a real PostgreSQL (and Chromium for e2e)
ifeq ($(LOCAL_DB),yes)
	@scripts/pg.sh start
	CROSSDOCK_TEST_DATABASE_URL="$$(scripts/pg.sh test-url)" $(GO) test -count=1 -timeout 30m ./...
else
	CROSSDOCK_TEST_DATABASE_URL="$${CROSSDOCK_TEST_DATABASE_URL:-$$DATABASE_URL}" $(GO) test -count=1 -timeout 30m ./...
endif

soak: e2e-deps ## the long reliability runs (docs/reliability.md): 20,000 orders through SIGKILLs, 10 s database and 60 s target outages, 3,000 orders over three processes
	@scripts/pg.sh start
	CROSSDOCK_CRASH_ORDERS=20000 CROSSDOCK_DB_OUTAGE_SECONDS=10 CROSSDOCK_TARGET_OUTAGE_SECONDS=60 CROSSDOCK_SCALE_ORDERS=3000 \
	CROSSDOCK_TEST_DATABASE_URL="$$(scripts/pg.sh test-url)" \
		$(GO) test -count=1 -timeout 90m -parallel 1 -v \
		-run 'TestNothingAcceptedIsLost|TestTriggersAnswer503WhileTheDatabaseIsDown|TestTargetOutageOpensTheCircuit|TestThreeProcessesShareTheWork' ./e2e/

e2e-deps: ## install Debian's chromium and promtool for the e2e tests when missing
	@scripts/ensure-chromium.sh
	@scripts/ensure-promtool.sh

generate: ## regenerate templ output, copy pinned front-end files into static/ and bundle the expression editor
	$(GO) tool templ generate -path web
	npm ci --no-audit --no-fund --silent
	cp node_modules/htmx.org/dist/htmx.min.js static/js/htmx.min.js
	cp node_modules/idiomorph/dist/idiomorph-ext.min.js static/js/idiomorph-ext.min.js
	node_modules/.bin/esbuild static/src/editor.js --bundle --minify --format=iife --target=es2020 --log-level=warning --outfile=static/js/editor.min.js

check-generated: generate ## fail when generated files differ from what is committed
	@git diff --exit-code -- '*_templ.go' static/ || { echo "generated files are stale: run make generate and commit"; exit 1; }

# Budgets are counts, not durations: with -fuzztime 20s Go 1.26's fuzz
# coordinator can fail a target with a bare "context deadline exceeded" and
# no failing input (go.dev/issue/75804, fixed in Go 1.27); a count has no
# deadline to race. Each is about 20 s on the 2-core CI machine.
fuzz-short: ## run the engine's, the trigger's and the preview's fuzz targets, a fixed number of inputs each (~20 s, the preview ~10 s; CI does this on every run; docs/reliability.md)
	$(GO) test -run XXX -fuzz FuzzCompileRun -fuzztime 5000x -parallel 1 ./engine
ifeq ($(LOCAL_DB),yes)
	@scripts/pg.sh start
	CROSSDOCK_TEST_DATABASE_URL="$$(scripts/pg.sh test-url)" $(GO) test -run XXX -fuzz FuzzTrigger -fuzztime 1000x -parallel 1 ./web
	CROSSDOCK_TEST_DATABASE_URL="$$(scripts/pg.sh test-url)" $(GO) test -run XXX -fuzz FuzzPreview -fuzztime 300x -parallel 1 ./web
else
	CROSSDOCK_TEST_DATABASE_URL="$${CROSSDOCK_TEST_DATABASE_URL:-$$DATABASE_URL}" $(GO) test -run XXX -fuzz FuzzTrigger -fuzztime 1000x -parallel 1 ./web
	CROSSDOCK_TEST_DATABASE_URL="$${CROSSDOCK_TEST_DATABASE_URL:-$$DATABASE_URL}" $(GO) test -run XXX -fuzz FuzzPreview -fuzztime 300x -parallel 1 ./web
endif

bench-load: ## load-test the real server: wrk, 64 connections, 30 s (BENCH_RATE=N: N requests/s open loop), on a fresh database, pgbench -N beside (docs/benchmarks.md)
	scripts/bench-load.sh

bench-explorer: ## message explorer searches on a seeded database (crossdock_volume, 5M messages; docs/benchmarks.md)
	scripts/bench-explorer.sh

lint: ## gofmt, go vet and staticcheck
	@out="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; [ -z "$$out" ] || { echo "gofmt would change: $$out"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean: db-stop ## stop PostgreSQL and remove .data/ and bin/ (deletes the dev database)
	rm -rf .data bin
