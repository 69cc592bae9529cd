"""contributions: check each contributed result, have a person review it in Airflow, keep the verdict (issue 32)."""

from __future__ import annotations

import datetime
import logging
import os

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from instance_benchmarks import RESULTS_ASSET_NAME, SUBMISSIONS_ASSET_NAME
from instance_benchmarks.notifications import failure_notifiers
from instance_benchmarks.params import aws_conn_id_param, results_uri_param

log = logging.getLogger(__name__)

SUBMISSIONS = Asset(name=SUBMISSIONS_ASSET_NAME)
RESULTS = Asset(name=RESULTS_ASSET_NAME)
# How long a review waits for a person; past it the submission stays awaiting review (never accepted)
REVIEW_HOURS = float(os.environ.get("INSTANCE_BENCHMARKS_CONTRIBUTION_REVIEW_HOURS", "72"))

DOC_MD = """
### Contributions

Scheduled on the `instance_benchmarks_submissions` Asset, which `POST /benchmarks/api/submissions` emits for
each contributed result it takes in, and by the hour: then (and triggered by hand) it takes in the bulk uploads
under `submissions/incoming/<contributor>/` and checks every submission still `received`.
Each submission is checked (schema, EC2's signature over its identity, the image, the run rules, no replay, its
figures against the physical peak and against the type's measured figures), each verdict recorded in its status;
one that passes waits for a person in **Required Actions** (Accept, or Reject with a reason). Nobody answering
within the review's time leaves it waiting, never accepted. An accepted one is stored as contributed and
`merge` emits the `instance_benchmarks_results` Asset: results_analysis puts it in the dataset's contributed
tables, beside the project's figures, never over them. docs/contributing-results.md.
"""


@dag(
    dag_id="contributions",
    # each submission the API takes in, at once; and by the hour, what came in as bulk uploads to the bucket
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("@hourly", timezone="UTC"), assets=[SUBMISSIONS]),
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    default_args={"owner": "instance-benchmarks", "retries": 1, "retry_delay": datetime.timedelta(seconds=30)},
    params={"results_uri": results_uri_param("Where submissions are (checked: every one still `received`)."),
            "aws_conn_id": aws_conn_id_param("For an s3:// results_uri.")},
    doc_md=DOC_MD,
    on_failure_callback=failure_notifiers(),
    tags=["benchmarks", "contributions"],
)
def contributions():
    @task
    def pending() -> list[dict]:
        from instance_benchmarks import contributions as work

        context = get_current_context()
        events = [event.extra or {} for events in (context.get("triggering_asset_events") or {}).values()
                  for event in events]
        return work.pending(events, results_uri=context["params"]["results_uri"],
                            aws_conn_id=context["params"]["aws_conn_id"])

    @task(map_index_template="{{ item['submission_id'] }}")
    def check(item: dict) -> dict:
        from instance_benchmarks import contributions as work

        return work.check(item, claimant=get_current_context()["run_id"])

    @task
    def to_review(checked: list[dict]) -> list[dict]:
        """The submissions that passed their checks, each review's subject and body."""
        return [c["review"] for c in checked if c["review"]]

    @task(trigger_rule="all_done")
    def decide(checked: list[dict]) -> list[dict]:
        """Each reviewer's answer kept (a review that timed out leaves its submission waiting)."""
        from instance_benchmarks import contributions as work

        ti = get_current_context()["ti"]
        reviewed = [c for c in checked if c["review"]]
        answers = [ti.xcom_pull(task_ids="review", map_indexes=index) for index in range(len(reviewed))]
        return [{"submission_id": item["submission_id"], "results_uri": item["results_uri"],
                 "aws_conn_id": item["aws_conn_id"], "status": (work.decide(item, answer) or {}).get("status")}
                for item, answer in zip(reviewed, answers, strict=True)]

    checked = check.expand(item=pending())
    reviews = to_review(checked)
    review = HITLOperator.partial(
        task_id="review", options=["Accept", "Reject"], retries=0,
        params={"reason": Param("", type="string", title="Reason",
                                description="Why you reject it (the contributor reads this); optional on Accept")},
        response_timeout=datetime.timedelta(hours=REVIEW_HOURS),
    ).expand_kwargs(reviews)
    @task(outlets=[RESULTS])
    def merge(decided: list[dict]) -> list[str]:
        """Where anything was accepted, the results Asset for its location: results_analysis rebuilds it with the
        contributed tables (skipped, so no rebuild, where nothing was)."""
        accepted = [d for d in decided if d["status"] == "accepted"]
        if not accepted:
            raise AirflowSkipException("nothing accepted in this run: the dataset is as it was")
        # One API deployment has one results location, so its submissions' events name one
        location = accepted[0]
        others = sorted({d["results_uri"] for d in accepted} - {location["results_uri"]})
        if others:
            log.warning("Accepted results under %s too: trigger results_analysis there by hand to rebuild them",
                        others)
        get_current_context()["outlet_events"][RESULTS].extra = {
            "results_uri": location["results_uri"], "aws_conn_id": location["aws_conn_id"],
            "contributed": [d["submission_id"] for d in accepted if d["results_uri"] == location["results_uri"]]}
        return [d["submission_id"] for d in accepted]

    decided = decide(checked)
    review >> decided
    merge(decided)


contributions()
