"""catalog_refresh against moto: the catalog published, the families never measured found, one run each."""

from __future__ import annotations

import datetime
import random

import pyarrow.parquet as pq
import pytest

from tests.conftest import load_dag

pytestmark = pytest.mark.usefixtures("airflow_db")




def triggered_runs(results_uri: str) -> dict[str, dict]:
    """{run id: conf} of the instance_benchmarks runs into this test's results (the metadata DB outlives a test)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == "instance_benchmarks")).all()
        return {r.run_id: r.conf for r in runs if (r.conf or {}).get("results_uri") == results_uri}


def test_the_families_never_measured_are_measured_with_the_weekly_settings_once_a_day(moto_env, tmp_path,
                                                                                      monkeypatch):
    """Issue 28 item 8: diffed against what has been measured (a stored document in the region), so a new size of a
    known family (c7g.2xlarge) counts as much as a new family (c7gn), newest generation first, each one run
    `new_family__<family>__<day>` with the weekly settings; a second refresh the same day starts nothing more."""
    from tests.fakes.aws import AwsGaps, airflow_role_actions, iam_actions

    gaps = AwsGaps().install(monkeypatch)  # handles nothing: records every call for the policy check
    monkeypatch.setenv("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD", "100")
    dag = load_dag("catalog_refresh")
    conf = {"regions": ["us-east-1"], "results_uri": tmp_path.as_uri()}
    latest = tmp_path / "catalog" / "region=us-east-1" / "latest.parquet"
    # a day no earlier test used: the metadata DB outlives a session, and a family's run is one per day
    day = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(days=random.randrange(30_000))  # noqa: S311
    first = dag.test(logical_date=day, run_conf={**conf, "trigger_new_families": False})
    table = pq.read_table(latest).to_pylist()
    assert str(first.state) in ("success", "DagRunState.SUCCESS") and len(table) > 1300
    unmeasured = {r["instance_type"] for r in table if r["instance_family"] == "c7gn"} | {"c7g.2xlarge"}
    for row in table:  # every other type of `all` has a stored document in the region
        if row["benchmarkable"] and row["instance_type"] not in unmeasured:
            stored = (tmp_path / "results" / "v1" / "region=us-east-1" / f"family={row['architecture_family']}"
                      / f"instance_type={row['instance_type']}" / "date=2026-11-20" / "weekly__2026-11-15.json")
            stored.parent.mkdir(parents=True)
            stored.write_text("{}")

    # named: dag.test() keeps the first run's conf in the DAG's params
    refreshed = dag.test(logical_date=day + datetime.timedelta(hours=1),
                         run_conf={**conf, "families_per_day": 2, "trigger_new_families": True})
    again = dag.test(logical_date=day + datetime.timedelta(hours=2),
                     run_conf={**conf, "families_per_day": 2, "trigger_new_families": True})

    assert {str(r.state) for r in (refreshed, again)} <= {"success", "DagRunState.SUCCESS"}
    day = day.date().isoformat()
    runs = triggered_runs(tmp_path.as_uri())
    assert sorted(runs) == [f"new_family__c7g__{day}", f"new_family__c7gn__{day}"]  # once, though refreshed twice
    assert runs[f"new_family__c7g__{day}"]["instance_types"] == ["c7g.2xlarge"]
    assert sorted(runs[f"new_family__c7gn__{day}"]["instance_types"]) == sorted(unmeasured - {"c7g.2xlarge"})
    for run_conf in runs.values():
        assert {k: run_conf[k] for k in ("target", "region", "profile", "time_budget_s", "host_time_budget_s",
                                         "instances_per_type", "budget_usd")} == {
            "target": "aws", "region": "us-east-1", "profile": "standard", "time_budget_s": 540,
            "host_time_budget_s": 600, "instances_per_type": 2, "budget_usd": 100.0}
    history = list((tmp_path / "catalog" / "region=us-east-1").glob("date=*/catalog.parquet"))
    assert history  # each refresh keeps its day's catalog
    made = iam_actions(gaps.calls)  # the Airflow role may make every call catalog_refresh made (it could not)
    assert {"ec2:DescribeInstanceTypes", "ec2:DescribeInstanceTypeOfferings"} <= made
    assert made - airflow_role_actions() == set()


@pytest.mark.usefixtures("no_aws_anywhere")
def test_without_aws_credentials_the_refresh_skips_instead_of_failing_every_day(tmp_path):
    dag_run = load_dag("catalog_refresh").test(run_conf={"regions": ["us-east-1"], "results_uri": tmp_path.as_uri()})

    states = {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in dag_run.get_task_instances()}
    assert states["refresh"] == "skipped" and states["regions"] == "success"
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
