"""catalog_refresh against moto: the catalog published, a new family found, exactly one run triggered."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import load_dag

pytestmark = pytest.mark.usefixtures("airflow_db")




def triggered_runs(conf_family: str, results_uri: str) -> list:
    """instance_benchmarks runs for this family into this test's results (the metadata DB outlives a test)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == "instance_benchmarks")).all()
        return [(r.run_id, r.conf, str(r.run_type)) for r in runs
                if (r.conf or {}).get("instance_types") == [conf_family]
                and (r.conf or {}).get("results_uri") == results_uri]


def test_a_new_family_triggers_exactly_one_run_for_its_types(moto_env, tmp_path, monkeypatch):
    from tests.fakes.aws import AwsGaps, airflow_role_actions, iam_actions

    gaps = AwsGaps().install(monkeypatch)  # handles nothing: records every call for the policy check
    dag = load_dag("catalog_refresh")
    conf = {"regions": ["us-east-1"], "results_uri": tmp_path.as_uri()}
    latest = tmp_path / "catalog" / "region=us-east-1" / "latest.parquet"

    baseline = dag.test(run_conf=conf)
    table = pq.read_table(latest)
    assert str(baseline.state) in ("success", "DagRunState.SUCCESS") and table.num_rows > 1300
    assert triggered_runs("c7gn", tmp_path.as_uri()) == []  # the first catalog is the baseline
    # Yesterday's catalog, before AWS launched c7gn:
    families = table.column("instance_family").to_pylist()
    pq.write_table(table.filter(pa.array([f != "c7gn" for f in families])), latest)

    refreshed = dag.test(run_conf=conf)

    assert str(refreshed.state) in ("success", "DagRunState.SUCCESS")
    runs = triggered_runs("c7gn", tmp_path.as_uri())
    assert len(runs) == 1
    _, run_conf, _ = runs[0]
    assert run_conf["target"] == "aws" and run_conf["region"] == "us-east-1"
    assert run_conf["results_uri"] == tmp_path.as_uri()
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
