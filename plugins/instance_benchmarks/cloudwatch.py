"""CloudWatch metrics for each stored document: the raw samples, so CloudWatch's own statistics are honest.

Namespace `InstanceBenchmarks`; metric `<benchmark>/<metric>` (e.g. `stream/triad`,
`hpl/gflops`); dimensions InstanceType, Family (intel, amd, graviton), Architecture,
Placement and Profile (a quick smoke test is never one series with standard runs).
Every repetition is sent as a value (PutMetricData's Values/Counts),
so alarms and dashboards see the spread, not one convenient number. The Amazon
provider has no CloudWatch metrics hook: the client comes from AwsBaseHook.

`put_dashboard` makes the deployment's dashboard of those metrics from the definition in
include/cloudwatch/dashboard.json (`python -m instance_benchmarks.cli dashboard`).
"""

from __future__ import annotations

import datetime
import json
import logging
import string
from typing import Any

from instance_benchmarks import INCLUDE_DIR

log = logging.getLogger(__name__)

NAMESPACE = "InstanceBenchmarks"
DASHBOARD_DEFINITION = INCLUDE_DIR / "cloudwatch" / "dashboard.json"
UNITS = {"GB/s": "Gigabytes/Second", "GFLOPS": "None"}
MAX_METRICS_PER_CALL = 1000  # PutMetricData's limit on metric data items per request


def metric_data(doc: dict[str, Any]) -> list[dict[str, Any]]:
    from instance_benchmarks.analysis import GROUP_KEYS, rows_frame

    rows = rows_frame([doc])
    if rows.empty:
        return []
    architecture = (doc.get("system") or {}).get("architecture") or "unknown"
    timestamp = datetime.datetime.fromisoformat(doc["finished_at"] or doc["started_at"])
    data = []
    # dropna=False: a key that does not apply (HPL's N on a STREAM row) is null, and must not drop the samples.
    for keys, group in rows.groupby(GROUP_KEYS, sort=True, dropna=False):
        row = dict(zip(GROUP_KEYS, keys, strict=True))
        data.append({
            "MetricName": f"{row['benchmark']}/{row['metric']}",
            "Dimensions": [{"Name": "InstanceType", "Value": row["instance_type"]},
                           {"Name": "Family", "Value": row["family"]},
                           {"Name": "Architecture", "Value": architecture},
                           {"Name": "Placement", "Value": row["placement"]},
                           {"Name": "Profile", "Value": row["profile"] if isinstance(row["profile"], str)
                            else "unrecorded"}],
            "Timestamp": timestamp,
            "Values": [float(v) for v in group["value"]],
            "Counts": [1.0] * len(group),
            "Unit": UNITS.get(row["unit"], "None"),
        })
    return data


def put_document_metrics(doc: dict[str, Any], *, aws_conn_id: str | None, region_name: str | None,
                         config: Any = None) -> int:
    """Put the document's samples; returns how many metric data items were sent (`config`: botocore's)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    data = metric_data(doc)
    if not data:  # a test-profile document: no figure to put
        log.info("No metrics for %s: its document holds no figure (%s profile)", doc["provenance"]["instance_type"],
                 (doc.get("runner") or {}).get("profile"))
        return 0
    client = AwsBaseHook(aws_conn_id=aws_conn_id, region_name=region_name, client_type="cloudwatch",
                         config=config).conn
    for start in range(0, len(data), MAX_METRICS_PER_CALL):
        client.put_metric_data(Namespace=NAMESPACE, MetricData=data[start:start + MAX_METRICS_PER_CALL])
    log.info("Put %d metric(s) in CloudWatch namespace %s for %s", len(data), NAMESPACE,
             doc["provenance"]["instance_type"])
    return len(data)


def dashboard_body(*, region: str, profile: str = "standard", report: str = "reports/latest/index.html") -> str:
    """The dashboard definition for one region and profile (the metrics of a quick smoke test are never mixed with
    the standard ones), checked to be JSON before it is sent."""
    body = string.Template(DASHBOARD_DEFINITION.read_text()).substitute(REGION=region, PROFILE=profile, REPORT=report)
    return json.dumps(json.loads(body))


def put_dashboard(*, aws_conn_id: str | None, region_name: str, profile: str = "standard",
                  name: str = "instance-benchmarks", report: str = "reports/latest/index.html") -> str:
    """Create or replace the dashboard `name` (idempotent: run it again after changing the definition); its URL."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    client = AwsBaseHook(aws_conn_id=aws_conn_id, region_name=region_name, client_type="cloudwatch").conn
    answer = client.put_dashboard(DashboardName=name, DashboardBody=dashboard_body(
        region=region_name, profile=profile, report=report))
    problems = [m.get("Message") for m in answer.get("DashboardValidationMessages") or []]
    if problems:
        raise ValueError(f"CloudWatch refused dashboard {name}: {problems}")
    url = f"https://{region_name}.console.aws.amazon.com/cloudwatch/home?region={region_name}#dashboards:name={name}"
    log.info("Dashboard %s put: %s", name, url)
    return url
