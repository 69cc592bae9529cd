"""Prices: the Price List (through a fake with AWS's response shape) and spot history (moto)."""

from __future__ import annotations

import json

import pytest

from instance_benchmarks import prices
from tests.fakes.aws import AwsGaps, client_error
from tests.fakes.pricing import RECORDED_US_EAST_1, FakePriceList, product


def test_hourly_rate_of_a_product():
    assert prices.hourly_on_demand(product("us-east-1", "m7i.large", 0.1008)) == pytest.approx(0.1008)
    assert prices.hourly_on_demand({"terms": {}}) is None


class _Client:
    """The fake as a boto3 client would present it (paginator over NextToken)."""

    def __init__(self, fake):
        self.fake = fake

    def get_paginator(self, operation):
        fake = self.fake

        class Paginator:
            def paginate(self, **params):
                while True:
                    page = fake.get_products(params)
                    yield page
                    if "NextToken" not in page:
                        return
                    params = {**params, "NextToken": page["NextToken"]}

        return Paginator()


def test_on_demand_filters_leave_exactly_linux_shared_used_capacity():
    fake = FakePriceList()

    found = prices.on_demand_prices(_Client(fake), "us-east-1", ["m7i.large", "c7g.large", "x9z.large"])

    assert found == {"m7i.large": 0.1008, "c7g.large": 0.0725}  # not Windows's double, no unknown type
    fields = {f["Field"]: f["Value"] for f in fake.calls[0]["Filters"]}
    assert fields["operatingSystem"] == "Linux" and fields["tenancy"] == "Shared"
    assert fields["regionCode"] == "us-east-1" and fields["instanceType"] == "m7i.large"


def test_many_types_are_priced_with_one_paginated_query_for_the_region():
    rates = {f"m{i}x.large": 0.01 * i for i in range(1, 40)}
    fake = FakePriceList({"us-east-1": rates, "eu-west-1": {"m1x.large": 9.0}})

    found = prices.on_demand_prices(_Client(fake), "us-east-1", sorted(rates))

    assert found == pytest.approx(rates)
    assert all("instanceType" not in {f["Field"] for f in call["Filters"]} for call in fake.calls)
    assert len(fake.calls) == 13  # 39 matching products, 3 per page


def test_snapshot_from_the_price_list_and_moto_spot_history(moto_env, monkeypatch):
    gaps = AwsGaps().install(monkeypatch)
    gaps.add_price_list(FakePriceList())

    snapshot = prices.aws_snapshot(aws_conn_id=None, region="us-east-1", instance_types=["m7i.large", "c7g.large"])

    assert snapshot["errors"] == []
    m7i = snapshot["prices"]["m7i.large"]
    assert m7i["on_demand"] == RECORDED_US_EAST_1["m7i.large"]
    # moto's spot history is static fake prices (FACTS.md); the shape is what is checked here.
    assert m7i["spot_zones"] and m7i["spot"] == sorted(m7i["spot_zones"].values())[len(m7i["spot_zones"]) // 2]
    assert ("pricing", "GetProducts") in gaps.calls
    json.dumps(snapshot)  # kept as JSON beside the run's results


def test_no_permission_means_no_price_and_a_recorded_reason(moto_env, monkeypatch):
    gaps = AwsGaps().install(monkeypatch)

    def denied(client, params, passthrough):
        raise client_error("AccessDeniedException", "not authorized to perform: pricing:GetProducts", "GetProducts")

    gaps.on("pricing", "GetProducts", denied)

    snapshot = prices.aws_snapshot(aws_conn_id=None, region="eu-west-1", instance_types=["m7i.large"])

    assert snapshot["prices"]["m7i.large"]["on_demand"] is None  # no recording for eu-west-1: no price
    assert any("AccessDeniedException" in e for e in snapshot["errors"]) and snapshot["source"] == "aws"


def test_without_the_price_list_the_recording_prices_on_demand_and_says_so(moto_env, monkeypatch):
    gaps = AwsGaps().install(monkeypatch)

    def denied(client, params, passthrough):
        raise client_error("AccessDeniedException", "not authorized to perform: pricing:GetProducts", "GetProducts")

    gaps.on("pricing", "GetProducts", denied)

    snapshot = prices.aws_snapshot(aws_conn_id=None, region="us-east-1", instance_types=["m7i.large", "m99z.large"])

    assert snapshot["prices"]["m7i.large"]["on_demand"] == 0.1008  # the recording's, as its README quotes it
    assert snapshot["prices"]["m99z.large"]["on_demand"] is None  # not recorded: unpriced, never guessed
    assert "recorded 2026-07-20" in snapshot["source"] and "Price List unreachable" in snapshot["source"]
    assert any("not live" in e for e in snapshot["errors"]) and any("AccessDenied" in e for e in snapshot["errors"])


def test_the_recording_is_the_one_its_readme_describes():
    table = prices.recorded_on_demand("us-east-1")

    assert len(table) == 1367 and sum(name.endswith(".metal") or ".metal-" in name for name in table) == 142
    assert table["c7g.16xlarge"] == 2.32 and table["hpc7g.16xlarge"] == 1.6832 and table["m7a.48xlarge"] == 11.12832
    assert prices.recorded_on_demand("eu-west-1") == {}
    snapshot = prices.recorded_snapshot("us-east-1", ["m7i.large", "m99z.large"])
    assert snapshot["prices"]["m7i.large"]["on_demand"] == 0.1008 and "m99z.large" in snapshot["errors"][0]


def test_a_changed_recording_is_refused(tmp_path, monkeypatch):
    changed = tmp_path / "prices.csv"
    changed.write_text("instance_type,usd_per_hour\nm7i.large,0.01\n")
    recording = prices.RECORDINGS["us-east-1"]
    monkeypatch.setitem(prices.RECORDINGS, "us-east-1", prices.Recording(changed, recording.sha256, "x", "y"))
    prices.recorded_on_demand.cache_clear()
    try:
        with pytest.raises(ValueError, match="was changed"):
            prices.recorded_on_demand("us-east-1")
    finally:
        prices.recorded_on_demand.cache_clear()


def test_local_price_is_what_the_user_gave_or_nothing():
    assert prices.given_snapshot("local", 0.25)["prices"]["local"]["on_demand"] == 0.25
    none = prices.given_snapshot("local", None)
    assert none["prices"]["local"]["on_demand"] is None and "price_per_hour" in none["errors"][0]
