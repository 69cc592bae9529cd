"""The catalog_refresh task: read a region's catalog, classify it, publish it, name its new families."""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from typing import Any

from instance_benchmarks import catalog

log = logging.getLogger(__name__)


def refresh(*, region: str, aws_conn_id: str | None, results_uri: str, date: str, families_per_day: int = 1
            ) -> dict[str, Any]:
    """Publish the region's catalog and name the families to measure: their types never measured there."""
    from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook
    from botocore.config import Config

    from instance_benchmarks.results import ResultStore

    client = EC2Hook(aws_conn_id=aws_conn_id, region_name=region, api_type="client_type",
                     config=Config(retries={"mode": "standard", "total_max_attempts": 10})).conn
    described = catalog.describe_instance_types(client)
    specs = sorted((catalog.spec_from_description(d) for d in described), key=lambda s: s.instance_type)
    fingerprints = {d["InstanceType"]: catalog.fingerprint(d) for d in described}
    rows = catalog.catalog_rows(specs, catalog.describe_offerings(client), region=region, fingerprints=fingerprints)
    store = ResultStore(results_uri, conn_id=aws_conn_id)
    published = catalog.publish(store.root, region, rows, date=date)
    measured = store.measured_since(region, datetime.date.min)
    new = catalog.unmeasured_families(rows, set(measured), limit=families_per_day)
    included = [r for r in rows if r["benchmarkable"]]
    log.info("%s: %d types, %d in `all` (%s); catalog at %s", region, len(rows), len(included),
             dict(Counter(r["architecture_family"] for r in included)), published["uri"])
    for reason, count in Counter((r["left_out_because"] or "").split(":")[0] for r in rows
                                 if not r["benchmarkable"]).most_common():
        log.info("  left out of `all`: %d x %s", count, reason)
    log.info("%s: %d of the %d types in `all` have a stored document", region,
             len(set(measured) & {r["instance_type"] for r in included}), len(included))
    for family, types in new.items():
        log.info("To measure in %s: %s, never measured there: %s", region, family, ", ".join(types))
    return {"region": region, "uri": published["uri"], "types": len(rows), "benchmarkable": len(included),
            "new_families": new}
