"""weekly_refresh: once a week, an instance_benchmarks run of the configured catalog."""

from __future__ import annotations

import datetime
import os

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from instance_benchmarks.notifications import failure_notifiers
from instance_benchmarks.params import HOUSEKEEPING_DEFAULT_ARGS

# How often the deferred wait asks for the week's run's state (a week's run takes minutes to hours)
WAIT_POLL_S = float(os.environ.get("INSTANCE_BENCHMARKS_WEEKLY_POLL_S", "60"))

DOC_MD = """
### Weekly refresh

Every week, triggers `instance_benchmarks` for what the deployment configures:
`$INSTANCE_BENCHMARKS_INSTANCE_TYPES` (types, families or `all`) on `$INSTANCE_BENCHMARKS_TARGET`,
with the standard profile (`$INSTANCE_BENCHMARKS_WEEKLY_PROFILE`), 540 s per type
(`$INSTANCE_BENCHMARKS_WEEKLY_TIME_BUDGET_S`), two hosts per type in different zones
(`$INSTANCE_BENCHMARKS_WEEKLY_INSTANCES_PER_TYPE`) and `$INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD` as the run's
budget when set. With nothing configured it skips, saying what to set.

It waits for that run (deferred: no worker is held) and fails when the run fails, so a green week is a
measured week. The run is named by its week, `weekly__<YYYY-MM-DD>` (the logical date; a manual trigger
without one: the day it ran): a retried or cleared trigger finds the week's run and skips instead of starting a
second. To retry a failed week, clear the failed tasks of its `weekly__...` run.

**What a week costs**: trigger it with *Preview only* on. The run it starts (`weekly__<day>__preview`) is a
dry run of the same catalog and settings: its `plan` task logs the expected instance-hours and dollars (and why
any type would miss 10 minutes or $5), and writes `plans/<run>.summary.json`; nothing launches.
After a real week, the report's *Plan against actual* section gives what it cost.

**Missed weeks** (the deployment was down): a backfill catches up once. Each backfilled week's run gets
`skip_measured_since=<its week>`: it measures only the configured types with no stored document in its region
dated on or after that week's start, and the others are recorded as skipped at `plan` with the date they were
measured. So a backfill of four missed weeks measures each type once, in the oldest week, and the later weeks
find everything measured since and launch nothing (docs/runbooks.md):

    airflow backfill create --dag-id weekly_refresh --from-date 2026-11-01 --to-date 2026-11-22 --max-active-runs 1
"""


@dag(
    dag_id="weekly_refresh",
    schedule="@weekly",
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=HOUSEKEEPING_DEFAULT_ARGS,
    doc_md=DOC_MD,
    on_failure_callback=failure_notifiers(),  # one SNS message per failed run, when configured
    tags=["benchmarks", "schedule"],
    params={"preview_only": Param(
        False, type="boolean", title="Preview only",
        description="Start a dry run: the week's expected cost is logged, nothing launches.")},
)
def weekly_refresh():
    @task(multiple_outputs=True)
    def week() -> dict:
        """The week's run: its conf from the deployment's settings (read when the task runs, not at parse time) and
        its run id, one per week (a retried or cleared trigger finds the week's run and never starts a second)."""
        from instance_benchmarks.params import default_instance_types, default_target, weekly_run_id, weekly_settings

        types = default_instance_types()
        target = default_target()
        if target == "aws" and not types:
            raise AirflowSkipException("nothing to refresh: set INSTANCE_BENCHMARKS_INSTANCE_TYPES "
                                       "(e.g. m7i,c7g or all) in the deployment's environment")
        context = get_current_context()
        preview = bool(context["params"].get("preview_only"))
        dag_run = context["dag_run"]  # a manual trigger may have no logical date: its week is the day it ran
        week_began = (dag_run.logical_date or dag_run.run_after).date()
        conf = {"target": target, "instance_types": types, **weekly_settings(target)}
        if preview:
            conf["dry_run"] = True
        if dag_run.run_type == "backfill":  # a missed week: only what nobody has measured since it began
            conf["skip_measured_since"] = week_began.isoformat()
        return {"conf": conf, "run_id": weekly_run_id(week_began, preview=preview)}

    this_week = week()
    # Waits (deferred, in the triggerer) and fails when the week's run fails (issue 28 item 5): a green
    # weekly_refresh is a week measured. retries=0: the run it started is what to retry (clear its failed tasks);
    # a retried trigger would find that run and skip, turning a failed week green.
    TriggerDagRunOperator(task_id="benchmark_the_catalog", trigger_dag_id="instance_benchmarks",
                          conf=this_week["conf"], trigger_run_id=this_week["run_id"], logical_date=None,
                          skip_when_already_exists=True, wait_for_completion=True, deferrable=True,
                          poke_interval=WAIT_POLL_S, retries=0,
                          # what a user sees on the run a manual run is queued behind (max_active_runs=1)
                          note="The weekly refresh (weekly_refresh). A run triggered while it runs is queued "
                               "until it ends: instance_benchmarks runs one at a time.")


dag = weekly_refresh()

if __name__ == "__main__":
    dag.test()
