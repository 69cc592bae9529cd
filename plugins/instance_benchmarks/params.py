"""The trigger form of `instance_benchmarks`: every param with a JSON schema, so a
bad value is refused before a run starts, with a message naming the param."""

from __future__ import annotations

import os

from airflow.sdk import Param

from instance_benchmarks import DEFAULT_DATA_DIR

INSTANCE_TYPE_PATTERN = r"^([a-z][a-z0-9-]*\.[a-z0-9]+|[a-z][a-z0-9-]*|all)$"


def default_results_uri() -> str:
    return os.environ.get("INSTANCE_BENCHMARKS_RESULTS_URI") or DEFAULT_DATA_DIR.as_uri()


def default_target() -> str:
    """`local` unless the deployment says otherwise, so `make run` works on a laptop."""
    return os.environ.get("INSTANCE_BENCHMARKS_TARGET", "local")


def benchmark_params() -> dict[str, Param]:
    return {
        "target": Param(
            default_target(),
            enum=["local", "aws"],
            title="Target",
            description="`local` benchmarks the machine Airflow runs on; `aws` launches EC2 instances.",
        ),
        "instance_types": Param(
            [],
            type="array",
            items={"type": "string", "pattern": INSTANCE_TYPE_PATTERN},
            uniqueItems=True,
            maxItems=1000,
            title="Instance types or families",
            description="e.g. `m7i.large`, a family such as `c7g`, or `all` (current generation). "
            "Ignored for target=local: the host is this machine.",
        ),
        "repetitions": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=50,
            title="Repetitions",
            description="Independent runs of each benchmark (for the confidence interval). "
            "Empty: the profile's default (quick: STREAM 3, HPL 3; standard: STREAM 5, HPL 3).",
        ),
        "profile": Param(
            "quick",
            enum=["quick", "standard"],
            title="Profile",
            description="`quick` finishes in about 3 minutes per host; `standard` uses the time budget.",
        ),
        "time_budget_s": Param(
            1800,
            type="integer",
            minimum=60,
            maximum=86400,
            title="Time budget per instance (seconds)",
            description="Caps HPL's problem size so the suite finishes within it.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Plan and preview only: nothing is launched or benchmarked.",
        ),
        "results_uri": Param(
            default_results_uri(),
            type="string",
            pattern=r"^(file|s3)://\S+$",
            title="Results URI",
            description="Where documents, the dataset and reports go: `file:///abs/path` or `s3://bucket/prefix`.",
        ),
    }
