"""The catalog_refresh task: read a region's catalog, classify it, publish it, name its new families."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from instance_benchmarks import catalog

log = logging.getLogger(__name__)


def refresh(*, region: str, aws_conn_id: str | None, results_uri: str, date: str) -> dict[str, Any]:
    from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook
    from botocore.config import Config

    from instance_benchmarks.results import ResultStore

    client = EC2Hook(aws_conn_id=aws_conn_id, region_name=region, api_type="client_type",
                     config=Config(retries={"mode": "standard", "total_max_attempts": 10})).conn
    specs = sorted((catalog.spec_from_description(d) for d in catalog.describe_instance_types(client)),
                   key=lambda s: s.instance_type)
    rows = catalog.catalog_rows(specs, catalog.describe_offerings(client), region=region)
    published = catalog.publish(ResultStore(results_uri, conn_id=aws_conn_id).root, region, rows, date=date)
    new = catalog.new_families(published["previous"], rows)
    included = [r for r in rows if r["benchmarkable"]]
    log.info("%s: %d types, %d in `all` (%s); catalog at %s", region, len(rows), len(included),
             dict(Counter(r["architecture_family"] for r in included)), published["uri"])
    for reason, count in Counter((r["left_out_because"] or "").split(":")[0] for r in rows
                                 if not r["benchmarkable"]).most_common():
        log.info("  left out of `all`: %d x %s", count, reason)
    if published["previous"] is None:
        log.info("First catalog of %s: the baseline, nothing to backfill", region)
    for family in new:
        log.info("New family in %s: %s (%s)", region, family,
                 ", ".join(r["instance_type"] for r in included if r["instance_family"] == family))
    return {"region": region, "uri": published["uri"], "types": len(rows), "benchmarkable": len(included),
            "new_families": new}
