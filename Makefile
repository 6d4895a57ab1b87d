# payrace: `make test` installs what the tests need and runs them; `make demo` runs the headline job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint demo install clean examples

# Processes the tests run in, a file at a time: most tests wait on real services and load,
# so two keep this machine's two cores busy where one left them half idle.
TEST_PROCESSES ?= 2

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

GO_EXAMPLE := examples/go-pr145

# PR #145's Go service, built in GOPATH mode from Debian's Go and lib/pq (no module proxy here).
$(GO_EXAMPLE)/pr145: $(GO_EXAMPLE)/main.go
	(command -v go >/dev/null && test -d /usr/share/gocode/src/github.com/lib/pq) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-github-lib-pq-dev)
	cd $(GO_EXAMPLE) && GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE=$(CURDIR)/.cache/go go build -o pr145 .

examples: $(NODE_STAMP) $(GO_EXAMPLE)/pr145

# ruff and mypy gate the suite: a change that is not lint-clean does not pass `make test`.
test: lint examples
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check harness reference_impl scenarios tests benchmarks examples/flask-orders
	$(BIN)/mypy
	$(BIN)/mypy --strict examples/flask-orders

demo: $(STAMP)
	$(BIN)/payrace demo

clean:
	rm -rf $(VENV) build *.egg-info $(NODE_EXAMPLE)/node_modules $(GO_EXAMPLE)/pr145 .cache
