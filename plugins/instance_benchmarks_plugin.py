"""Registers the project's AirflowPlugin (the package itself is in .airflowignore: Airflow would
otherwise import each of its modules as a top-level module of its own)."""

from instance_benchmarks.plugin import InstanceBenchmarksPlugin

__all__ = ["InstanceBenchmarksPlugin"]
