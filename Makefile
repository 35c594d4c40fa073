# Two commands a newcomer needs: `make demo` and `make test`. Each creates .venv when missing.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pip repeats a harmless warning per package about this machine's extra local indexes.
QUIET_PIP := (grep -v "is ignored: it is neither a file nor a directory" || true)

.PHONY: demo test install lint bench eval clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install -q -e '.[test,milvus]' 2>&1 | $(QUIET_PIP)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rummage demo

test: $(STAMP)
	command -v tmux >/dev/null || (apt-get update -qq && apt-get install -y -qq tmux >/dev/null) \
		|| echo "tmux could not be installed: the tmux test will be skipped"
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check agent memory retrievers tui tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/index_bench.py
	$(BIN)/python benchmarks/turn_bench.py
	$(BIN)/python benchmarks/cold_start.py

eval: $(STAMP)
	$(BIN)/rummage eval --library demo --episodes 500 --turns 10 \
		--agent full single concat no-decompose no-rerank \
		--json docs/eval.json --plot docs/eval.png

clean:
	rm -rf $(VENV) build *.egg-info
