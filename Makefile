# denbi-jupyter: `make demo` runs the main job on the embedded local cloud, `make test` passes all tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip --disable-pip-version-check

.PHONY: setup system-deps demo test test-notebooks lint unit browser bench lock clean fuzz load

setup: $(VENV)/.installed

# The editable install also builds the JupyterLab extension (labextension/, with npm) unless
# denbi_jupyter/labextension is newer than its source, and installs it for the venv's lab.
# uv (pinned in constraints.txt, installed by pip) installs the same pinned set as pip would in
# a fraction of pip's time (about 45 s instead of 170 s from a cold cache on 2 cores).
$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v npm >/dev/null || { echo "npm (Node.js >= 20.19) builds the JupyterLab extension: make system-deps, or install Node.js" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt uv
	$(BIN)/uv pip install -q --python $(BIN)/python -c constraints.txt -e '.[dev]'
	$(BIN)/denbi-jupyter prefect prepare
	touch $@

# Debian packages the tests need: Chromium for the browser tests, puttygen as the PPK oracle,
# the OpenSSH client for the real logins, Qt's QSettings (python3-pyqt5) and python3-x2go as the
# readers of X2Go session files; Node.js and npm build the
# JupyterLab extension (its builder needs Node >= 20.19: Debian 13's nodejs, or NodeSource's).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	command -v puttygen >/dev/null || missing="$$missing putty-tools"; \
	command -v ssh-keygen >/dev/null || missing="$$missing openssh-client"; \
	dpkg -s python3-x2go >/dev/null 2>&1 || missing="$$missing python3-x2go"; \
	dpkg -s python3-pyqt5 >/dev/null 2>&1 || missing="$$missing python3-pyqt5"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing -- run: sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi

demo: setup
	$(BIN)/denbi-jupyter demo

lint: setup
	$(BIN)/ruff check denbi_jupyter flows openstack_tier tests benchmarks
	$(BIN)/ruff format --check denbi_jupyter flows openstack_tier tests benchmarks
	$(BIN)/mypy

# The suite runs in groups, two at a time (most of a test's time is spent waiting on the
# local cloud, Prefect or a browser, not on a core), next to the linters and the notebooks. Each
# group is its own pytest session with its own local cloud and Prefect; longest first; a group's
# output is printed when it is done. The fault matrix runs in two groups; each records its cells
# in MATRIX_RECORD and the whole table is printed once all passed. tests/package/
# test_make_groups.py checks that every file of tests is in exactly one group.
TEST_GROUPS := matrix1 browser security backend matrix2 flows panels cloud
group_browser := tests/browser tests/journey tests/labserver tests/package
group_security := tests/security tests/hostile
group_matrix1 := tests/reliability/test_matrix_kill_rerun.py tests/reliability/test_matrix_policy.py tests/reliability/test_matrix_copy.py tests/reliability/test_matrix_retention.py
group_backend := tests/backend tests/guards tests/distributed
group_matrix2 := tests/reliability/test_matrix_record.py tests/reliability/test_matrix_boot.py tests/reliability/test_matrix_snapshot.py tests/reliability/test_matrix_servers.py tests/reliability/test_matrix_delete.py tests/reliability/test_matrix_keypairs.py
group_flows := tests/flows tests/cli tests/contract
group_panels := tests/panels tests/jobs
group_cloud := tests/localcloud tests/cloud tests/connect tests/openstack_tier

test: setup system-deps
	@record=$$(mktemp -d) && trap 'rm -rf "$$record"' EXIT && \
	MATRIX_RECORD=$$record $(MAKE) --no-print-directory -j2 -k --output-sync=target \
	  lint $(addprefix test-group-,$(TEST_GROUPS)) test-notebooks && \
	$(BIN)/python -m tests.reliability.matrix "$$record"

# XDG_CACHE_HOME stays the real cache in tests that give commands a HOME of their own: new
# Prefect homes start from the empty database `denbi-jupyter prefect prepare` made there.
test-group-%: setup
	@echo "== test group $*: $(group_$*)"
	XDG_CACHE_HOME=$${XDG_CACHE_HOME:-$$HOME/.cache} $(BIN)/python -m pytest -m 'not load' $(group_$*)

test-notebooks: setup
	DENBI_JUPYTER_PREFECT_HOME=$$(mktemp -d) $(BIN)/python -m pytest --nbval-lax notebooks

# 50 flows at once over both sites, in a kernel and on a work pool; 20 concurrent --no-wait
# commands on one per-user Prefect server (make test runs 8); then the keystroke latency.
load: setup
	$(BIN)/python -m pytest -m load tests/load tests/backend/test_one_backend.py
	$(BIN)/python benchmarks/keystroke_latency.py

# Hostile-input properties with the fuzz profile (100x the examples of `make test`, >= 100,000).
fuzz: setup
	DENBI_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/hostile -q

bench: setup
	@for script in benchmarks/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Re-resolve the newest versions and write them to constraints.txt.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q '.[dev]'
	{ echo "# Pinned versions for a fresh machine: what CI resolved. Regenerate with 'make lock'."; \
	  .lock-venv/bin/pip freeze --exclude denbi-jupyter; } > constraints.txt
	rm -rf .lock-venv

-include openstack_tier/tier.mk

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info test-artifacts
	rm -rf denbi_jupyter/labextension labextension/node_modules labextension/lib labextension/tsconfig.tsbuildinfo
