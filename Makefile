# The two commands of the README, on any interpreter. Each interpreter gets its own virtual
# environment, created on first use, so both work on a fresh clone:
#   make test                                  python3, in .venv (source .venv/bin/activate)
#   make PYTHON=/path/to/python3.13t test      that interpreter, in .venv-3.13t
#   make test-ft                               a free-threaded CPython (found or built by
#                                              `make freethreaded`), the GIL off: see DESIGN §10
PYTHON ?= python3
# "3.11", "3.13t": the interpreter's version, with a t for a free-threaded build
TAG_PY  = import sys, sysconfig; \
  print("%d.%d%s" % (*sys.version_info[:2], "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))
PYTAG  := $(shell $(PYTHON) -c '$(TAG_PY)' 2>/dev/null)
ifeq ($(origin PYTHON),file)
VENV   ?= .venv
else
VENV   ?= .venv-$(PYTAG)
endif
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(PYTAG)

# Test and dev pins, per interpreter, only where the current release does not install or work
# there (checked on a 3.13.15t built by tools/freethreaded.sh, pip 26):
# 3.13t hypothesis: from 6.156 it carries a Rust extension (hypothesis._native) with wheels per
#   CPython ABI plus an abi3 one, none for cp313t (an abi3 extension cannot load on a
#   free-threaded build: "No module named 'hypothesis._native'"), so pip falls back to the
#   sdist, which needs Rust and crates.io. 6.155.7, the last pure-Python wheel, is the newest.
# 3.13t mypy: 2.x needs ast-serialize, a Rust extension with the same problem (no cp313t wheel,
#   an sdist that needs crates.io); 1.20.2 is the newest 1.x (its librt builds with gcc).
# 3.14t: both have cp314t wheels, no pin.
PINS_3.13t = 'hypothesis<6.156' 'mypy<2'
PINS       = $(PINS_$(PYTAG))

.PHONY: bench test lint clean freethreaded test-ft pytest-ft

$(STAMP): pyproject.toml Makefile
	@test -n "$(PYTAG)" || { echo "make: PYTHON=$(PYTHON) does not run" >&2; exit 1; }
	@# a venv left by another interpreter (version or build) is made anew
	[ "$$($(BIN)/python -c '$(TAG_PY)' 2>/dev/null)" = "$(PYTAG)" ] || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]' $(PINS)
	@# the optional extra 'plot' (matplotlib) only where its wheels exist: without it the two
	@# plot tests skip and `vmalab plot` says what is missing
	$(BIN)/python -m pip install --quiet --only-binary=:all: -e '.[plot]' $(PINS) \
	  || echo "make: no matplotlib wheels for $(PYTAG); the optional extra 'plot' is left out" >&2
	touch $@

## bench: the main job — a quick side-by-side benchmark of every registered backend
bench: $(STAMP)
	$(BIN)/vmalab bench --fast

## test: the whole test suite (plus ruff and mypy)
test: $(STAMP)
	$(BIN)/ruff check structures bench tests tools
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check structures bench tests tools
	$(BIN)/mypy

## freethreaded: find or build a free-threaded CPython (3.14t, else 3.13t); its path is the last line
freethreaded:
	@tools/freethreaded.sh

## test-ft: the test suite on a free-threaded CPython with PYTHON_GIL=0; fails if the GIL is on
## once the lab and all its dependencies are imported, or after the test run
test-ft:
	@ft="$$(tools/freethreaded.sh | tail -n 1)" && test -n "$$ft" \
	  && $(MAKE) --no-print-directory PYTHON="$$ft" pytest-ft

# pytest, then the GIL must still be off (on one line: the command line ends up in maps headers)
PYTEST_NOGIL = import sys, pytest; rc = pytest.main(sys.argv[1:]); gil = sys._is_gil_enabled(); \
  print("GIL ON after the test run" if gil else "GIL off after the test run"); sys.exit(rc or gil)

pytest-ft: $(STAMP)
	tools/freethreaded.sh --check-gil $(BIN)/python
	PYTHON_GIL=0 tools/freethreaded.sh --check-gil $(BIN)/python
	PYTHON_GIL=0 $(BIN)/python -c '$(PYTEST_NOGIL)' $(PYTEST_ARGS)

clean:
	rm -rf .venv .venv-* .pytest_cache .mypy_cache .ruff_cache .hypothesis
