"""weekly_refresh: the week planned within its budget, reviewed by a person (or approved by nobody in time), then
its runs triggered and waited for; or a skip that says what to set.

dag.test() runs weekly_refresh alone, against in-process moto and the Price List fake: the instance_benchmarks runs
it triggers are created and never executed. So `run_the_week` ends them from another thread, as the scheduler
would (their state set in the database), and the trigger's deferred wait, run in line by dag.test(), reads it.
The review waits in AWAITING_INPUT, which dag.test() never resolves itself: the same thread answers it as the
REST API's Required Actions endpoint does, or lets it time out and runs the scheduler's own timeout sweep."""

from __future__ import annotations

import contextlib
import datetime
import json
import random
import threading
import types

import pytest

from tests.conftest import load_dag
from tests.hitl import answer_waiting

pytestmark = pytest.mark.usefixtures("airflow_db", "moto_env")


def a_week() -> datetime.datetime:
    """A logical date no earlier test used (the database outlives a session, and a week runs once), after the
    DAG's start_date (a run dated before it gets no task instances)."""
    weeks = random.randrange(5_000)  # noqa: S311
    return datetime.datetime(2026, 1, 4, tzinfo=datetime.UTC) + datetime.timedelta(weeks=weeks)


@contextlib.contextmanager
def week_runs_end_as(state: str, *, review: str | None = "Approve"):
    """Ends each weekly__ run of instance_benchmarks created from now on in `state`, as its scheduler would; and
    answers the week's review with `review` (None: nobody answers, and its time runs out)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        before = set(session.scalars(select(DagRun.run_id).where(DagRun.dag_id == "instance_benchmarks")))
    ended: list[str] = []
    done = threading.Event()

    def end_them():
        while not done.wait(0.2):
            answer_the_review(review)
            with create_session() as session:
                for run in session.scalars(select(DagRun).where(DagRun.dag_id == "instance_benchmarks",
                                                                DagRun.run_id.like("weekly__%"))):
                    if run.run_id not in before and run.run_id not in ended:
                        run.set_state(state)
                        ended.append(run.run_id)

    thread = threading.Thread(target=end_them, daemon=True)
    thread.start()
    try:
        yield ended
    finally:
        done.set()
        thread.join()


def answer_the_review(choice: str | None) -> None:
    """The week's review gets `choice`; None: nobody answers, and its time runs out."""
    answer_waiting("weekly_refresh", "review", lambda _ti: None if choice is None else (choice, {}))


def run_the_week(week: datetime.datetime, *, ends_as: str = "success", review: str | None = "Approve", **conf):
    """weekly_refresh's run of `week`, its review answered `review`, the instance_benchmarks runs it starts ending
    as `ends_as`."""
    dag = load_dag("weekly_refresh")
    dag.get_task("benchmark_the_week").partial_kwargs["poke_interval"] = 0.5  # the deployment's is a minute
    with week_runs_end_as(ends_as, review=review) as ended:
        dag_run = dag.test(logical_date=week, run_conf=conf or None)
    return dag_run, ended


def states_of(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state).removeprefix("TaskInstanceState.") for ti in dag_run.get_task_instances()}


def benchmark_runs_of(week: datetime.datetime, *, notes: bool = False) -> dict:
    """{run id: conf (or note)} of the instance_benchmarks runs of this week."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == "instance_benchmarks",
                                                    DagRun.run_id.like(f"weekly__{week.date()}__%"))).all()
        return {r.run_id: r.note if notes else r.conf for r in runs}


@pytest.fixture
def deployment(monkeypatch, tmp_path):
    """An AWS deployment whose weekly refresh plans `m7i` and `c7g` in us-east-1 within $3, with results under
    tmp_path, priced by the Price List fake from the recorded snapshot."""
    from instance_benchmarks import prices
    from tests.fakes.aws import AwsGaps
    from tests.fakes.pricing import FakePriceList

    monkeypatch.setenv("INSTANCE_BENCHMARKS_TARGET", "aws")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", "m7i, c7g")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD", "3")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_CATALOG_REGIONS", "us-east-1")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_RESULTS_URI", tmp_path.as_uri())
    gaps = AwsGaps().install(monkeypatch)
    price_list = FakePriceList({"us-east-1": prices.recorded_on_demand("us-east-1")})
    price_list.page_size = 100  # AWS's own largest page
    gaps.add_price_list(price_list)
    return types.SimpleNamespace(results=tmp_path, gaps=gaps)


def plan_of(results, week: datetime.datetime) -> dict:
    return json.loads((results / "plans" / "weekly" / f"{week.date()}.json").read_text())


def test_an_approved_week_triggers_one_run_per_market_and_host_count_each_with_its_share(deployment):
    """Issue 30 items 4 and 9: plan within the budget, a person approves, the chosen types are measured. The plan
    calls only what it reads (the catalog, prices, the AMI parameter): never a launch."""
    week = a_week()

    dag_run, ended = run_the_week(week)

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), states_of(dag_run)
    plan = plan_of(deployment.results, week)
    assert plan["budget"]["week_usd"] == 3 and 0 < plan["budget"]["planned_usd"] <= 3
    runs = benchmark_runs_of(week)
    assert sorted(ended) == sorted(runs) == sorted(f"weekly__{week.date()}__{r['name']}" for r in plan["runs"])
    chosen = {(o["instance_type"], o["market"], o["hosts"]) for o in plan["chosen"]}
    triggered = {(t, conf["market"], conf["instances_per_type"]) for conf in runs.values()
                 for t in conf["instance_types"]}
    assert triggered == chosen
    assert sum(conf["budget_usd"] for conf in runs.values()) <= 3 + 0.01 * len(runs)  # each share rounded up
    for conf in runs.values():
        assert conf["region"] == "us-east-1" and conf["profile"] == "standard" and "skip_measured_since" not in conf
    # a new family's cheapest size is forced first: m7i and c7g were never measured here
    forced = {o["instance_type"] for o in plan["chosen"] if o["forced"]}
    assert forced == {"m7i.large", "c7g.medium"}
    note = next(iter(benchmark_runs_of(week, notes=True).values()))
    assert note.startswith("The weekly refresh") and "queued until it ends" in note  # issue 28 item 4
    from tests.fakes.aws import airflow_role_actions, iam_actions

    made = iam_actions(deployment.gaps.calls)  # the Airflow role grants every call the plan made
    assert made == {"ec2:DescribeInstanceTypes", "pricing:GetProducts", "ec2:DescribeSpotPriceHistory",
                    "ssm:GetParameter"}
    assert made - airflow_role_actions() == set()


def test_nobody_answering_the_review_approves_the_plan_as_it_stands(deployment):
    """Unattended weeks still run: the review's time runs out and the scheduler's sweep takes its default."""
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    review = load_dag("weekly_refresh").get_task("review")
    assert review.defaults == [ApprovalOperator.APPROVE] and review.response_timeout == datetime.timedelta(hours=12)
    week = a_week()

    dag_run, ended = run_the_week(week, review=None)

    assert states_of(dag_run)["review"] == "success"
    assert ended and sorted(ended) == sorted(benchmark_runs_of(week))


def test_a_rejected_plan_measures_nothing(deployment):
    week = a_week()

    dag_run, ended = run_the_week(week, review="Reject")

    states = states_of(dag_run)
    assert states["review"] == "success" and states["approved"] == "skipped", states
    assert ended == [] and benchmark_runs_of(week) == {}
    assert plan_of(deployment.results, week)["chosen"]  # the plan stays, for the record


def test_a_preview_writes_the_plan_and_stops(deployment):
    """Nothing reviewed, nothing launched; the plan and its summary are where the page and a person read them."""
    week = a_week()

    dag_run, ended = run_the_week(week, preview_only=True)

    states = states_of(dag_run)
    assert states["plan_the_week"] == "success"
    assert {states["review"], states["approved"]} == {"skipped"}, states
    assert ended == [] and benchmark_runs_of(week) == {}
    summary = (deployment.results / "plans" / "weekly" / f"{week.date()}.md").read_text()
    assert summary.startswith(f"# The week of {week.date()}") and "a new family: its cheapest size first" in summary


def test_without_a_weekly_budget_every_configured_type_is_measured(deployment, monkeypatch):
    """The refresh before the plan chose: every requested type, with the weekly hosts, on demand."""
    monkeypatch.delenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", "m7i.large, c7g.large")
    week = a_week()

    dag_run, _ = run_the_week(week)

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), states_of(dag_run)
    (conf,) = benchmark_runs_of(week).values()
    assert conf == {"target": "aws", "region": "us-east-1", "market": "on-demand",
                    "instance_types": ["c7g.large", "m7i.large"], "profile": "standard", "time_budget_s": 540,
                    "host_time_budget_s": 600, "instances_per_type": 2, "budget_usd": None,
                    "aws_conn_id": "aws_default"}


def test_nothing_configured_on_aws_skips_saying_what_to_set(monkeypatch):
    monkeypatch.setenv("INSTANCE_BENCHMARKS_TARGET", "aws")
    monkeypatch.delenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", raising=False)

    dag_run = load_dag("weekly_refresh").test(logical_date=a_week())

    states = states_of(dag_run)
    assert set(states.values()) == {"skipped"}, states


def test_a_week_whose_run_fails_fails(deployment):
    """Issue 28 item 5: it used to trigger and go green whatever the run did; now it waits for the runs."""
    dag_run, ended = run_the_week(a_week(), ends_as="failed")

    assert str(dag_run.state) in ("failed", "DagRunState.FAILED")
    assert states_of(dag_run)["benchmark_the_week"] == "failed"
    assert ended


def test_a_week_run_again_finds_its_runs_and_never_starts_a_second(deployment):
    """A cleared or re-triggered week (the same logical date) skips: the week's runs are where to retry."""
    week = a_week()
    first, _ = run_the_week(week)
    runs = benchmark_runs_of(week)
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:  # one weekly_refresh run per logical date: the first one goes, its week's
        session.delete(session.get(DagRun, first.id))  # instance_benchmarks runs stay

    again, ended = run_the_week(week)

    assert states_of(again)["benchmark_the_week"] == "skipped" and ended == []
    assert benchmark_runs_of(week) == runs


def test_a_preview_of_the_whole_recorded_catalog_plans_over_a_thousand_types_within_100_usd(deployment, monkeypatch):
    """Issue 30 item 9: `all` in moto's recorded catalog (DescribeInstanceTypes as AWS answered it), priced from the
    recorded snapshot; benchmarks/week_plan.py times the same plan."""
    monkeypatch.setenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", "all")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD", "100")
    week = a_week()

    dag_run, ended = run_the_week(week, preview_only=True)

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), states_of(dag_run)
    plan = plan_of(deployment.results, week)
    assert len(plan["signals"]) >= 1000
    assert 0 < plan["budget"]["planned_usd"] <= 100 and ended == []
    assert all(o["cost_usd"] for o in plan["chosen"])  # an unpriced type is never planned ...
    unpriced = [e for e in plan["not_chosen"] if e["reason"].startswith("no price")]
    assert unpriced and all(e["best"] is None for e in unpriced)  # ... but listed with why
    new_families = {o["instance_type"].split(".")[0] for o in plan["chosen"] if o["forced"]}
    assert len(new_families) >= 50  # nothing was measured: each family's cheapest size comes first


def test_on_this_machine_the_week_is_one_local_run_without_a_review(monkeypatch):
    """target=local (a laptop's `make up`): nothing to choose and nothing to pay, so nothing to review."""
    monkeypatch.delenv("INSTANCE_BENCHMARKS_TARGET", raising=False)
    week = a_week()

    dag_run, ended = run_the_week(week, review="Reject")  # a review, had there been one, would stop the week

    states = states_of(dag_run)
    assert states["review"] == "skipped" and states["benchmark_the_week"] == "success", states
    assert ended == [f"weekly__{week.date()}__local"]
    assert benchmark_runs_of(week)[ended[0]] == {"target": "local", "profile": "standard", "time_budget_s": 540,
                                                 "budget_usd": None}
