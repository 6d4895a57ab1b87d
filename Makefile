# payrace: `make test` installs what the tests need and runs them; `make demo` runs the headline job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint demo install clean examples

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

NODE_EXAMPLE := examples/node-express
NODE_STAMP := $(NODE_EXAMPLE)/node_modules/.payrace-installed

# The Node.js example's packages, exactly as its lockfile pins them.
$(NODE_STAMP): $(NODE_EXAMPLE)/package-lock.json
	command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm)
	cd $(NODE_EXAMPLE) && npm ci --silent --no-audit --no-fund
	touch $(NODE_STAMP)

examples: $(NODE_STAMP)

# ruff and mypy gate the suite: a change that is not lint-clean does not pass `make test`.
test: lint examples
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check harness reference_impl scenarios tests benchmarks
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/payrace demo

clean:
	rm -rf $(VENV) build *.egg-info $(NODE_EXAMPLE)/node_modules
