# The two set-up commands (README): `make demo` and `make test`. Both create and use .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fnkit-installed
# checkov cannot share the project's venv (it pins boto3): its own, inside .venv/, from pyproject's `checkov` extra.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

.PHONY: venv demo test test-all test-emulated emulators lint lock bench clean

venv: $(STAMP) $(CHECKOV_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[build,deploy,bench,dev]'
	touch $(STAMP)

$(CHECKOV_STAMP): pyproject.toml | $(STAMP)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(BIN)/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["checkov"]))' > $(CHECKOV_VENV)/requirements.txt
	$(CHECKOV_VENV)/bin/pip install --quiet -r $(CHECKOV_VENV)/requirements.txt
	touch $(CHECKOV_STAMP)

## lock: regenerate the image's hash-locked runtime sets from functions/requirements*.in (pip-tools)
lock: $(STAMP)
	cd functions && ../$(BIN)/pip-compile $(LOCK_FLAGS) --output-file requirements.txt requirements.in
	cd functions && ../$(BIN)/pip-compile $(LOCK_FLAGS) --output-file requirements-text.txt requirements-text.in

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

## emulators: qemu user mode, debootstrap and binfmt_misc for `fnkit build`'s verification on the
## target CPU classes (apt-get when missing; needs root, as CI runs)
emulators:
	@if ! command -v qemu-x86_64-static >/dev/null || ! command -v qemu-aarch64-static >/dev/null \
	    || ! command -v debootstrap >/dev/null || ! command -v update-binfmts >/dev/null; then \
	  echo "installing qemu-user-static debootstrap binfmt-support (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    qemu-user-static debootstrap binfmt-support >/dev/null; \
	fi
	@if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then \
	  mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc || \
	  echo "binfmt_misc unavailable: arm64 emulation roots cannot be built here"; \
	fi
	@if [ -e /proc/sys/fs/binfmt_misc/register ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then \
	  update-binfmts --enable qemu-aarch64 || true; \
	fi

## test: lint, then the test suite (slow tests excluded; the shipped models' build runs the x86-64
## AVX2 emulation, so qemu must be installed: `make emulators`)
test: lint emulators
	$(BIN)/pytest

## test-emulated: the shipped models' goldens under both emulations (x86-64 AVX2, arm64 Graviton2) and
## `fnkit invoke` of their arm64 builds under qemu; builds the arm64 root into .fnkit-cache/ on first
## use (a few minutes)
test-emulated: venv emulators
	$(BIN)/pytest -m emulated

## test-all: every test, slow ones included
test-all: lint emulators
	$(BIN)/pytest -m ''

## bench: the side-by-side benchmark against the torch baseline (README's performance section)
bench: venv
	$(BIN)/fnkit build
	$(BIN)/fnkit bench --out bench-results

clean:
	rm -rf $(VENV) .fnkit-cache bench-results functions/*/model
