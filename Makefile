# Two commands for a new user: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first, from the CPU build, so that nothing pulls a CUDA build in.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The browser tests drive Debian's Chromium (never a browser downloaded by a test tool).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CHROMIUM ?= /usr/bin/chromium

$(CHROMIUM):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium

DEMO_DB := experiments/drift/history.sqlite

demo: $(VENV)/.installed
	$(BIN)/stance train
	$(BIN)/stance score seeds/000_abad3842fbdbf470.txt --date 2025-11-04
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/stance score seeds labels/articles --record --db $(DEMO_DB) --quiet
	$(BIN)/stance drift --db $(DEMO_DB) --by year --plot experiments/drift/drift.png --html experiments/drift/drift.html
	$(BIN)/stance report experiments/minilm-logreg --experiments experiments/finetune/search.md

# The README's screenshots of both pages, taken by the browser the tests use.
screenshots: $(VENV)/.installed-test $(CHROMIUM)
	$(BIN)/python experiments/screenshots.py

test: $(VENV)/.installed-test $(CHROMIUM)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV)
