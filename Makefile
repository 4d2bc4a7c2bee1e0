# Quickstart targets: `make demo` and `make test` each create (or reuse) .venv in the checkout.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ernte-installed
# torch: pyproject.toml asks for any torch >= 2.4. A venv without one gets TORCH_SPEC first (the
# CPU build where pip finds one; TORCH_PIP_ARGS can name another index); a torch already in the
# venv, such as a CUDA build installed by hand, is kept. See README, "Installing torch".
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=

.PHONY: install chromium demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Ernte needs Python >= 3.11; set PYTHON=python3.11 (or newer)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip show --quiet torch 2>/dev/null || $(BIN)/python -m pip install --quiet --no-warn-script-location -c constraints.txt $(TORCH_PIP_ARGS) '$(TORCH_SPEC)'
	$(BIN)/python -m pip install --quiet --no-warn-script-location -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Debian's Chromium: tests/test_report.py renders `ernte report` pages in it (headless). CI runs
# as root on Debian; elsewhere install a chromium at /usr/bin/chromium yourself.
chromium:
	@test -x /usr/bin/chromium || { \
	  command -v apt-get >/dev/null || { echo "make chromium: no apt-get here; install Chromium as /usr/bin/chromium" >&2; exit 1; }; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends chromium >/dev/null \
	  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; }

demo: install
	$(BIN)/ernte demo

test: install chromium
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/crawl.py

clean:
	rm -rf $(VENV) ernte-demo .pytest_cache
