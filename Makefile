# Build and test pipeline of the jumphosts.multihop collection.
#
#   make test      everything CI runs (.ci/run), cheapest checks first, lab torn down at the end
#   make demo      bring the lab up and run tests/lab/demo.yml: the plugin, both roles, the modules, the report
#   make help      list the targets
#
# Two venvs: .venv (Python >= 3.12, ansible-core 2.21 and all tooling) and .venv-2.19
# (Python 3.11, ansible-core 2.19, runtime + pytest only). Everything runs as root on
# Debian 12; `deps` installs the Debian packages.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# --- Pythons (override on the command line, e.g. make venv PYTHON312=/usr/bin/python3.12)
newest = $(shell ls -d $(HOME)/.pyenv/versions/$(1)*/bin/python3 2>/dev/null | sort -V | tail -n 1)
PYTHON312 ?= $(or $(call newest,3.12),$(shell pyenv prefix 3.12 2>/dev/null | sed 's|$$|/bin/python3|'),$(shell command -v python3.12))
PYTHON311 ?= $(or $(call newest,3.11),$(shell command -v python3.11))

VENV := $(CURDIR)/.venv
VENV219 := $(CURDIR)/.venv-2.19

# --- Build layout: ansible-test and ansible-galaxy want .../ansible_collections/NAMESPACE/NAME
BUILD := $(CURDIR)/.build
STAGE := $(BUILD)/src/ansible_collections/jumphosts/multihop
DIST := $(BUILD)/dist
COLLECTIONS := $(BUILD)/collections
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := $(DIST)/jumphosts-multihop-$(VERSION).tar.gz

SANITY_PYTHON := 3.12
APT_PACKAGES := openssh-server openssh-client iproute2 sudo netcat-openbsd rsync graphviz shellcheck chromium fonts-liberation

LAB_DIR ?= $(or $(MULTIHOP_LAB_DIR),/var/lib/multihop-lab)
export MULTIHOP_LAB_DIR := $(LAB_DIR)

# Tests see the collection as installed by `make install`: pytest-ansible's
# --ansible-unit-inject-only (set in pyproject.toml) puts ANSIBLE_COLLECTIONS_PATH on
# ansible-core's collection finder, so tests import ansible_collections.jumphosts.multihop.*
# and load plugins with connection_loader as ansible does at run time.
TEST_ENV := ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) MULTIHOP_COLLECTION_TARBALL=$(TARBALL)
# Integration tests and tools call `ansible-playbook` from PATH: put the right venv first.
with_venv = PATH=$(1)/bin:$$PATH ANSIBLE_PLAYBOOK=$(1)/bin/ansible-playbook $(TEST_ENV)

.PHONY: help deps venv install lint sanity unit fuzz ee integration integration-2.19 molecule \
        benchmark demo lab-up lab-down lab-status docs docs-lint docs-test test clean distclean

help: ## List targets
	@grep -hE '^[a-z0-9.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

deps: ## Install missing Debian packages (root), and the directory sshd needs in the root namespace
	tests/ci/apt-deps.sh $(APT_PACKAGES)
	[ "$$(id -u)" -ne 0 ] || install -d -m 0755 /run/sshd

# --- venvs: rebuilt when their requirements file changes (stamp file), else a no-op
venv: $(VENV)/.stamp $(VENV219)/.stamp ## Create .venv (ansible-core 2.21) and .venv-2.19

# $(call make_venv,DIR,PYTHON,MIN_MINOR,REQUIREMENTS)
define make_venv
	@test -n "$(2)" || { echo "no Python 3.$(3) found: pyenv install 3.$(3), or pass PYTHON3$(3)=/path/to/python" >&2; exit 1; }
	@if [ -x $(1)/bin/python ] && ! $(1)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] < (3, $(3)))'; then \
	  echo "$(1) has an older Python; recreating"; rm -rf $(1); fi
	test -x $(1)/bin/python || $(2) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet -r $(4)
	touch $(1)/.stamp
endef

$(VENV)/.stamp: tests/requirements.txt
	$(call make_venv,$(VENV),$(PYTHON312),12,tests/requirements.txt)

$(VENV219)/.stamp: tests/requirements-2.19.txt
	$(call make_venv,$(VENV219),$(PYTHON311),11,tests/requirements-2.19.txt)

# --- build + install (both venvs use the same installed tree)
install: venv ## Build the collection tarball into .build/dist and install it into .build/collections
	tests/ci/stage-collection.sh $(STAGE)
	rm -rf $(DIST)
	$(VENV)/bin/ansible-galaxy collection build --output-path $(DIST) $(STAGE)
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VENV)/bin/ansible-galaxy collection install \
	  --force --collections-path $(COLLECTIONS) $(TARBALL)

# --- checks
lint: install ## ruff + ansible-lint (production profile, offline; playbooks resolve the installed collection)
	$(VENV)/bin/ruff check .
	PATH=$(VENV)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) ansible-lint --offline --profile production

sanity: install ## ansible-test sanity on ansible-core 2.21, Python 3.12, offline
	$(VENV)/bin/python tests/ci/seed_ansible_test_pip.py
	cd $(STAGE) && PATH=$(VENV)/bin:$$PATH ansible-test sanity --local --python $(SANITY_PYTHON) --color no

unit: install ## pytest tests/unit on ansible-core 2.21 and 2.19
	$(TEST_ENV) $(VENV)/bin/python -m pytest tests/unit
	$(TEST_ENV) $(VENV219)/bin/python -m pytest tests/unit

# The rendering fuzzer (tests/unit/plugins/plugin_utils/test_fuzz_rendering.py) runs in `unit` with a fixed
# seed and a few hundred examples per property; this runs it with FUZZ_EXAMPLES examples per property.
FUZZ_EXAMPLES ?= 5000
fuzz: install ## The rendering fuzzer alone, FUZZ_EXAMPLES (5000) examples per property, ansible-core 2.21
	MULTIHOP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(TEST_ENV) $(VENV)/bin/python -m pytest \
	  tests/unit/plugins/plugin_utils/test_fuzz_rendering.py

ee: install ## ansible-builder create with this collection, and its introspection
	$(TEST_ENV) $(VENV)/bin/python -m pytest tests/ee

integration: install ## pytest tests/integration against the lab, ansible-core 2.21 (root)
	$(call with_venv,$(VENV)) $(VENV)/bin/python -m pytest tests/integration

integration-2.19: install ## pytest tests/integration against the lab, ansible-core 2.19 (root)
	$(call with_venv,$(VENV219)) $(VENV219)/bin/python -m pytest tests/integration

molecule: install ## molecule test --all (extensions/molecule; scenarios bring the lab up and down)
	cd extensions && $(call with_venv,$(VENV)) molecule test --all

benchmark: install ## tests/benchmarks/storm.py on the lab (root)
	@test -f tests/benchmarks/storm.py || { echo "tests/benchmarks/storm.py does not exist" >&2; exit 1; }
	$(call with_venv,$(VENV)) $(VENV)/bin/python tests/benchmarks/storm.py $(BENCHMARK_ARGS)

# --- docs site: antsibull-docs writes RST for the installed collection (plugins, modules,
# roles, and the guides in docs/docsite/), Sphinx renders it. Offline: no intersphinx, no
# Galaxy. Sources are generated into .build/docs-src, the HTML goes to .build/docs.
DOCS_SRC := $(BUILD)/docs-src
DOCS_OUT := $(BUILD)/docs
DOCS_ENV := PATH=$(VENV)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS)
INSTALLED := $(COLLECTIONS)/ansible_collections/jumphosts/multihop

docs: install ## Build the HTML docs site into .build/docs (antsibull-docs + Sphinx, offline)
	rm -rf $(DOCS_SRC) $(DOCS_OUT)
	install -d -m 0700 $(DOCS_SRC)
	$(DOCS_ENV) antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error \
	  --dest-dir $(DOCS_SRC) \
	  --project jumphosts.multihop --copyright 'jumphosts.multihop contributors' \
	  --title 'jumphosts.multihop documentation' jumphosts.multihop
	cat tests/docs/site/conf_extra.py >> $(DOCS_SRC)/conf.py
	$(DOCS_ENV) antsibull-docs --config-file tests/docs/site/antsibull-docs.cfg collection \
	  --use-current --squash-hierarchy --fail-on-error --dest-dir $(DOCS_SRC)/rst jumphosts.multihop
	$(DOCS_ENV) sphinx-build -b html -q -W --keep-going -c $(DOCS_SRC) -d $(DOCS_SRC)/doctrees \
	  $(DOCS_SRC)/rst $(DOCS_OUT)
	@echo "docs site: $(DOCS_OUT)/index.html"

docs-lint: install ## antsibull-docs lint-collection-docs --plugin-docs on the installed collection
	$(DOCS_ENV) antsibull-docs lint-collection-docs --plugin-docs $(INSTALLED)

docs-test: docs ## Open the built site in headless Chromium: pages render, internal links resolve, screenshot
	$(VENV)/bin/python -m pytest tests/docs -p no:cacheprovider

# --- lab + demo
lab-up: venv ## Bring the lab up (LAB_TARGETS=N)
	$(VENV)/bin/python tests/lab/lab.py up $(if $(LAB_TARGETS),--targets $(LAB_TARGETS))

lab-down: ## Take the lab down
	$(or $(wildcard $(VENV)/bin/python),python3) tests/lab/lab.py down

lab-status: ## Show the lab's state
	$(or $(wildcard $(VENV)/bin/python),python3) tests/lab/lab.py status

demo: install lab-up ## Lab up + tests/lab/demo.yml: plugin, chain_info, reachability_info, both roles, report (lab stays up)
	$(call with_venv,$(VENV)) ansible-playbook -i $(LAB_DIR)/inventory.yml tests/lab/demo.yml
	@echo "The lab is still up (inventory: $(LAB_DIR)/inventory.yml); make lab-down takes it down."

# --- everything, cheap checks first; the lab goes down at the end whatever happens
# (The sub-make is named through SUBMAKE, not $(MAKE): make runs any line that names
# $(MAKE) even under `make -n`, which would take a running lab down.)
SUBMAKE = $(MAKE)
test: ## deps, venvs, lint, sanity, docs lint, unit, docs site + browser test, ee, integration (2.21, 2.19), molecule
	tests/ci/with-lab-teardown.sh $(VENV)/bin/python \
	  $(SUBMAKE) deps venv lint install sanity docs-lint unit docs docs-test ee integration integration-2.19 molecule

clean: ## Remove build and test output
	rm -rf $(BUILD) tests/output .pytest_cache

distclean: clean ## Also remove the venvs
	rm -rf $(VENV) $(VENV219)
