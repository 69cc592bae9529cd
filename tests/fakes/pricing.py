"""A Price List API (`pricing` GetProducts) that answers like AWS for EC2 on-demand prices.

moto has no Price List API (../shared/FACTS.md). The response shape is AWS's: `PriceList` is a
list of JSON *strings*, each a product with `attributes` and `terms.OnDemand.<sku>.<offer>
.priceDimensions.<rate>.pricePerUnit.USD` as a decimal string; TERM_MATCH filters select on
the attributes; pages follow NextToken. The prices below are test inputs, USD per hour, written
from AWS's public us-east-1 Linux on-demand price page as the author knew it, not fetched here (no
Price List is reachable from these machines); they price test runs only.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

RECORDED_US_EAST_1 = {
    "m7i.large": 0.1008, "c7i.large": 0.08925, "m7a.large": 0.11592, "c7a.large": 0.10264,
    "m7g.large": 0.0816, "c7g.large": 0.0725, "m6i.large": 0.096, "c7g.16xlarge": 2.32,
    "c7g.medium": 0.0363,
}


def product(region: str, instance_type: str, usd_per_hour: float, **attributes: str) -> dict[str, Any]:
    sku = hashlib.sha256(f"{region}/{instance_type}/{attributes}".encode()).hexdigest()[:16].upper()
    offer, rate = "JRTCKXETXF", "6YS6EN2CT7"
    return {
        "product": {
            "productFamily": "Compute Instance",
            "attributes": {
                "servicecode": "AmazonEC2", "regionCode": region, "instanceType": instance_type,
                "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
                "capacitystatus": "Used", "licenseModel": "No License required", **attributes,
            },
            "sku": sku,
        },
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {f"{sku}.{offer}": {
            "priceDimensions": {f"{sku}.{offer}.{rate}": {
                "unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                "rateCode": f"{sku}.{offer}.{rate}",
                "description": f"${usd_per_hour} per On Demand Linux {instance_type} Instance Hour",
                "pricePerUnit": {"USD": f"{usd_per_hour:.10f}"},
            }},
            "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": offer, "termAttributes": {},
        }}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    }


class FakePriceList:
    page_size = 3  # small, so that pagination is exercised

    def __init__(self, prices: dict[str, dict[str, float]] | None = None) -> None:
        """`prices`: {region: {instance type: USD per hour}}; by default the test inputs below."""
        self.products = []
        for region, rates in (prices or {"us-east-1": RECORDED_US_EAST_1}).items():
            for instance_type, usd in rates.items():
                self.products.append(product(region, instance_type, usd))
                # What the filters are there to exclude: Windows, and unused capacity reservations.
                self.products.append(product(region, instance_type, usd * 2, operatingSystem="Windows"))
                self.products.append(product(region, instance_type, usd, capacitystatus="UnusedCapacityReservation"))
        self.calls: list[dict[str, Any]] = []

    def get_products(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(params)
        if params.get("ServiceCode") != "AmazonEC2":
            raise NotImplementedError("FakePriceList only prices AmazonEC2")
        matches = [p for p in self.products
                   if all(p["product"]["attributes"].get(f["Field"]) == f["Value"] for f in params.get("Filters", []))]
        start = int(params.get("NextToken") or 0)
        page = {"FormatVersion": "aws_v1",
                "PriceList": [json.dumps(p) for p in matches[start:start + self.page_size]]}
        if start + self.page_size < len(matches):
            page["NextToken"] = str(start + self.page_size)
        return page
