"""instance_benchmarks: STREAM and HPL on EC2 instance types, or on this machine.

This file only builds the DAG: each task is a thin wrapper around a stage in
`instance_benchmarks.pipeline`, imported inside the task so parsing stays cheap.
"""

from __future__ import annotations

import datetime

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Asset, dag, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from instance_benchmarks import FAMILIES, HOSTS_POOL, RESULTS_ASSET_NAME
from instance_benchmarks.notifications import failure_notifiers, late_run_deadline
from instance_benchmarks.operators.ec2 import TerminateHostOperator
from instance_benchmarks.operators.ssm import HostCommandOperator, WaitForHostOperator
from instance_benchmarks.params import benchmark_params, run_timeout
from instance_benchmarks.results import host_label

DOC_MD = """
### EC2 instance benchmarks

Measures **STREAM** memory bandwidth (Copy, Scale, Add, Triad; all cores and one core) and
**HPL** GFLOPS (real HPL with the scaled-residual check) on each host, keeps every raw sample,
and reports means with 95% confidence intervals.

* `target=local` benchmarks the machine Airflow runs on (provision and terminate are no-ops).
* `target=aws` launches one EC2 instance per type (`instances_per_type` of them, each starting in
  the next zone) through the `aws_conn_id` connection, runs the benchmarks over SSM in the runner
  image, and terminates it (see docs/aws.md).

Per architecture family (`intel`, `amd`, `graviton`) a mapped task group runs, per host:
quota check → provision (setup) → wait for host (SSM agent, deferred) → container → STREAM →
HPL (each one SSM command, deferred) → extract → validate → store (+ CloudWatch metrics), and,
as soon as HPL has ended, terminate beside them (teardown: runs whatever failed; the wait for
`terminated` deferred); then `analyze` rebuilds the dataset and writes the run's
own report and summary (`reports/runs/<run_id>/`), and emits the `instance_benchmarks_results` Asset
once, which schedules `results_analysis`.
A type over its vCPU quota or without capacity in any zone is skipped with its reason, which
the run's summary (`reports/runs/<run_id>/summary.json`) lists. A spot instance AWS reclaims mid-run ends
its wait at once and the type is quarantined as interrupted; with `market=spot-then-on-demand`,
`relaunch_on_demand` then triggers a run of those types on demand (`<run_id>__on_demand`).

Valid documents land in `results/v1/...` under `results_uri`; invalid ones in `quarantine/`
with their reasons; the task of the stage that failed turns red (wait_for_host, container,
run_stream, run_hpl, or store for a document that fails validation). The run's report is at
`reports/runs/<run_id>/index.html`; the latest, at `reports/latest/index.html`.
"""

RESULTS = Asset(name=RESULTS_ASSET_NAME)

# A run of the whole catalog is hundreds of mapped hosts: a started host's later stages outrank new
# launches (weight_rule upstream), so hosts finish before more are launched, and at most
# MAX_LAUNCHES_AT_ONCE RunInstances calls of a run are in flight (AWS throttles bursts).
MAX_LAUNCHES_AT_ONCE = 8
HOST_TASK = {"pool": HOSTS_POOL, "weight_rule": "upstream"}
# Each mapped host is named in the grid by its type and which of the type's hosts it is (`m7i.large #1`, not
# `intel [17]`), from the plan its stage's input carries: an operator's templated `state`, or what a TaskFlow
# task puts in its context (_context(host=...)), as Airflow documents for TaskFlow.
NAMED_BY_STATE = "{{ host_label(task.state) }}"
NAMED_IN_TASK = "{{ host_name if host_name is defined else '' }}"

DEFAULT_ARGS = {
    "owner": "instance-benchmarks",
    "retries": 2,
    "retry_delay": datetime.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": datetime.timedelta(minutes=10),
}


def _context(host: dict | None = None) -> tuple[dict, str, str, int | None]:
    """The run's params and ids; `host`, a mapped stage's input, names the task in the grid (NAMED_IN_TASK)."""
    ctx = get_current_context()
    if host is not None:
        ctx["host_name"] = host_label(host)
    return ctx["params"], ctx["dag"].dag_id, ctx["run_id"], ctx["ti"].map_index


@dag(
    dag_id="instance_benchmarks",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    max_active_runs=1,
    # a stuck run cannot hold every later run behind it (issue 28 item 7): failed past its time-out, and on-call
    # told when it is late
    dagrun_timeout=run_timeout(),
    deadline=late_run_deadline(),
    default_args=DEFAULT_ARGS,
    params=benchmark_params(),
    user_defined_macros={"host_label": host_label},
    doc_md=DOC_MD,
    on_failure_callback=failure_notifiers(),  # one SNS message per failed run, when configured
    tags=["benchmarks", "ec2", "stream", "hpl"],
)
def instance_benchmarks():
    @task
    def plan() -> dict[str, list[dict]]:
        from instance_benchmarks import pipeline
        from instance_benchmarks.hosts import ConfigurationError

        params, _, run_id, _ = _context()
        try:
            return pipeline.make_plans(params, run_id=run_id)
        except (ValueError, ConfigurationError) as exc:  # nothing to benchmark, no task group for it, or no
            pipeline.record_stop(params, run_id=run_id, stage="plan", reason=str(exc))  # usable AWS set-up:
            raise AirflowFailException(str(exc)) from exc  # retrying cannot help

    @task(retries=0)
    def family_plans(plans: dict[str, list[dict]], family: str) -> list[dict]:
        """Airflow maps over a task's whole return value only, so each family gets its list here."""
        return plans[family]

    @task(map_index_template=NAMED_IN_TASK)
    def quota_check(plan: dict) -> dict:
        from instance_benchmarks import pipeline
        from instance_benchmarks.hosts import CapacityUnavailable

        params, _, run_id, _ = _context(host=plan)
        try:
            return pipeline.quota_check(plan, params=params, run_id=run_id)
        except CapacityUnavailable as exc:
            raise AirflowSkipException(f"{plan['instance_type']} skipped: {exc}") from exc

    @task(max_active_tis_per_dagrun=MAX_LAUNCHES_AT_ONCE, map_index_template=NAMED_IN_TASK, **HOST_TASK)
    def provision(state: dict) -> dict:
        from instance_benchmarks import pipeline
        from instance_benchmarks.hosts import CapacityUnavailable

        params, dag_id, run_id, map_index = _context(host=state)
        ti = get_current_context()["ti"]
        try:
            return pipeline.provision(state, params=params, dag_id=dag_id, run_id=run_id, map_index=map_index,
                                      last_try=ti.try_number > ti.max_tries)
        except CapacityUnavailable as exc:
            raise AirflowSkipException(f"{state['plan']['instance_type']} skipped: {exc}") from exc

    @task(map_index_template=NAMED_IN_TASK)
    def extract(state: dict) -> dict:
        from instance_benchmarks import pipeline

        params, dag_id, run_id, map_index = _context(host=state)
        run_after = get_current_context()["dag_run"].run_after  # the run's date keys its documents
        return pipeline.extract(state, params=params, dag_id=dag_id, run_id=run_id, map_index=map_index,
                                run_date=run_after.date().isoformat())

    @task(map_index_template=NAMED_IN_TASK)
    def validate(extracted: dict) -> dict:
        from instance_benchmarks import pipeline

        params, _, _, _ = _context(host=extracted)
        return pipeline.validate(extracted, params=params)

    @task(retries=0, map_index_template=NAMED_IN_TASK)
    def store(validated: dict) -> dict:
        from instance_benchmarks import pipeline

        params, _, run_id, _ = _context(host=validated)
        stored = pipeline.store(validated, params=params, run_id=run_id)
        if stored["status"] != "stored":
            raise AirflowFailException(
                f"{stored['instance_type']} quarantined at {stored['uri']}: " + "; ".join(stored["reasons"])
            )
        return stored

    @task(trigger_rule="all_done", outlets=[RESULTS])
    def analyze() -> dict:
        """Reads what this run stored and quarantined back from results_uri, the source of truth; a planned
        type with no record there is named with the task that stopped it (killed, marked failed). Emits the
        results Asset once per run, whatever it stored (results_analysis rebuilds that location once)."""
        from instance_benchmarks import pipeline

        params, dag_id, run_id, _ = _context()
        context = get_current_context()
        ti = context["ti"]
        states = ti.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id, {})
        summary = pipeline.analyze(params=params, run_id=run_id, planned=ti.xcom_pull(task_ids="plan") or {},
                                   task_states=states)
        context["outlet_events"][RESULTS].extra = {
            "results_uri": params["results_uri"], "aws_conn_id": params.get("aws_conn_id"), "run_id": run_id,
            "documents": len(summary["documents"])}
        return summary

    @task
    def on_demand_conf(summary: dict) -> dict:
        """market=spot-then-on-demand: the types AWS reclaimed from spot run again on demand, in a run of their
        own (this run keeps them quarantined with the interruption as the reason)."""
        if not summary.get("relaunch_on_demand"):
            raise AirflowSkipException("no spot instance of this run was reclaimed, or the market param does "
                                       "not fall back to on-demand")
        params = dict(get_current_context()["params"])
        return {**params, "instance_types": summary["relaunch_on_demand"], "market": "on-demand",
                "instances_per_type": summary.get("relaunch_hosts_per_type") or 1}

    @task(trigger_rule="all_done", retries=0)
    def watcher() -> None:
        """The last leaf: fails the run when any task failed, naming each failed host and its red task.

        analyze (all_done) and the teardowns would otherwise let a run with a failed
        plan, benchmark or quarantined result end as success. all_done, not one_failed:
        it runs once everything has ended, so its list is whole.
        """
        from instance_benchmarks import pipeline

        _, dag_id, run_id, _ = _context()
        ti = get_current_context()["ti"]
        states = ti.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id, {})
        if "failed" not in states.values():
            return
        failed = pipeline.failed_hosts(ti.xcom_pull(task_ids="plan") or {}, states)
        raise AirflowFailException(("failed hosts: " + "; ".join(failed) if failed else "a task of this run failed")
                                   + ". Their reasons: the red tasks' logs and quarantine/")

    # The SSM operators' connection and region, and their hosts' names in the grid
    on_host = {"aws_conn_id": "{{ params.aws_conn_id }}", "region_name": "{{ params.region or '' }}",
               "map_index_template": NAMED_BY_STATE}

    @task_group
    def benchmark(plan: dict):
        checked = quota_check(plan)
        host = provision(checked)
        ready = WaitForHostOperator(task_id="wait_for_host", state=host, **on_host, **HOST_TASK)
        prepared = HostCommandOperator(task_id="container", stage="container", state=ready.output, **on_host,
                                       **HOST_TASK)
        # retries=0: a re-run benchmark would overwrite its staged document; a failure is quarantined instead.
        stream = HostCommandOperator(task_id="run_stream", stage="stream", state=prepared.output, retries=0, **on_host,
                                     **HOST_TASK)
        ran = HostCommandOperator(task_id="run_hpl", stage="hpl", state=stream.output, retries=0, **on_host,
                                  **HOST_TASK)
        stored = store(validate(extract(ran.output)))
        # The teardown follows the benchmarks, beside extract, validate and store (they read S3, not the host):
        # terminated while its document is judged, and waited for deferred (issue 28 item 12).
        ran >> TerminateHostOperator(task_id="terminate", state=host, **on_host).as_teardown(setups=host)
        return stored

    plans = plan()
    report = analyze()
    TriggerDagRunOperator(task_id="relaunch_on_demand", trigger_dag_id="instance_benchmarks",
                          conf=on_demand_conf(report), trigger_run_id="{{ run_id }}__on_demand",
                          skip_when_already_exists=True)
    verdict = watcher()
    plans >> verdict
    for family in FAMILIES:
        selected = family_plans.override(task_id=f"plans_{family}")(plans, family)
        group = benchmark.override(group_id=family).expand(plan=selected)
        group >> report
        [selected, group] >> verdict
    report >> verdict


dag = instance_benchmarks()

if __name__ == "__main__":
    dag.test()
