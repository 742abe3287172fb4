# The two commands of the README. Each creates its own virtual environment (.venv)
# on first use, so both work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: bench test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,plot,dev]'
	touch $(STAMP)

## bench: the main job — a quick side-by-side benchmark of every registered backend
bench: $(STAMP)
	$(BIN)/vmalab bench --fast

## test: the whole test suite (plus ruff and mypy)
test: $(STAMP)
	$(BIN)/ruff check structures bench tests
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check structures bench tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
