"""Hourly prices: the Price List API (on-demand) and the spot price history, one snapshot per run.

On-demand: Linux, shared tenancy, no pre-installed software, capacity status `Used`, the
filters under which the Price List gives exactly one hourly rate per type and region.
Spot: the latest price in each zone (DescribeSpotPriceHistory, Linux/UNIX); the snapshot
keeps every zone and uses their median, a fair stand-in for "where the run happens to land".

The Price List endpoint lives in us-east-1 whatever the region priced. The Amazon provider
has no hook for it, so it is `AwsBaseHook(client_type="pricing")` on the run's connection.
A price that cannot be had (no permission, no such product) is None with the error
recorded; the analysis then has no price metrics for that type, never a made-up one.

Where the Price List cannot be reached at all, on-demand prices come from a recorded snapshot
(include/prices/, with its provenance) when one exists for the region, and the snapshot's
`source` says so; a type the recording lacks stays unpriced.
"""

from __future__ import annotations

import csv
import datetime
import json
import logging
import statistics
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from instance_benchmarks import INCLUDE_DIR
from instance_benchmarks.recordings import verified_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recording:
    """A recorded on-demand price table (include/prices/README.md gives its provenance)."""

    path: Path
    sha256: str
    recorded_on: str
    origin: str

    @property
    def label(self) -> str:
        return f"recorded {self.recorded_on} ({self.origin}; {self.path.name})"


RECORDINGS = {
    "us-east-1": Recording(INCLUDE_DIR / "prices" / "us-east-1-on-demand-2026-07-20.csv",
                           "8c5172b5069180b0d4a7089bbbb381ba08162b6fd25281a7c13bc1cb0e53e989", "2026-07-20",
                           "AWS Price List via aws/karpenter-provider-aws@6fc13b5"),
}


@cache
def recorded_on_demand(region: str) -> dict[str, float]:
    """The recorded on-demand USD per hour of `region` (empty: none recorded), its checksum verified."""
    recording = RECORDINGS.get(region)
    if recording is None:
        return {}
    rows = csv.DictReader(verified_text(recording.path, recording.sha256).splitlines())
    return {row["instance_type"]: float(row["usd_per_hour"]) for row in rows}


def recorded_snapshot(region: str, instance_types: list[str]) -> dict[str, Any]:
    """A snapshot (the format of `aws_snapshot`) from the recording alone: on demand only, a missing type unpriced."""
    table = recorded_on_demand(region)
    recording = RECORDINGS.get(region)
    prices = {name: {"on_demand": table.get(name), "spot": None, "spot_zones": {}} for name in instance_types}
    missing = sorted(name for name, p in prices.items() if p["on_demand"] is None)
    errors = []
    if recording is None:
        errors.append(f"no recorded prices for {region}")
    elif missing:
        errors.append(f"{len(missing)} type(s) not in the recording, unpriced: {', '.join(missing[:10])}"
                      + (" ..." if len(missing) > 10 else ""))
    return {"region": region, "source": recording.label if recording else None, "prices": prices, "errors": errors}

PRICING_REGION = "us-east-1"
ON_DEMAND_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}
# Above this many types, one paginated query for the whole region beats one query per type.
PER_TYPE_QUERY_LIMIT = 25


def _filters(region: str, instance_type: str | None) -> list[dict[str, str]]:
    fields = {**ON_DEMAND_FILTERS, "regionCode": region}
    if instance_type:
        fields["instanceType"] = instance_type
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in fields.items()]


def hourly_on_demand(product: dict[str, Any]) -> float | None:
    """The USD hourly rate of one Price List product (its single OnDemand term and dimension)."""
    rates = [
        float(dimension["pricePerUnit"]["USD"])
        for term in (product.get("terms") or {}).get("OnDemand", {}).values()
        for dimension in term.get("priceDimensions", {}).values()
        if dimension.get("unit") == "Hrs" and "USD" in dimension.get("pricePerUnit", {})
    ]
    return rates[0] if len(set(rates)) == 1 else None


def on_demand_prices(pricing_client: Any, region: str, instance_types: list[str]) -> dict[str, float]:
    """{instance type: USD per hour} for the types the Price List knows in `region`."""
    paginator = pricing_client.get_paginator("get_products")
    queries = [None] if len(instance_types) > PER_TYPE_QUERY_LIMIT else instance_types
    wanted = set(instance_types)
    found: dict[str, float] = {}
    for instance_type in queries:
        for page in paginator.paginate(ServiceCode="AmazonEC2", Filters=_filters(region, instance_type),
                                       FormatVersion="aws_v1"):
            for item in page["PriceList"]:
                product = json.loads(item) if isinstance(item, str) else item
                name = product["product"]["attributes"].get("instanceType")
                rate = hourly_on_demand(product)
                if name in wanted and rate is not None:
                    found[name] = rate
    return found


def spot_prices(ec2_client: Any, instance_types: list[str], *, now: datetime.datetime | None = None
                ) -> dict[str, dict[str, float]]:
    """{instance type: {zone: latest USD per hour}} from the last day of spot price history."""
    now = now or datetime.datetime.now(datetime.UTC)
    latest: dict[tuple[str, str], tuple[datetime.datetime, float]] = {}
    paginator = ec2_client.get_paginator("describe_spot_price_history")
    for page in paginator.paginate(InstanceTypes=instance_types, ProductDescriptions=["Linux/UNIX"],
                                   StartTime=now - datetime.timedelta(days=1), EndTime=now):
        for entry in page["SpotPriceHistory"]:
            key = (entry["InstanceType"], entry["AvailabilityZone"])
            if key not in latest or entry["Timestamp"] > latest[key][0]:
                latest[key] = (entry["Timestamp"], float(entry["SpotPrice"]))
    zones: dict[str, dict[str, float]] = {}
    for (instance_type, zone), (_, price) in sorted(latest.items()):
        zones.setdefault(instance_type, {})[zone] = price
    return zones


def aws_snapshot(*, aws_conn_id: str | None, region: str, instance_types: list[str],
                 config: Any = None) -> dict[str, Any]:
    """One run's prices for `instance_types` in `region`, with what could not be had and why."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook
    from botocore.exceptions import BotoCoreError, ClientError

    errors: list[str] = []
    on_demand: dict[str, float] = {}
    spot: dict[str, dict[str, float]] = {}
    source = "aws"
    try:
        pricing = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="pricing", region_name=PRICING_REGION,
                              config=config).conn
        on_demand = on_demand_prices(pricing, region, instance_types)
    except (BotoCoreError, ClientError) as exc:
        errors.append(f"Price List API: {exc}")
        recorded = recorded_on_demand(region)
        on_demand = {name: recorded[name] for name in instance_types if name in recorded}
        if region in RECORDINGS:
            source = f"aws spot history; on demand {RECORDINGS[region].label}, the Price List unreachable"
            errors.append(f"on-demand prices from the recording of {RECORDINGS[region].recorded_on}, not live")
    try:
        ec2 = EC2Hook(aws_conn_id=aws_conn_id, region_name=region, api_type="client_type", config=config).conn
        spot = spot_prices(ec2, instance_types)
    except (BotoCoreError, ClientError) as exc:
        errors.append(f"spot price history: {exc}")
    prices = {}
    for name in instance_types:
        zones = spot.get(name, {})
        prices[name] = {"on_demand": on_demand.get(name), "spot": statistics.median(zones.values()) if zones else None,
                        "spot_zones": zones}
        if prices[name]["on_demand"] is None and not errors:
            errors.append(f"{name}: the Price List has no Linux on-demand price in {region}")
    for error in errors:
        log.warning("Prices: %s", error)
    return {"region": region, "source": source, "prices": prices, "errors": errors}


def given_snapshot(instance_type: str, price_per_hour: float | None) -> dict[str, Any]:
    """target=local: the hourly price the user gave (or none, and then no price metrics)."""
    return {"region": "local", "source": "param price_per_hour" if price_per_hour is not None else None,
            "prices": {instance_type: {"on_demand": price_per_hour, "spot": None, "spot_zones": {}}},
            "errors": [] if price_per_hour is not None else ["no price_per_hour given: no price metrics"]}
