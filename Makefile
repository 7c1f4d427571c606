# Hardship-worker relief: one Makefile for developers, CI and operators.
# `make run` and `make test` each create the virtual environment and fetch what they need.

PYTHON_BIN ?= python3.11
VENV       := .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

ROLE ?= caseworker
FED  ?= gs
USER ?= dev

# The console (console/): `npm ci` once per lockfile, then a production build whenever a source is newer.
CONSOLE_STAMP   := console/node_modules/.installed-$(shell cat console/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
CONSOLE_SOURCES := $(shell find console/src console/public console/index.html console/vite.config.ts console/tsconfig*.json console/package.json -type f 2>/dev/null)

.PHONY: help venv run test test-unit lint console browser token audit-key verify replay bench kafka-jars postgres prometheus go-modules lock clean manifests

help:
	@echo "make run      - the whole system on this machine (embedded transport, SQLite under ./var)"
	@echo "make test     - every test tier, with a real Kafka broker and a real PostgreSQL"
	@echo "make console  - build the web console (npm ci from the lockfile, then vite; make run does it on first use)"
	@echo "make lint     - ruff and mypy"
	@echo "make token ROLE=caseworker FED=gs.by USER=li - print a bearer token"
	@echo "make audit-key - print the verifier key of the audit trail's checkpoints"
	@echo "make verify BUNDLE=file [KEY=...] [SAVED=file] - check a case bundle of the trail offline"
	@echo "make replay [INTO=store URL] - rebuild the trail from its source topics and compare it with the live one"
	@echo "make manifests - render k8s/ from services/catalog.py"
	@echo "make k8s-check - render every k8s/ overlay and validate it offline (Kubernetes schemas, vendored CRDs)"
	@echo "make bench    - the benchmarks under bench/ (figures go in docs/benchmarks.md)"
	@echo "make prometheus - install Prometheus and promtool (Debian's package; its own server stays disabled)"
	@echo "make stack-up / stack-down / stack-status - Kafka, PostgreSQL, every service's replicas and Prometheus as processes (./var/stack)"
	@echo "make topics / groups [BOOTSTRAP=host:port] - describe the topics / every consumer group's lag, as Kafka sees them"

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON_BIN) >/dev/null || { echo "$(PYTHON_BIN) not found"; exit 1; }
	$(PYTHON_BIN) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

run: venv console
	RELIEF_DEMO_USERS=$${RELIEF_DEMO_USERS-auto} $(PY) -m services.run

$(CONSOLE_STAMP): console/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 18 or later) not found: the console needs it"; exit 1; }
	cd console && npm ci --no-audit --no-fund --loglevel=error
	rm -f console/node_modules/.installed-*
	touch $@

console/dist/index.html: $(CONSOLE_STAMP) $(CONSOLE_SOURCES)
	cd console && npm run build

console: console/dist/index.html

# Signed with RELIEF_JWT_SECRET if set, else the stack's secret while the stack is up, else the development one
# (which one goes to stderr).
token: venv
	@$(PY) -m deploy.stack.token --role "$(ROLE)" --fed "$(FED)" --user "$(USER)"

audit-key: venv
	@$(PY) -m services.audit.key

verify: venv
	@test -n "$(BUNDLE)" || { echo "usage: make verify BUNDLE=file [KEY=verifier key] [SAVED=checkpoint file]"; exit 2; }
	@$(PY) -m services.audit.verify "$(BUNDLE)" $(if $(KEY),--key "$(KEY)") $(if $(SAVED),--saved "$(SAVED)")

replay: venv
	@$(PY) -m services.audit.replay $(if $(INTO),--into "$(INTO)")

kafka-jars:
	@bash deploy/kafka/fetch-jars.sh >/dev/null

postgres:
	@sh deploy/postgres/install.sh >/dev/null

# promtool for the alert rules' tests, and the server the one-machine stack runs (docs/metrics.md).
prometheus:
	@sh deploy/prometheus/install.sh >/dev/null

# The Go client of the audit trail's interoperability test (golang.org/x/mod/sumdb), from the Go module proxy.
go-modules:
	@command -v go >/dev/null || { echo "go (1.26 or later) not found: the audit trail's interoperability test needs it"; exit 1; }
	@cd tests/interop/tlogclient && go mod download && go mod verify >/dev/null

# Debian's Chromium and the CJK font for the console's browser tests (Playwright drives /usr/bin/chromium).
browser:
	@sh deploy/console/install-browser.sh >/dev/null

test: venv kafka-jars postgres prometheus go-modules console browser
	$(PY) -m pytest

test-unit: venv
	$(PY) -m pytest tests/unit

lint: venv
	$(VENV)/bin/ruff check services tests bench deploy
	$(VENV)/bin/mypy services

bench: venv kafka-jars
	$(PY) -m bench.intake_http
	$(PY) -m bench.intake_to_audit
	$(PY) -m bench.import_rows
	$(PY) -m bench.consumer_throughput
	$(PY) -m bench.pairing_throughput
	$(PY) -m bench.aid_throughput
	$(PY) -m bench.trail_append
	$(PY) -m bench.trail_replay

lock:
	rm -rf /tmp/relief-lock && $(PYTHON_BIN) -m venv /tmp/relief-lock
	/tmp/relief-lock/bin/pip install -q -r requirements.in
	{ echo "# Generated by 'make lock' from requirements.in: every runtime package pinned, transitive ones included."; \
	  /tmp/relief-lock/bin/pip freeze --all | grep -v -E "^(pip|wheel)=="; } > requirements.txt
	/tmp/relief-lock/bin/pip install -q -r requirements-dev.in
	{ echo "# Generated by 'make lock' from requirements-dev.in: the runtime pins plus every test and lint package."; \
	  echo "-r requirements.txt"; \
	  /tmp/relief-lock/bin/pip freeze --all | grep -v -E "^(pip|wheel)==" | grep -v -x -F -f requirements.txt; } > requirements-dev.txt
	rm -rf /tmp/relief-lock

manifests: venv
	$(PY) deploy/manifests.py

# Every overlay rendered by kustomize, every resource checked offline: core ones against Kubernetes' schemas
# (kubernetes-validate), custom ones against the CRDs vendored under k8s/crds/.
k8s-check: venv
	$(PY) deploy/k8s_check.py

# The system on one machine as it runs past one (deploy/stack, docs/operations.md): RELIEF_STACK_DIR (./var/stack).
.PHONY: stack-up stack-down stack-status topics groups
stack-up: venv kafka-jars postgres prometheus
	@$(PY) -m deploy.stack up

stack-down: venv
	@$(PY) -m deploy.stack down

stack-status: venv
	@$(PY) -m deploy.stack status

topics: venv kafka-jars
	@$(PY) -m deploy.stack.tools topics $(if $(BOOTSTRAP),--bootstrap "$(BOOTSTRAP)")

groups: venv kafka-jars
	@$(PY) -m deploy.stack.tools groups $(if $(BOOTSTRAP),--bootstrap "$(BOOTSTRAP)")

clean:  # keeps var/stack (the stack's data and secrets): make stack-down, then remove it by hand if you mean to
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find var -mindepth 1 -maxdepth 1 ! -name stack -exec rm -rf {} + 2>/dev/null || true
