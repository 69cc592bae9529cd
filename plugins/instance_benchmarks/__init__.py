"""instance_benchmarks: the project's Python package (plugins/ is on Airflow's sys.path).

Paths resolve from this file so the same code works in a checkout, in `airflow
standalone` and in the compose stack (which mounts dags/, plugins/, include/ side by side).
"""

import importlib
import os
import sys
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = PROJECT_ROOT / "include"
RUNNER_DIR = INCLUDE_DIR / "containers" / "runner"
BENCHRUN = RUNNER_DIR / "benchrun"
SCHEMA_DIR = INCLUDE_DIR / "schemas"
RESULT_SCHEMA = SCHEMA_DIR / "benchmark-result.v1.schema.json"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
# What is slow to make and safe to share: the Docker engine's data root and the registry's storage (image layers,
# debootstrapped bases), the compiled benchmarks. Inside the checkout by default; $INSTANCE_BENCHMARKS_CACHE puts
# them where every clone on the machine finds them (.ci/run does, under a lock).
CACHE_VARIABLE = "INSTANCE_BENCHMARKS_CACHE"
CACHE_DIR = Path(os.environ.get(CACHE_VARIABLE) or PROJECT_ROOT / ".build")
FAMILIES = ("intel", "amd", "graviton")
# The results_uri is a run param, so the Asset names the results, not one URI: each event's extra
# carries the results_uri (and connection) that changed, and results_analysis rebuilds those.
RESULTS_ASSET_NAME = "instance_benchmarks_results"
BENCHMARK_DAG_ID = "instance_benchmarks"
# Emitted by the API for each contributed result it takes in (its extra: results_uri, submission_id); the
# contributions DAG is scheduled on it (issue 32).
SUBMISSIONS_ASSET_NAME = "instance_benchmarks_submissions"
# Every task that holds an instance (provision through the last benchmark) takes a slot of this pool,
# deferred waits included (the pool is created with --include-deferred): its size bounds how many
# instances benchmark at once. Created by `make up`, by the compose stack's airflow-init, or by hand.
HOSTS_POOL = "instance_benchmarks_hosts"
# The runner's test-only profile (profiles.json: test_only): small STREAM arrays and HPL capped at seconds, for
# tests that check plumbing, not figures. A deployment must allow it explicitly; its documents never enter a dataset.
TEST_PROFILE = "test"
ALLOW_TEST_PROFILE_VARIABLE = "INSTANCE_BENCHMARKS_ALLOW_TEST_PROFILE"


def runner_module(name: str) -> Any:
    """One of the runner's own modules (standard library only), the one source of its rules: the planner reads
    HPL's sizing and layouts from it, the validator its binding check."""
    if str(RUNNER_DIR) not in sys.path:
        sys.path.append(str(RUNNER_DIR))
    return importlib.import_module(f"benchmark_runner.{name}")


def allows_test_profile() -> bool:
    """Whether this deployment accepts the test profile ($INSTANCE_BENCHMARKS_ALLOW_TEST_PROFILE=true): only test
    deployments set it; everywhere else the form refuses the profile and the validator quarantines its documents."""
    return os.environ.get(ALLOW_TEST_PROFILE_VARIABLE, "").strip().lower() in ("1", "true", "yes")
