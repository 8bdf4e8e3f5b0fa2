# Two entry points on a fresh machine: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BUF    := $(VENV)/buf/node_modules/.bin/buf

.PHONY: run test lint typecheck unit breaking generate release-protos ts-test bench chaos fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The client distribution (generated protobuf code) first: the server imports it.
$(STAMP): pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e clients/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/orderly-grid serve

# buf from npm (the package ships its binary), kept inside the venv folder: no top-level package.json.
$(BUF):
	npm install --silent --no-audit --no-fund --prefix $(VENV)/buf @bufbuild/buf@1.75.0

lint: $(STAMP) $(BUF)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BUF) lint

# The TypeScript SDK's packages, from its lockfile; the stamp re-runs `npm ci` when the lockfile changes.
TS      := clients/typescript
TS_STAMP := $(TS)/node_modules/.installed
$(TS_STAMP): $(TS)/package-lock.json
	cd $(TS) && npm ci --silent --no-audit --no-fund
	touch $(TS_STAMP)

# protos/ must not break a client generated from the last released protos (protos-released/,
# recorded by `make release-protos`): FILE category, as buf.yaml says. A wanted break is a new
# package (orderly_grid.v2), never an edit of v1.
breaking: $(BUF)
	$(BUF) breaking --against protos-released

release-protos:
	rm -rf protos-released/buf.yaml protos-released/protos
	git archive HEAD buf.yaml protos | tar -x -C protos-released

# One command regenerates both SDKs: buf.gen.yaml (TypeScript, protoc-gen-es from the lockfile),
# then the Python generator (grpcio-tools + mypy-protobuf, pinned in the dev extras).
generate: $(STAMP) $(BUF) $(TS_STAMP)
	$(BUF) generate
	$(BIN)/python clients/python/generate.py

# The TypeScript SDK: strict type check, then node:test against the real service it starts with
# this venv's Python (simulator + `orderly-grid serve` on free loopback ports).
ts-test: $(STAMP) $(TS_STAMP)
	cd $(TS) && ORDERLY_GRID_PYTHON=$(abspath $(BIN)/python) npm test --silent

typecheck: $(STAMP)
	$(BIN)/mypy

# The TypeScript freshness and buf-breaking tests need buf and protoc-gen-es.
unit: $(STAMP) $(BUF) $(TS_STAMP)
	$(BIN)/python -m pytest -q

# The test command the README gives and CI runs: lint, types, then the whole suite.
test: lint breaking typecheck unit ts-test

bench: $(STAMP)
	for b in bench/*.py; do [ $$b = bench/chaos.py ] || $(BIN)/python $$b || exit 1; done  # chaos: make chaos

# The long chaos run of issue 10: 100 SIGKILLs x 3 seeds x both stores, venue faults on; one table.
chaos: $(STAMP)
	$(BIN)/python bench/chaos.py --seed 1 --seed 2 --seed 3 --kills 100 --stores sqlite,mongo --faults --duration-s 7200

# The long fuzz run of issue 11 (a short fixed-seed one is part of `make test`): Schemathesis against
# the REST shim and Hypothesis against every gRPC method, FUZZ_EXAMPLES per category, FUZZ_SEED to
# vary the run; ends with one table (requests per category, clean errors by status, findings).
FUZZ_EXAMPLES ?= 1000
FUZZ_SEED ?= 0
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) $(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache $(TS)/node_modules $(TS)/dist
