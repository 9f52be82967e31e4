# The two README commands: `make demo` and `make test` (what CI runs). Both build .venv
# (git-ignored) on first use. `make check` is the edit loop: lint + fast tests + doctests (7-8 min now).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo reference test check lint clean

demo: $(STAMP)
	$(BIN)/neurognocchi demo

# The README's reference table: the demo for seeds 0, 1, 2 (resumable; about an hour on 2 cores).
reference: $(STAMP)
	$(BIN)/neurognocchi reference --out reference_output --seeds 0 1 2

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -m "slow or not slow" --durations=15

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q --durations=10

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Reinstall only when the package metadata or the torch pin changes.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,motor,nwb,cebra]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
