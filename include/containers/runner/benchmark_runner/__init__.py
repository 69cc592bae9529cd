"""The benchmark runner: runs on the instance (bare or in a container) with the
Python standard library and the compiled benchmarks, never with Airflow."""

RUNNER_VERSION = "0.1.0"
SCHEMA_ID = "https://instance-benchmarks.dev/schemas/benchmark-result.v1.schema.json"
