"""weekly_refresh: the weekly run of the configured catalog, or a skip that says what to set."""

from __future__ import annotations

import random

import pytest

from tests.conftest import load_dag

pytestmark = pytest.mark.usefixtures("airflow_db")




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

    dag_run = load_dag("weekly_refresh").test()

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    assert gaps.calls == []
    assert benchmark_runs_with(budget) == [{"target": "aws", "instance_types": ["m7i", "c7g"],
                                            "profile": "standard", "time_budget_s": 540, "instances_per_type": 2,
                                            "budget_usd": budget}]
    # Issue 28 item 4: a manual run queued behind it can tell why
    (note,) = benchmark_runs_with(budget, notes=True)
    assert note.startswith("The weekly refresh") and "queued until it ends" in note


def test_a_preview_starts_a_dry_run_of_the_same_week(monkeypatch):
    """Issue 16 item 5: the week's expected cost, before anything launches."""
    budget = round(random.uniform(20, 30), 6)  # noqa: S311 - tells this run from earlier ones
    monkeypatch.setenv("INSTANCE_BENCHMARKS_TARGET", "aws")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", "m7i")
    monkeypatch.setenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD", str(budget))

    dag_run = load_dag("weekly_refresh").test(run_conf={"preview_only": True})

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    assert benchmark_runs_with(budget) == [{"target": "aws", "instance_types": ["m7i"], "profile": "standard",
                                            "time_budget_s": 540, "instances_per_type": 2, "budget_usd": budget,
                                            "dry_run": True}]


def test_nothing_configured_on_aws_skips_saying_what_to_set(monkeypatch):
    monkeypatch.setenv("INSTANCE_BENCHMARKS_TARGET", "aws")
    monkeypatch.delenv("INSTANCE_BENCHMARKS_INSTANCE_TYPES", raising=False)

    dag_run = load_dag("weekly_refresh").test()

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert all("skipped" in state for state in states.values()), states
