"""results_analysis: scheduled on the results Asset; rebuilds the dataset and report idempotently."""

from __future__ import annotations

import json

import pytest

from instance_benchmarks.results import ResultStore
from tests.conftest import load_dag
from tests.plugins.instance_benchmarks.test_analysis import tables

pytestmark = pytest.mark.usefixtures("airflow_db")




def test_it_is_scheduled_on_the_asset_each_run_emits_once():
    """Issue 28 item 11: each stored document emitted the Asset, so a run of 500 types rebuilt the dataset up to 500
    times; the run's analyze emits it once, when everything the run stores is stored."""
    analysis_dag, benchmarks = load_dag("results_analysis"), load_dag("instance_benchmarks")

    emitters = {t.task_id: [a.name for a in t.outlets] for t in benchmarks.tasks if t.outlets}
    assert emitters == {"analyze": ["instance_benchmarks_results"]}
    assert [a.name for a in analysis_dag.timetable.asset_condition.objects] == [
        "instance_benchmarks_results"]


@pytest.mark.e2e
def test_rebuild_by_hand_gives_the_same_rows_and_a_fresh_report_and_leaves_the_run_s_summary(local_run):
    dag_run_of_the_run, results = local_run
    store = ResultStore(results.as_uri())
    before, summary_before = tables(store)
    (results / "reports" / "latest" / "index.html").unlink()

    dag_run = load_dag("results_analysis").test(run_conf={"results_uri": results.as_uri()})

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    after, summary_after = tables(store)
    assert before.equals(after) and summary_before.equals(summary_after)
    page = (results / "reports" / "latest" / "index.html").read_text()
    assert "<svg" in page and "Rebuilt from the stored results" in page
    # issue 28 item 11: a rebuild without a run never writes a run's summary (it overwrote it with empty lists)
    for summary in (store.run_reports(dag_run_of_the_run.run_id) / "summary.json",
                    results / "reports" / "latest" / "summary.json"):
        kept = json.loads(summary.read_text())
        assert kept["run_id"] == dag_run_of_the_run.run_id and kept["documents"], summary
    assert "<svg" in (store.run_reports(dag_run_of_the_run.run_id) / "index.html").read_text()
