# make run   - set everything up, then benchmark this machine through the instance_benchmarks DAG
# make test  - set everything up, then ruff and pytest (everything CI runs)
# make test-fast - unit and integration tests: no real benchmark, engine, stack or browser (the inner loop)
# make test-cold - every image from debootstrap without a cache, the quick profile rule-sized in each
# make up    - airflow standalone with this project's DAGs, for the UI
# make images - build the four runner images in this machine's own Docker engine and registry
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
# What is slow to make and safe to share lives in the checkout (.build/, .venv) unless INSTANCE_BENCHMARKS_CACHE
# names a folder: then the Docker engine's data root and registry, the image build contexts and wheels, the compiled
# benchmarks, pip's cache and the virtualenv (one per requirements.txt and Python) live there, for every clone on
# the machine. .ci/run points it at a machine-wide folder and holds a lock on it; make test-cold ignores it.
export INSTANCE_BENCHMARKS_CACHE
CACHE := $(if $(INSTANCE_BENCHMARKS_CACHE),$(abspath $(INSTANCE_BENCHMARKS_CACHE)),$(CURDIR)/.build)
ENV_KEY := $(shell { cat requirements.txt; $(PYTHON) --version; } | sha256sum | cut -c1-12)
VENV := $(if $(INSTANCE_BENCHMARKS_CACHE),$(CACHE)/venv-$(ENV_KEY),$(CURDIR)/.venv)
# A shared virtualenv is keyed by its content, so a fresh clone's newer requirements.txt does not mean a new install.
REQUIREMENTS_PREREQ := $(if $(INSTANCE_BENCHMARKS_CACHE),,requirements.txt)
BIN := $(VENV)/bin
CONF ?= {}
# airflow standalone starts its components as `airflow ...` from PATH: the venv comes first.
export PATH := $(BIN):$(PATH)

# Airflow lives inside the repo (ignored by git): nothing touches ~/airflow.
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
# The default (32) starts 32 worker processes, about 5.6 GB, on a 2-core machine.
export AIRFLOW__CORE__PARALLELISM ?= 4
export PYTHONPATH := $(CURDIR)/plugins
export BENCHRUN_BUILD_DIR := $(CACHE)/local
ifdef INSTANCE_BENCHMARKS_CACHE
export PIP_CACHE_DIR := $(CACHE)/pip
export UV_CACHE_DIR := $(CACHE)/uv
endif

.PHONY: help setup deps deps-test deps-engine run test test-fast test-cold lint up check-forms clean aws-smoke images \
	engine-stop client

help:
	@echo "make run [CONF='{\"profile\": \"standard\"}']   benchmark this machine through the DAG"
	@echo "make test                                     ruff and pytest: everything CI runs"
	@echo "make test-fast                                unit and integration tests only (no benchmark, engine, stack, browser)"
	@echo "make test-cold [VARIANT=generic,amd,intel]    every image from debootstrap, no cache, quick profile in each"
	@echo "make up                                       airflow standalone with this project's DAGs"
	@echo "make check-forms                              submit each DAG's trigger form in Chromium (make up running)"
	@echo "make images [VARIANT=generic,amd]             build, push and list the runner images (this machine's engine)"
	@echo "make images REGISTRY=<ecr repository uri>     ... against DOCKER_HOST's engine and a real registry instead"
	@echo "make client                                   regenerate the REST API's Python client (include/clients/python)"
	@echo "make aws-smoke RESULTS_URI=s3://bucket/prefix  one c7g.medium on AWS (needs credentials; see docs/aws.md)"

# uv installs the same pinned lock as pip (pip freeze of both venvs is identical) in 15 s where pip takes 105 s with
# empty caches on this 2-core machine; pip is the fallback where uv cannot reach the index.
$(BIN)/.requirements-installed: $(REQUIREMENTS_PREREQ)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv==0.13.9
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -r requirements.txt \
	    || $(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

# uv writes no bytecode (pip does), and where PYTHONDONTWRITEBYTECODE is set (this machine's shells) no process ever
# caches it: each one, every Airflow task, CLI call and test subprocess, compiled what it imported from source. Airflow,
# pandas and boto3 then took 5.5 s to import where compiled they take 2.3 s. Compiling the venv once takes 26 s.
# A file that does not compile (a package's template for another Python) only stays uncached, as pip leaves it.
$(BIN)/.bytecode-compiled: $(BIN)/.requirements-installed
	$(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
	    > /dev/null || echo "compileall: some files of the venv stay uncompiled (imported from source)"
	@touch $@

deps:
	@include/containers/runner/install-debian-packages.sh

# What only the tests need (chromium for the browser test of the report and dashboard, the Docker engine).
deps-test: deps-engine
	@include/containers/runner/install-debian-packages.sh tests/debian-packages.txt

# Debian's Docker Engine, registry, debootstrap and qemu-user (instance_benchmarks.engine starts them by hand).
deps-engine:
	@include/containers/runner/install-debian-packages.sh include/containers/engine-packages.txt

$(AIRFLOW_HOME)/airflow.db: $(BIN)/.requirements-installed
	@mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (cat $(AIRFLOW_HOME)/db-migrate.log; exit 1)

setup: deps $(BIN)/.bytecode-compiled $(AIRFLOW_HOME)/airflow.db

# make run benchmarks in the runner image when an engine answers: DOCKER_HOST's, else this machine's own
# when `make images` (or the tests) left it running, else the default socket; with none, bare.
LOCAL_ENGINE := $(CACHE)/engine/docker.sock
run: setup
	DOCKER_HOST="$${DOCKER_HOST:-$(if $(wildcard $(LOCAL_ENGINE)),unix://$(LOCAL_ENGINE),)}" \
	    $(BIN)/python -m instance_benchmarks.cli run --conf '$(CONF)'

# The REST API's Python client, regenerated from the schema the app serves (after changing any /api route).
client: $(BIN)/.requirements-installed
	$(BIN)/python include/clients/python/regenerate.py

lint: $(BIN)/.requirements-installed
	$(BIN)/ruff check .
	$(BIN)/hadolint --failure-threshold warning include/containers/*.Dockerfile include/airflow.Dockerfile

test: setup deps-test lint
	$(BIN)/pytest

# The tiers are pytest markers (pyproject.toml); what make test-fast leaves out, make test and CI run.
FAST_TIER := not e2e and not engine and not stack and not browser
test-fast: setup lint
	$(BIN)/pytest -m "$(FAST_TIER)"

# What per-push CI no longer proves, one command away: with a fresh, empty cache (no engine data, no registry, no
# bases, no compiled benchmarks), every image of VARIANT is built from a debootstrapped Debian, pushed, pulled by
# digest and runs `benchrun all --profile quick` rule-sized (graviton: under emulation, refused as results).
# Run it after any change under include/containers/, plugins/instance_benchmarks/engine.py or images.py.
COLD_VARIANTS ?= generic,amd,intel,graviton
test-cold: setup deps-test
	cold=$$(mktemp -d /var/tmp/instance-benchmarks-cold.XXXXXX); trap 'rm -rf "$$cold"' EXIT; \
	INSTANCE_BENCHMARKS_CACHE="$$cold" BENCHRUN_BUILD_DIR="$$cold/local" INSTANCE_BENCHMARKS_TEST_COLD=$(COLD_VARIANTS) \
	    $(BIN)/pytest -m cold -p no:cacheprovider

# One small instance on real AWS, under a dollar: c7g.medium, quick profile, 10-minute budget.
SMOKE_CONF = {"target": "aws", "instance_types": ["c7g.medium"], "profile": "quick", "time_budget_s": 600, "results_uri": "$(RESULTS_URI)"}
AWS_CONF ?= {}
aws-smoke: setup
	@test -n "$(RESULTS_URI)" || { echo "usage: make aws-smoke RESULTS_URI=s3://bucket/prefix [AWS_CONF='{\"region\": \"eu-west-1\"}']"; exit 2; }
	$(BIN)/python -c 'import json,sys; print(json.dumps({**json.loads(sys.argv[1]), **json.loads(sys.argv[2])}))' \
	    '$(SMOKE_CONF)' '$(AWS_CONF)' > $(AIRFLOW_HOME)/aws-smoke-conf.json
	$(BIN)/python -m instance_benchmarks.cli run --conf "$$(cat $(AIRFLOW_HOME)/aws-smoke-conf.json)"

# How many hosts benchmark at once under `make up`'s scheduler (dag.test, used by `make run`, ignores pools); its
# plans read the same number (INSTANCE_BENCHMARKS_HOSTS_AT_ONCE) to predict how long a run takes.
HOSTS_AT_ONCE ?= 4

up: setup
	$(BIN)/airflow pools set instance_benchmarks_hosts $(HOSTS_AT_ONCE) "hosts benchmarking at once (deferred waits count)" --include-deferred > /dev/null
	@echo "Airflow UI: http://localhost:8080  (user admin; password in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated)"
	INSTANCE_BENCHMARKS_HOSTS_AT_ONCE=$(HOSTS_AT_ONCE) $(BIN)/airflow standalone

# Against a running `AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True make up`: each DAG's trigger form,
# submitted with its defaults in Chromium; prints trigger_with_defaults: <k> of 5.
UI_URL ?= http://localhost:8080
check-forms: $(BIN)/.requirements-installed deps-test
	$(BIN)/python -m tests.ui.browser --url $(UI_URL)

# The four runner images, built by the project's driver; one line per image:
#   image <variant> <reference>@<digest> built_in_s <s>
# Without REGISTRY: this machine's engine and registry under .build/engine (started, and left running
# for make run and the tests to reuse; `make engine-stop` stops them). With REGISTRY: DOCKER_HOST's engine.
VARIANT ?= all
REGISTRY ?=
images: $(BIN)/.requirements-installed deps-engine
	$(BIN)/python -m instance_benchmarks.images --variant $(VARIANT) $(if $(REGISTRY),--registry $(REGISTRY),--local)

engine-stop: $(BIN)/.requirements-installed
	$(BIN)/python -m instance_benchmarks.engine stop

clean:
	-@test -x $(BIN)/python && $(BIN)/python -m instance_benchmarks.engine stop
	rm -rf $(CURDIR)/.venv $(AIRFLOW_HOME) .build .pytest_cache .ruff_cache
