"""weekly_refresh: once a week, the catalog's types chosen within the weekly budget, reviewed, then measured."""

from __future__ import annotations

import datetime
import os

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from instance_benchmarks.notifications import failure_notifiers
from instance_benchmarks.params import HOUSEKEEPING_DEFAULT_ARGS

# How often the deferred wait asks for the week's runs' state (a week's run takes minutes to hours)
WAIT_POLL_S = float(os.environ.get("INSTANCE_BENCHMARKS_WEEKLY_POLL_S", "60"))
# How long the plan waits for a person before it is approved as it stands (an unattended week still runs)
REVIEW_HOURS = float(os.environ.get("INSTANCE_BENCHMARKS_WEEKLY_REVIEW_HOURS", "12"))

DOC_MD = """
### Weekly refresh

Every week: **plan** which types to measure within the weekly budget, **review** the plan, then **measure** it.

1. `plan_the_week` reads the signals of every type the deployment configures (`$INSTANCE_BENCHMARKS_INSTANCE_TYPES`:
   types, families or `all`, in each of `$INSTANCE_BENCHMARKS_CATALOG_REGIONS`): never measured, the age and
   interval of its figures, its siblings' drift, what AWS now reports for it, a newer AMI or microcode, how often
   users asked for it, its spot record. It prices each choice (type x 1 or 2 hosts x market) with the weekly
   settings at today's prices and chooses the most value within `$INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD` (plus
   what last week left, once). The plan is written to `plans/weekly/<week>.json` and `.md` (docs/catalog.md,
   "The week's plan"). With no weekly budget every configured type is measured, as before the plan chose.
2. `review` shows the plan (Airflow's *Required actions*): **Approve** or **Reject**. Nobody answering for
   `$INSTANCE_BENCHMARKS_WEEKLY_REVIEW_HOURS` (12) approves it as it stands, so unattended weeks still run.
3. `benchmark_the_week` triggers one `instance_benchmarks` run per region, market and host count,
   `weekly__<week>__<region>__<market>__<hosts>h`, each with its share of the budget, and waits for them (deferred:
   no worker is held); a failed run fails the week. A retried or cleared week finds its runs and starts no second.

*Preview only* stops after the plan: nothing is reviewed or launched. On `target=local` the week is one run of
this machine.

**Missed weeks** (the deployment was down): a backfill catches up once, without waiting for a review (whoever
started it decided). Each backfilled week's runs get `skip_measured_since=<its week>`: they measure only the types
with no stored document dated on or after that week's start, so a backfill of four missed weeks measures each type
once, in the oldest week (docs/runbooks.md):

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
        description="Plan the week and stop: the plan is written, nothing is reviewed or launched.")},
)
def weekly_refresh():
    @task
    def plan_the_week() -> dict:
        """The week's plan from the deployment's settings (read when the task runs, not at parse time)."""
        from instance_benchmarks import weekly_refresh as week_module
        from instance_benchmarks.params import (
            catalog_regions,
            default_aws_conn_id,
            default_instance_types,
            default_results_uri,
            default_target,
            weekly_markets,
            weekly_run_id,
            weekly_settings,
        )
        from instance_benchmarks.results import ResultStore

        context = get_current_context()
        dag_run = context["dag_run"]  # a manual trigger may have no logical date: its week is the day it ran
        week = (dag_run.logical_date or dag_run.run_after).date()
        preview = bool(context["params"].get("preview_only"))
        backfill = dag_run.run_type == "backfill"
        types, target = default_instance_types(), default_target()
        extra = {"skip_measured_since": week.isoformat()} if backfill else {}
        if target != "aws":  # this machine: nothing to choose, nothing to pay
            runs = [{"name": "local", "conf": {"target": target, **weekly_settings(target), **extra}}]
            plan = {"week": week.isoformat(), "runs": runs, "summary": f"The week of {week}: this machine."}
        elif not types:
            raise AirflowSkipException("nothing to refresh: set INSTANCE_BENCHMARKS_INSTANCE_TYPES "
                                       "(e.g. m7i,c7g or all) in the deployment's environment")
        else:
            store = ResultStore(default_results_uri(), conn_id=default_aws_conn_id())
            document = week_module.plan_week(
                store=store, regions=catalog_regions(), requested=types, aws_conn_id=default_aws_conn_id(),
                week=week, settings=weekly_settings("aws"), markets=weekly_markets(), hosts=[1, 2])
            runs = [{**run, "conf": {**run["conf"], "aws_conn_id": default_aws_conn_id(), **extra}}
                    for run in document["runs"]]
            plan = {"week": week.isoformat(), "runs": runs, "uri": document["uri"],
                    "summary": week_module.summary_text(document)}
        plan["triggers"] = [{"trigger_run_id": weekly_run_id(week, run["name"]), "conf": run["conf"]}
                            for run in runs]
        # a backfill's operator decided, and this machine costs nothing: neither waits for a review
        plan["next"] = [] if preview or not runs else ["approved"] if backfill or target != "aws" else ["review"]
        return plan

    @task.branch
    def reviewed_or_not(plan: dict) -> list[str]:
        """Preview, or nothing chosen: stop. A backfill: straight to the runs. Otherwise: a person's review."""
        return plan["next"]

    plan = plan_the_week()
    review = ApprovalOperator(
        task_id="review", subject="The weekly refresh: the plan of {{ ds }}",
        body="{{ ti.xcom_pull(task_ids='plan_the_week')['summary'] }}", defaults="Approve",
        response_timeout=datetime.timedelta(hours=REVIEW_HOURS), retries=0)

    @task(trigger_rule="none_failed_min_one_success")
    def approved(plan: dict) -> list[dict]:
        """The week's runs, once approved (by a person, or by nobody within the review's time)."""
        return plan["triggers"]

    runs = approved(plan)
    reviewed_or_not(plan) >> [review, runs]
    review >> runs
    # Waits (deferred, in the triggerer) and fails when a week's run fails (issue 28 item 5): a green
    # weekly_refresh is a week measured. retries=0: the run it started is what to retry (clear its failed tasks);
    # a retried trigger would find that run and skip, turning a failed week green.
    TriggerDagRunOperator.partial(
        task_id="benchmark_the_week", trigger_dag_id="instance_benchmarks", logical_date=None,
        skip_when_already_exists=True, wait_for_completion=True, deferrable=True, poke_interval=WAIT_POLL_S,
        retries=0,
        # what a user sees on the run a manual run is queued behind (max_active_runs=1)
        note="The weekly refresh (weekly_refresh). A run triggered while it runs is queued until it ends: "
             "instance_benchmarks runs one at a time.",
    ).expand_kwargs(runs)


dag = weekly_refresh()

if __name__ == "__main__":
    dag.test()
