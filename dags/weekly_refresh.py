"""weekly_refresh: once a week, an instance_benchmarks run of the configured catalog."""

from __future__ import annotations

import datetime

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from instance_benchmarks.params import HOUSEKEEPING_DEFAULT_ARGS

DOC_MD = """
### Weekly refresh

Every week, triggers `instance_benchmarks` for what the deployment configures:
`$INSTANCE_BENCHMARKS_INSTANCE_TYPES` (types, families or `all`) on `$INSTANCE_BENCHMARKS_TARGET`,
with the standard profile (`$INSTANCE_BENCHMARKS_WEEKLY_PROFILE`), 540 s per type
(`$INSTANCE_BENCHMARKS_WEEKLY_TIME_BUDGET_S`), two hosts per type in different zones
(`$INSTANCE_BENCHMARKS_WEEKLY_INSTANCES_PER_TYPE`) and `$INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD` as the run's
budget when set. With nothing configured it skips, saying what to set.

**What a week costs**: trigger it with *Preview only* on. The run it starts is a dry run of the
same catalog and settings: its `plan` task logs the expected instance-hours and dollars (and why
any type would miss 10 minutes or $5), and writes `plans/<run>.summary.json`; nothing launches.
After a real week, the report's *Plan against actual* section gives what it cost.

Missed weeks (the deployment was down, a new region was added) are filled with a backfill, each
week one triggered run:

    airflow backfill create --dag-id weekly_refresh --from-date 2026-11-01 --to-date 2026-11-29
"""


@dag(
    dag_id="weekly_refresh",
    schedule="@weekly",
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=HOUSEKEEPING_DEFAULT_ARGS,
    doc_md=DOC_MD,
    tags=["benchmarks", "schedule"],
    params={"preview_only": Param(
        False, type="boolean", title="Preview only",
        description="Start a dry run: the week's expected cost is logged, nothing launches.")},
)
def weekly_refresh():
    @task
    def weekly_conf() -> dict:
        """The run's conf from the deployment's settings (read when the task runs, not at parse time)."""
        from instance_benchmarks.params import default_instance_types, default_target, weekly_settings

        types = default_instance_types()
        target = default_target()
        if target == "aws" and not types:
            raise AirflowSkipException("nothing to refresh: set INSTANCE_BENCHMARKS_INSTANCE_TYPES "
                                       "(e.g. m7i,c7g or all) in the deployment's environment")
        preview = {"dry_run": True} if get_current_context()["params"].get("preview_only") else {}
        return {"target": target, "instance_types": types, **weekly_settings(target), **preview}

    TriggerDagRunOperator(task_id="benchmark_the_catalog", trigger_dag_id="instance_benchmarks",
                          conf=weekly_conf(), logical_date=None,
                          # what a user sees on the run a manual run is queued behind (max_active_runs=1)
                          note="The weekly refresh (weekly_refresh). A run triggered while it runs is queued "
                               "until it ends: instance_benchmarks runs one at a time.")


dag = weekly_refresh()

if __name__ == "__main__":
    dag.test()
