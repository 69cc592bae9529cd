"""The weekly_refresh tasks' own module: the week planned and written, last week's money carried once, the chosen
split into runs, and the plan in words."""

from __future__ import annotations

import datetime
import json

import pytest

from instance_benchmarks import params, prices, weekly_refresh
from instance_benchmarks.results import ResultStore
from instance_benchmarks.weekly_plan import Option
from tests.fakes.aws import AwsGaps
from tests.fakes.pricing import FakePriceList

WEEK = datetime.date(2026, 11, 29)


@pytest.fixture
def priced(moto_env, monkeypatch):
    gaps = AwsGaps().install(monkeypatch)
    price_list = FakePriceList({"us-east-1": prices.recorded_on_demand("us-east-1")})
    price_list.page_size = 100
    gaps.add_price_list(price_list)
    return gaps


def plan(store: ResultStore, week: datetime.date = WEEK, *, budget: float | None = 2.0, requested=("m7i",)):
    return weekly_refresh.plan_week(store=store, regions=["us-east-1"], requested=list(requested), aws_conn_id=None,
                                    week=week, settings={**params.weekly_settings("aws"), "budget_usd": budget},
                                    markets=["on-demand"], hosts=[1, 2])


def test_the_plan_is_written_within_its_budget_with_every_signal_s_source(tmp_path, priced):
    store = ResultStore(tmp_path.as_uri())

    document = plan(store)

    written = json.loads((tmp_path / "plans" / "weekly" / f"{WEEK}.json").read_text())
    assert written["chosen"] == document["chosen"] and 0 < written["budget"]["planned_usd"] <= 2.0
    assert {f"{o['region']}/{o['instance_type']}" for o in written["chosen"]} <= set(written["signals"])
    assert written["signals"]["us-east-1/m7i.large"]["reasons"] == ["never measured"]
    assert set(written["sources"]["us-east-1"]) >= {"catalog", "prices", "age_weeks, interval_halfwidth, hosts",
                                                    "sibling_drift", "aws_changed", "image_changed", "demand",
                                                    "spot_risk"}
    assert "ami-" in written["sources"]["us-east-1"]["image_changed"]  # moto's public AL2023 parameters
    assert all(entry["reason"] for entry in written["not_chosen"])
    assert (tmp_path / "plans" / "weekly" / f"{WEEK}.md").read_text() == weekly_refresh.summary_text(written)
    # It reads, never launches (only Describe*, GetProducts and GetParameter reach moto and the fakes).
    assert {operation for _, operation in priced.calls} <= {"DescribeInstanceTypes", "GetProducts", "GetParameter",
                                                           "DescribeSpotPriceHistory"}


def test_what_last_week_left_is_carried_once(tmp_path, priced):
    store = ResultStore(tmp_path.as_uri())
    last = plan(store, WEEK - datetime.timedelta(weeks=1))
    left = last["budget"]["week_usd"] - last["budget"]["planned_usd"]

    this = plan(store)

    assert this["budget"]["carried_usd"] == pytest.approx(min(left, 2.0), abs=0.01)
    assert this["budget"]["week_usd"] == pytest.approx(2.0 + min(left, 2.0))
    assert this["budget"]["carried_from"].endswith(f"{WEEK - datetime.timedelta(weeks=1)}.json")


def test_without_a_weekly_budget_every_requested_type_is_chosen(tmp_path, priced):
    document = plan(ResultStore(tmp_path.as_uri()), budget=None, requested=["m7i.large", "c7g.large"])

    assert sorted(o["instance_type"] for o in document["chosen"]) == ["c7g.large", "m7i.large"]
    planned = sum(o["cost_usd"] for o in document["chosen"])
    assert document["runs"] == [{"name": "us-east-1__on-demand__2h", "planned_usd": pytest.approx(planned), "conf": {
        "target": "aws", "region": "us-east-1", "market": "on-demand", "instance_types": ["c7g.large", "m7i.large"],
        "profile": "standard", "time_budget_s": 540, "host_time_budget_s": 600, "instances_per_type": 2,
        "budget_usd": None}}]
    assert "No weekly budget set" in weekly_refresh.summary_text(document)


def test_the_chosen_are_split_into_one_run_per_region_market_and_hosts_each_with_its_share_rounded_up():
    chosen = [Option("us-east-1", "m7i.large", 1, "on-demand", 0.101, 1.0),
              Option("us-east-1", "c7g.large", 1, "on-demand", 0.2, 1.0),
              Option("us-east-1", "m7a.large", 2, "on-demand", 0.5, 1.0),
              Option("eu-west-1", "m7i.large", 1, "spot", 0.0333, 1.0)]

    runs = weekly_refresh.runs_of(chosen, settings={**params.weekly_settings("aws"), "budget_usd": 100.0})

    assert [(r["name"], r["conf"]["instance_types"], r["conf"]["budget_usd"], r["planned_usd"]) for r in runs] == [
        ("eu-west-1__spot__1h", ["m7i.large"], 0.04, 0.0333),
        ("us-east-1__on-demand__1h", ["c7g.large", "m7i.large"], 0.31, 0.301),
        ("us-east-1__on-demand__2h", ["m7a.large"], 0.5, 0.5)]
    assert {r["conf"]["market"] for r in runs} == {"spot", "on-demand"}
