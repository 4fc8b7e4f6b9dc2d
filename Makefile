# Entry points: `make quickstart` (the main job) and `make test` (every test lane, as CI runs it).
# Both set up .venv on first use: system GL libraries (EGL/OSMesa, via apt when root), then pinned packages.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= $(MUJOCO_GL)

.PHONY: setup system-deps quickstart doctor test test-unit test-ray test-slow lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"mwx_ray needs Python 3.11, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned, so no dependency can pull an unpinned (CUDA) build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev,text]"
	@touch $(STAMP)

# Headless rendering needs Mesa's EGL (OSMesa is the fallback); the browser test needs Chromium.
# Installed with apt when root and missing.
system-deps:
	@if ldconfig -p | grep -q 'libEGL.so.1' && ldconfig -p | grep -q 'libEGL_mesa'; then \
	  echo "system GL libraries present"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    libegl1 libgl1 libgl1-mesa-dri libosmesa6 >/dev/null && echo "installed EGL/OSMesa"; \
	else \
	  echo "warning: install libegl1 libgl1-mesa-dri libosmesa6 for headless rendering (not root: skipped)"; \
	fi
	@# Debian's Chromium for the dashboard browser test (tests/e2e), driven by Playwright with this binary.
	@if [ -x /usr/bin/chromium ]; then \
	  echo "chromium present"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium >/dev/null && echo "installed chromium"; \
	else \
	  echo "warning: install chromium for the dashboard browser test (not root: skipped)"; \
	fi

quickstart: setup
	$(BIN)/mwx quickstart

doctor: setup
	$(BIN)/mwx doctor

# CI: lint and type-check first (seconds), then every test lane.
test: setup
	$(BIN)/ruff check mwx_ray analysis tests benchmarks tune_configs
	$(BIN)/basedpyright
	$(BIN)/python -m pytest -m "" tests

test-unit: setup
	$(BIN)/python -m pytest tests/unit

test-ray: setup
	$(BIN)/python -m pytest -m ray tests

test-slow: setup
	$(BIN)/python -m pytest -m slow tests

lint: setup
	$(BIN)/ruff check mwx_ray analysis tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
