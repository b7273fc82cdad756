# Two commands set up everything on a fresh machine with Python 3.11+:
#   make dev    - create .venv, install, run the server on embedded defaults (GraphiQL at /graphql)
#   make test   - create .venv, install, lint, type-check and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: dev test lint typecheck pytest install schema bench clean graphiql graphiql-check node-deps audit-deps container-check

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/customer-graph dev

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy server compiled schema resolvers db integrations

pytest: $(STAMP) node-deps audit-deps
	$(BIN)/pytest

CLIENTS := tests/clients
$(CLIENTS)/node_modules/.installed: $(CLIENTS)/package.json $(CLIENTS)/package-lock.json
	cd $(CLIENTS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed

$(CLIENTS)/subscriptions/node_modules/.installed: $(CLIENTS)/subscriptions/package.json $(CLIENTS)/subscriptions/package-lock.json
	cd $(CLIENTS)/subscriptions && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed

node-deps:   # the Node client tests' packages, when Node is installed (else those tests skip, saying why)
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(CLIENTS)/node_modules/.installed \
		$(CLIENTS)/subscriptions/node_modules/.installed; \
	else echo "make: Node.js/npm not found: the Node client tests in $(CLIENTS) will be skipped"; fi

audit-deps:   # the graphql-http audit's pinned npm packages (tests/http_audit), when Node.js is present
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/http_audit --no-audit --no-fund --silent; \
	else echo "Node.js not found: the graphql-http audit (tests/http_audit) will be skipped"; fi

schema: $(STAMP)
	$(BIN)/customer-graph export-schema schema.graphql

bench: $(STAMP)   # e.g. make bench BENCH_ARGS="--customers 20000 --concurrency 4"
	$(BIN)/python -m bench.run $(BENCH_ARGS)

graphiql:   # rebuild server/graphiql_static/ from graphiql/ (needs Node; the result is committed)
	cd graphiql && npm ci --no-audit --no-fund && node build.mjs

graphiql-check:   # rebuild into a temporary directory and compare with what is committed
	cd graphiql && npm ci --no-audit --no-fund && rm -rf /tmp/cg-graphiql-check && node build.mjs /tmp/cg-graphiql-check
	diff -r /tmp/cg-graphiql-check server/graphiql_static && echo "graphiql: committed build is reproducible"

container-check: $(STAMP)   # build the Docker image and run it against a throwaway database (minutes)
	CONTAINER_TEST=1 $(BIN)/pytest tests/container -q -rs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
