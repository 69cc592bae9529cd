"""On-call: one message per failed run, through the Amazon provider's SnsNotifier (issue 28 item 9).

The deployment names an SNS topic ($INSTANCE_BENCHMARKS_ALERT_TOPIC_ARN); every DAG of the project then
gets the notifier as its `on_failure_callback`, which Airflow calls once when a run ends failed (in the
dag-processor; in line under `dag.test()`). The message names the run and its link, the task that failed
last, and, for a benchmark run, each quarantined, skipped or unaccounted type with its reason, read back
from the run's own summary (`reports/runs/<run_id>/summary.json`), and the link to the run's report.
Subscribe e-mail, a chat webhook or an SQS queue to the topic.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import urllib.parse
from typing import Any

from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

from instance_benchmarks.params import default_aws_conn_id

log = logging.getLogger(__name__)

ALERT_TOPIC_VARIABLE = "INSTANCE_BENCHMARKS_ALERT_TOPIC_ARN"
# SNS refuses a subject over 100 characters; a message has 256 KiB, but on-call reads the first screen.
MAX_SUBJECT = 100
MAX_LISTED = 50
# A benchmark run not ended this long after it was queued is late (stuck, or behind a stuck one): on-call is told.
RUN_LATE_H = 12


class RunFailedNotifier(SnsNotifier):
    """SnsNotifier whose message is composed from the failed run when it is sent, not templated at parse time."""

    def __init__(self, *, target_arn: str, aws_conn_id: str | None, region_name: str | None = None) -> None:
        super().__init__(target_arn=target_arn, aws_conn_id=aws_conn_id, region_name=region_name, message="")

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render: the fields are plain values. (Under dag.test() the callback's `dag` is the
        scheduler's SerializedDAG, which has no template environment, and rendering would fail the callback.)"""

    def notify(self, context: Any) -> None:
        self.subject = failure_subject(context)
        self.message = failure_message(context)
        log.info("Telling %s: %s", self.target_arn, self.subject)
        super().notify(context)


def failure_notifiers() -> list[RunFailedNotifier]:
    """The DAGs' on_failure_callback: one notifier on the deployment's topic, none when it names no topic."""
    topic = os.environ.get(ALERT_TOPIC_VARIABLE, "").strip()
    if not topic:
        return []
    region = topic.split(":")[3] if topic.count(":") >= 5 else None  # arn:aws:sns:<region>:<account>:<name>
    return [RunFailedNotifier(target_arn=topic, aws_conn_id=default_aws_conn_id(), region_name=region)]


def late_run_deadline() -> list[Any]:
    """A Deadline Alert on the deployment's topic when a run has not ended $INSTANCE_BENCHMARKS_RUN_LATE_H hours
    (default 12) after it was queued: stuck, or queued behind a run that is (max_active_runs=1). The triggerer sends
    it with the provider's SnsNotifier; none without a topic."""
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    (notifier,) = failure_notifiers() or [None]
    if notifier is None:
        return []
    hours = float(os.environ.get("INSTANCE_BENCHMARKS_RUN_LATE_H") or RUN_LATE_H)
    message = ("The {{ dag_run.dag_id }} run {{ dag_run.run_id }} has not ended " + f"{hours:g}"
               + " h after it was queued (deadline {{ deadline.deadline_time }}): it is stuck, or queued behind a run "
               "that is (runs go one at a time). Open the DAG's runs in the Airflow UI; a run past its time-out "
               "($INSTANCE_BENCHMARKS_RUN_TIMEOUT_H) is failed by the scheduler, and its teardowns still terminate.")
    return [DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=datetime.timedelta(hours=hours),
                          callback=AsyncCallback(SnsNotifier, kwargs={
                              "target_arn": notifier.target_arn, "aws_conn_id": notifier.aws_conn_id,
                              "region_name": notifier.region_name, "message": message,
                              "subject": "instance-benchmarks: a run is late"}))]


def failure_subject(context: Any) -> str:
    subject = f"instance-benchmarks: {context['dag'].dag_id} run {context['run_id']} failed"
    return subject if len(subject) <= MAX_SUBJECT else subject[: MAX_SUBJECT - 3] + "..."


def run_link(dag_id: str, run_id: str) -> str:
    """The run's page in the Airflow UI ([api] base_url, which a deployment sets to its public address)."""
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="") or "http://localhost:8080"
    return f"{base.rstrip('/')}/dags/{dag_id}/runs/{urllib.parse.quote(run_id, safe='')}"


def failure_message(context: Any) -> str:
    dag_id, run_id = context["dag"].dag_id, context["run_id"]
    lines = [f"The {dag_id} run {run_id} failed ({context.get('reason') or 'failed'}).",
             f"Run: {run_link(dag_id, run_id)}"]
    ti = context.get("ti")
    if ti is not None:
        lines.append(f"Last task to end: {ti.task_id}" + ("" if ti.map_index in (None, -1) else f" [{ti.map_index}]"))
    lines += run_outcome(context)
    return "\n".join(lines) + "\n"


def run_outcome(context: Any) -> list[str]:
    """What a benchmark run's own summary says went wrong, type by type, and where its report is."""
    from instance_benchmarks.results import ResultStore

    # the run's params when the callback names its last task, else the DAG's defaults (a run with no task run)
    params = dict(context.get("params") or {name: context["dag"].params[name] for name in context["dag"].params})
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    results_uri = conf.get("results_uri") or params.get("results_uri")
    if not results_uri or "aws_conn_id" not in params or "instance_types" not in params:
        return []  # not a benchmark run (janitor, catalog_refresh, ...): the run and its task say it
    store = ResultStore(results_uri, conn_id=conf.get("aws_conn_id") or params.get("aws_conn_id"))
    directory = store.run_reports(context["run_id"])
    try:
        summary = json.loads((directory / "summary.json").read_text())
    except (OSError, ValueError) as exc:  # analyze never ran, or the store cannot be read: say so, still send
        return [f"No summary of this run at {directory.as_uri()} ({type(exc).__name__}): see the run's tasks."]
    problems = []
    if summary.get("stopped"):
        stopped = summary["stopped"]
        problems.append(f"- the whole run, at {stopped['stage']}: {stopped['reason']}")
    for item in summary.get("quarantined", []):
        problems.append(f"- {_host(item)} quarantined: {'; '.join(item['reasons'])}")
    for item in summary.get("unaccounted", []):
        problems.append(f"- {_host(item)} stopped at {item['stage']}: {item['reason']}")
    for item in summary.get("skipped", []):
        problems.append(f"- {_host(item)} skipped at {item['stage']}: {item['reason']}")
    stored = len(summary.get("documents", []))
    lines = [f"{stored} document(s) stored; {len(problems)} type(s) or host(s) not:"] if problems else [
        f"{stored} document(s) stored; every planned host is accounted for."]
    lines += problems[:MAX_LISTED]
    if len(problems) > MAX_LISTED:
        lines.append(f"... and {len(problems) - MAX_LISTED} more (the summary lists them all)")
    lines += [f"Report: {(directory / 'index.html').as_uri()}", f"Summary: {(directory / 'summary.json').as_uri()}"]
    return lines


def _host(item: dict[str, Any]) -> str:
    replica = item.get("replica") or 1
    return item["instance_type"] + ("" if replica == 1 else f" #{replica}")
