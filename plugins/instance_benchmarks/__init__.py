"""instance_benchmarks: the project's Python package (plugins/ is on Airflow's sys.path).

Paths resolve from this file so the same code works in a checkout, in `airflow
standalone` and in the compose stack (which mounts dags/, plugins/, include/ side by side).
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = PROJECT_ROOT / "include"
RUNNER_DIR = INCLUDE_DIR / "containers" / "runner"
BENCHRUN = RUNNER_DIR / "benchrun"
SCHEMA_DIR = INCLUDE_DIR / "schemas"
RESULT_SCHEMA = SCHEMA_DIR / "benchmark-result.v1.schema.json"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
FAMILIES = ("intel", "amd", "graviton")
# The results_uri is a run param, so the Asset names the results, not one URI: each event's extra
# carries the results_uri (and connection) that changed, and results_analysis rebuilds those.
RESULTS_ASSET_NAME = "instance_benchmarks_results"
# Every task that holds an instance (provision through the last benchmark) takes a slot of this pool,
# deferred waits included (the pool is created with --include-deferred): its size bounds how many
# instances benchmark at once. Created by `make up`, by the compose stack's airflow-init, or by hand.
HOSTS_POOL = "instance_benchmarks_hosts"
