"""results_analysis: rebuild the dataset, statistics and report whenever new results land."""

from __future__ import annotations

import datetime
import logging

from airflow.sdk import Asset, dag, get_current_context, task

from instance_benchmarks import RESULTS_ASSET_NAME
from instance_benchmarks.notifications import failure_notifiers
from instance_benchmarks.params import aws_conn_id_param, results_uri_param

log = logging.getLogger(__name__)

RESULTS = Asset(name=RESULTS_ASSET_NAME)

DOC_MD = """
### Results analysis

Scheduled on the `instance_benchmarks_results` Asset, which every stored document emits (its event
says which `results_uri` changed). For each results location it rebuilds, from `results/` alone:
the Parquet dataset (`dataset/v1/raw` and `dataset/v1/summary`, Hive-partitioned by region and
family), efficiency against the theoretical peak, prices, rankings, drift, and the report
(`reports/<date>/index.html`, `reports/latest/`). Idempotent: a rebuild gives the same rows.
Triggered by hand, it rebuilds the `results_uri` param's location.
"""


@dag(
    dag_id="results_analysis",
    schedule=[RESULTS],
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "instance-benchmarks", "retries": 2, "retry_delay": datetime.timedelta(seconds=30),
                  "retry_exponential_backoff": True},
    params={
        "results_uri": results_uri_param("Rebuilt when triggered by hand."),
        "aws_conn_id": aws_conn_id_param("For an s3:// results_uri."),
    },
    doc_md=DOC_MD,
    on_failure_callback=failure_notifiers(),  # one SNS message per failed run, when configured
    tags=["benchmarks", "analysis"],
)
def results_analysis():
    @task
    def locations() -> list[dict]:
        """The results locations the triggering events name (the param's when triggered by hand)."""
        context = get_current_context()
        found = {}
        for events in (context.get("triggering_asset_events") or {}).values():
            for event in events:
                extra = event.extra or {}
                if extra.get("results_uri"):
                    found[extra["results_uri"]] = {"results_uri": extra["results_uri"],
                                                   "aws_conn_id": extra.get("aws_conn_id")}
        if not found:
            params = context["params"]
            found[params["results_uri"]] = {"results_uri": params["results_uri"], "aws_conn_id": params["aws_conn_id"]}
        log.info("Rebuilding %s", sorted(found))
        return list(found.values())

    @task
    def rebuild(location: dict) -> dict:
        from instance_benchmarks import pipeline

        summary = pipeline.analyze(params=location, run_id=None)
        return {"results_uri": location["results_uri"], "report_uri": summary["report_uri"],
                "dataset": summary["dataset"]}

    rebuild.expand(location=locations())


dag = results_analysis()

if __name__ == "__main__":
    dag.test()
