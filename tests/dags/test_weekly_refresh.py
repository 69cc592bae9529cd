"""weekly_refresh: the weekly run of the configured catalog, or a skip that says what to set.

dag.test() runs weekly_refresh alone: the instance_benchmarks run it triggers is created and never executed. So
`run_the_week` ends that run from another thread, as the scheduler would (its state set in the database), and
the trigger's deferred wait, run in line by dag.test(), reads it."""

from __future__ import annotations

import contextlib
import datetime
import random
import threading

import pytest

from tests.conftest import load_dag

pytestmark = pytest.mark.usefixtures("airflow_db")


def a_week() -> datetime.datetime:
    """A logical date no earlier test used (the database outlives a session, and a week runs once), after the
    DAG's start_date (a run dated before it gets no task instances)."""
    weeks = random.randrange(5_000)  # noqa: S311
    return datetime.datetime(2026, 1, 4, tzinfo=datetime.UTC) + datetime.timedelta(weeks=weeks)


@contextlib.contextmanager
def week_runs_end_as(state: str):
    """Ends each weekly__ run of instance_benchmarks created from now on in `state`, as its scheduler would."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        before = set(session.scalars(select(DagRun.run_id).where(DagRun.dag_id == "instance_benchmarks")))
    ended: list[str] = []
    done = threading.Event()

    def end_them():
        while not done.wait(0.2):
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


def run_the_week(week: datetime.datetime, *, ends_as: str = "success", **conf):
    """weekly_refresh's run of `week`, the instance_benchmarks run it starts ending as `ends_as`."""
    dag = load_dag("weekly_refresh")
    dag.get_task("benchmark_the_catalog").poke_interval = 0.5  # the deployment's is a minute
    with week_runs_end_as(ends_as) as ended:
        dag_run = dag.test(logical_date=week, run_conf=conf or None)
    return dag_run, ended


def states_of(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state).removeprefix("TaskInstanceState.") for ti in dag_run.get_task_instances()}


def benchmark_runs_with(budget: float, *, notes: bool = False) -> list:
    """The confs (or the notes) of the instance_benchmarks runs with this budget."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == "instance_benchmarks")).all()
        return [r.note if notes else r.conf for r in runs if (r.conf or {}).get("budget_usd") == budget]


def test_the_week_triggers_one_run_of_the_configured_catalog(monkeypatch):
    """It makes no AWS call of its own (so the Airflow role needs nothing for it): the run it starts does."""
    from tests.fakes.aws import AwsGaps

    budget = round(random.uniform(10, 20), 6)  # noqa: S311 - tells this run from earlier ones in the same database
    monkeypatch.setenv("INSTANCE_BENCHMARKS_TARGET", "aws")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", "m7i, c7g")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD", str(budget))
    gaps = AwsGaps().install(monkeypatch)
    week = a_week()

    dag_run, ended = run_the_week(week)

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    assert ended == [f"weekly__{week.date()}"]  # issue 28 item 5: named by its week, and waited for
    assert gaps.calls == []
    # not skip_measured_since: not a backfill
    assert benchmark_runs_with(budget) == [{"target": "aws", "instance_types": ["m7i", "c7g"],
                                            "profile": "standard", "time_budget_s": 540, "host_time_budget_s": 600,
                                            "instances_per_type": 2, "budget_usd": budget}]
    # Issue 28 item 4: a manual run queued behind it can tell why
    (note,) = benchmark_runs_with(budget, notes=True)
    assert note.startswith("The weekly refresh") and "queued until it ends" in note


def test_a_preview_starts_a_dry_run_of_the_same_week(monkeypatch):
    """Issue 16 item 5: the week's expected cost, before anything launches."""
    budget = round(random.uniform(20, 30), 6)  # noqa: S311 - tells this run from earlier ones
    monkeypatch.setenv("INSTANCE_BENCHMARKS_TARGET", "aws")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", "m7i")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD", str(budget))

    week = a_week()

    dag_run, ended = run_the_week(week, preview_only=True)

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    assert ended == [f"weekly__{week.date()}__preview"]  # never the week's own run id
    assert benchmark_runs_with(budget) == [{"target": "aws", "instance_types": ["m7i"], "profile": "standard",
                                            "time_budget_s": 540, "host_time_budget_s": 600, "instances_per_type": 2,
                                            "budget_usd": budget, "dry_run": True}]


def test_nothing_configured_on_aws_skips_saying_what_to_set(monkeypatch):
    monkeypatch.setenv("INSTANCE_BENCHMARKS_TARGET", "aws")
    monkeypatch.delenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", raising=False)

    dag_run = load_dag("weekly_refresh").test(logical_date=a_week())

    states = states_of(dag_run)
    assert set(states.values()) == {"skipped"}, states


def test_a_week_whose_run_fails_fails(monkeypatch):
    """Issue 28 item 5: it used to trigger and go green whatever the run did; now it waits for the run."""
    budget = round(random.uniform(30, 40), 6)  # noqa: S311
    monkeypatch.setenv("INSTANCE_BENCHMARKS_TARGET", "aws")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", "m7i.large")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD", str(budget))

    dag_run, ended = run_the_week(a_week(), ends_as="failed")

    assert str(dag_run.state) in ("failed", "DagRunState.FAILED")
    assert states_of(dag_run) == {"week": "success", "benchmark_the_catalog": "failed"}
    assert len(ended) == 1 and len(benchmark_runs_with(budget)) == 1


def test_a_week_run_again_finds_its_run_and_never_starts_a_second(monkeypatch):
    """A cleared or re-triggered week (the same logical date) skips: the week's run is where to retry."""
    budget = round(random.uniform(40, 50), 6)  # noqa: S311
    monkeypatch.setenv("INSTANCE_BENCHMARKS_TARGET", "aws")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", "m7i.large")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD", str(budget))
    week = a_week()
    first, _ = run_the_week(week)
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:  # one weekly_refresh run per logical date: the first one goes, its week's
        session.delete(session.get(DagRun, first.id))  # instance_benchmarks run stays

    again, ended = run_the_week(week)

    assert states_of(again)["benchmark_the_catalog"] == "skipped" and ended == []
    assert len(benchmark_runs_with(budget)) == 1
