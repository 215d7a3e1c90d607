# The two set-up commands (README): `make demo` and `make test`. Both create and use .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fnkit-installed

.PHONY: venv demo test test-all lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[build,deploy,bench,dev]'
	touch $(STAMP)

## demo: build the shipped example models, then invoke each under the local Lambda runtime client
demo: venv
	$(BIN)/fnkit build
	$(BIN)/fnkit invoke digits --event events/digits-http-api.json --event events/digits-rest-api.json
	$(BIN)/fnkit invoke minilm --event events/minilm-http-api.json --event events/minilm-direct.json

## lint: ruff and mypy on the kit's code, and the generated stack is what models.toml renders
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/fnkit render --check

## test: lint, then the test suite (slow tests excluded)
test: lint
	$(BIN)/pytest

## test-all: every test, slow ones included
test-all: lint
	$(BIN)/pytest -m ''

## bench: the side-by-side benchmark against the torch baseline (README's performance section)
bench: venv
	$(BIN)/fnkit build
	$(BIN)/fnkit bench --out bench-results

clean:
	rm -rf $(VENV) .fnkit-cache bench-results functions/*/model
