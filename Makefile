# cellxai developer targets. `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PLUGINS := $(sort $(dir $(wildcard plugins/*/*/pyproject.toml)))
EXAMPLE_PLUGINS := $(sort $(dir $(wildcard examples/*/pyproject.toml)))

.PHONY: install demo test fuzz lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements/dev.txt $(wildcard plugins/*/*/pyproject.toml) $(wildcard examples/*/pyproject.toml)
	$(BIN)/pip install -q -r requirements/dev.txt
	$(BIN)/pip install -q --no-build-isolation -e . $(foreach p,$(PLUGINS),-e $(p)) $(foreach p,$(EXAMPLE_PLUGINS),-e $(p))
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/cellxai run examples/microwell.yaml --out runs/demo --resume --set report=true

test: install
	bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider tests $(foreach p,$(PLUGINS),$(p)tests) $(foreach p,$(EXAMPLE_PLUGINS),$(p)tests)

# >= 10,000 generated pipeline files, images and manifests (tests/fuzz, profile "fuzz"); `make test` runs the short "ci" profile
fuzz: install
	HYPOTHESIS_PROFILE=fuzz OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz

lint: install
	$(BIN)/ruff check cellxai_core plugins examples tests benchmarks scripts
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs
