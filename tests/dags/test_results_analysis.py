"""results_analysis: scheduled on the results Asset; rebuilds the dataset and report idempotently."""

from __future__ import annotations

import json

import pytest

from instance_benchmarks.results import ResultStore
from tests.conftest import load_dag
from tests.plugins.instance_benchmarks.test_analysis import tables

pytestmark = pytest.mark.usefixtures("airflow_db")




def test_it_is_scheduled_on_the_asset_the_store_task_emits():
    analysis_dag, benchmarks = load_dag("results_analysis"), load_dag("instance_benchmarks")

    store = next(t for t in benchmarks.tasks if t.task_id.endswith(".store"))
    assert [a.name for a in store.outlets] == ["instance_benchmarks_results"]
    assert [a.name for a in analysis_dag.timetable.asset_condition.objects] == [
        "instance_benchmarks_results"]


@pytest.mark.e2e
def test_rebuild_by_hand_gives_the_same_rows_and_a_fresh_report(local_run):
    _, results = local_run
    store = ResultStore(results.as_uri())
    before, summary_before = tables(store)
    (results / "reports" / "latest" / "index.html").unlink()

    dag_run = load_dag("results_analysis").test(run_conf={"results_uri": results.as_uri()})

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    after, summary_after = tables(store)
    assert before.equals(after) and summary_before.equals(summary_after)
    page = (results / "reports" / "latest" / "index.html").read_text()
    assert "<svg" in page and "Rebuilt from the stored results" in page
    rebuilt = json.loads((results / "reports" / "latest" / "summary.json").read_text())
    assert rebuilt["run_id"] is None and rebuilt["dataset"]["raw_rows"] == after.num_rows
