"""The /benchmarks app: every endpoint through FastAPI's TestClient, bad input always 4xx, never 500."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from instance_benchmarks import pipeline, plugin, rate_limits
from instance_benchmarks.results import ResultStore
from tests.fakes.documents import variant
from tests.fakes.served import HOSTS


def test_anonymous_callers_are_refused_by_airflow_s_own_check(store):
    plugin.app.dependency_overrides = {plugin.get_store: lambda: store}
    try:
        response = TestClient(plugin.app, raise_server_exceptions=False).get("/api/summary")
    finally:
        plugin.app.dependency_overrides = {}

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc", "/api/summary", "/"])
def test_nothing_answers_without_a_login_not_even_the_api_schema(store, path):
    plugin.app.dependency_overrides = {plugin.get_store: lambda: store}
    try:
        response = TestClient(plugin.app, raise_server_exceptions=False).get(path)
    finally:
        plugin.app.dependency_overrides = {}

    assert response.status_code in (401, 404), (path, response.status_code)  # /docs, /redoc: not served


def test_the_api_schema_is_served_to_a_signed_in_user(client):
    schema = client.get("/openapi.json").json()

    assert {"/api/summary", "/api/compare", "/api/recommend"} <= set(schema["paths"])


def test_the_plugin_mounts_under_benchmarks_and_is_in_the_navigation():
    (app,) = plugin.InstanceBenchmarksPlugin.fastapi_apps
    view, plans = plugin.InstanceBenchmarksPlugin.external_views

    assert app["url_prefix"] == "/benchmarks" and app["app"] is plugin.app
    assert view["destination"] == "nav" and view["href"] == "benchmarks/" and not view["href"].startswith("/")
    assert plans["destination"] == "nav" and plans["href"] == "benchmarks/plans"


def test_dashboard_and_reports(client):
    dashboard = client.get("/")
    dates = client.get("/reports").json()

    assert dashboard.status_code == 200 and "<svg" in dashboard.text and "m7g.large" in dashboard.text
    assert len(dates) == 1
    assert client.get(f"/reports/{dates[0]}").text == client.get("/reports/latest").text


# Encoded, so that the HTTP client sends them as they are (it resolves a literal `..` itself).
@pytest.mark.parametrize("path", ["/reports/2001-01-01", "/reports/..%2F..%2Fetc%2Fpasswd", "/reports/%2e%2e",
                                  "/reports/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/reports/latest%00",
                                  "/reports/latest%2f..%2f..%2fsummary.json"])
def test_report_paths_outside_the_reports_are_refused(client, path):
    response = client.get(path)

    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert "root:" not in response.text


def test_summary_json_with_filters(client):
    everything = client.get("/api/summary").json()
    graviton = client.get("/api/summary", params={"architecture": "graviton"}).json()
    triad_m7i = client.get("/api/summary", params={"family": "m7i", "metric": "triad"}).json()

    assert {row["instance_type"] for row in everything} == set(HOSTS)
    assert graviton and {row["instance_type"] for row in graviton} == {"m7g.large"}
    assert {(row["instance_type"], row["metric"]) for row in triad_m7i} == {("m7i.large", "triad")}
    assert {"n", "mean", "ci95_low", "ci95_high", "cv", "outliers", "efficiency", "profile",
            "configuration"} <= set(everything[0])
    # The fixture is a quick run: every row is, and none is standard.
    assert len(client.get("/api/summary", params={"profile": "quick"}).json()) == len(everything)
    assert client.get("/api/summary", params={"profile": "standard"}).json() == []


def test_summary_csv(client):
    response = client.get("/api/summary", params={"benchmark": "hpl", "format": "csv"})

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(HOSTS) and all(row["benchmark"] == "hpl" for row in rows)


def test_all_results_of_one_instance_type(client):
    rows = client.get("/api/instance-types/m7g.large/results").json()
    as_csv = client.get("/api/instance-types/m7g.large/results", params={"format": "csv"})

    assert rows and {row["instance_type"] for row in rows} == {"m7g.large"}
    assert len(list(csv.DictReader(io.StringIO(as_csv.text)))) == len(rows)


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/api/summary", {"architecture": "sparc"}, 422),
    ("/api/summary", {"profile": "fastest"}, 422),
    ("/api/summary", {"metric": "triad'; drop table"}, 422),
    ("/api/summary", {"format": "xml"}, 422),
    ("/api/summary", {"familly": "m7i"}, 400),  # a typo is an error, not an empty filter
    ("/api/instance-types/m7i.large;reboot/results", {}, 404),
    ("/api/instance-types/m5.metal/results", {}, 404),  # a real type without results
    ("/api/instance-types/m7i.large/results", {"x": "1"}, 400),
    ("/reports", {"date": "x"}, 400),
    ("/api/summary", {"sort": "price"}, 422),  # no such column: the error lists them
    ("/api/summary", {"sort": "mean; drop"}, 422),
    ("/api/compare", {"types": "m7i.large"}, 422),
    ("/api/compare", {"types": "m7i.large,m7g.large;reboot"}, 422),
    ("/api/compare", {}, 422),
    ("/api/recommend", {}, 422),  # no need stated
    ("/api/recommend", {"min_triad": "-1"}, 422),
    ("/api/recommend", {"like": "m5.metal"}, 404),  # never measured: nothing to be like
    ("/api/recommend", {"like": "x;y"}, 422),
    ("/api/recommend", {"min_tirad": "10"}, 400),
    ("/api/recommend", {"min_triad": "1", "region": "eu-west-1"}, 404),  # nothing measured there
])
def test_bad_input_is_a_4xx_that_says_what_is_wrong(client, path, params, status):
    response = client.get(path, params=params)

    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_nothing_stored_yet_is_an_empty_answer_not_an_error(client, tmp_path):
    empty = ResultStore(tmp_path.as_uri())
    plugin.app.dependency_overrides[plugin.get_store] = lambda: empty

    assert client.get("/api/summary").json() == []
    assert "No report yet" in client.get("/").text
    assert client.get("/reports").json() == []


def test_the_plugins_folder_loads_the_plugin_once_and_nothing_else(monkeypatch):
    import sys

    from airflow._shared.plugins_manager import _load_plugins_from_plugin_directory

    from instance_benchmarks import PROJECT_ROOT

    before = set(sys.modules)
    plugins, errors = _load_plugins_from_plugin_directory(str(PROJECT_ROOT / "plugins"))

    assert errors == {} and [type(p).__name__ for p in plugins] == ["InstanceBenchmarksPlugin"]
    # .airflowignore keeps Airflow from importing each package module again as a top-level module
    assert not {"pipeline", "ec2", "ssm", "analysis"} & (set(sys.modules) - before)


def test_compare_two_types_side_by_side_with_the_test_stated(client):
    answer = client.get("/api/compare", params={"types": "m7i.large,c7a.large"}).json()

    triad = next(m for m in answer["measures"] if m["measure"] == "stream triad all-cores")
    base, other = triad["entries"]
    assert (base["instance_type"], other["instance_type"]) == ("m7i.large", "c7a.large")
    assert other["vs_baseline"]["ratio"] == pytest.approx(2.0) and other["vs_baseline"]["significant"]
    assert "Welch" in answer["test"]
    as_csv = list(csv.DictReader(io.StringIO(client.get("/api/compare", params={"types": "m7i.large,c7a.large",
                                                                                "format": "csv"}).text)))
    assert {row["instance_type"] for row in as_csv} == {"m7i.large", "c7a.large"}


def test_recommend_the_cheapest_that_meet_a_need_in_json_and_csv(client):
    slowest = client.get("/api/summary", params={"metric": "triad"}).json()
    m7i = next(r for r in slowest if r["instance_type"] == "m7i.large" and r["placement"] == "all-cores")
    need = m7i["mean"] * 1.2  # beyond m7i.large, within m7g.large (x1.3) and c7a.large (x2)

    answer = client.get("/api/recommend", params={"min_triad": need}).json()
    as_csv = list(csv.DictReader(io.StringIO(client.get("/api/recommend", params={"min_triad": need,
                                                                                  "format": "csv"}).text)))

    assert [c["instance_type"] for c in answer["on_demand"]] == ["m7g.large", "c7a.large"]  # cheapest first
    assert [c["instance_type"] for c in answer["spot"]] == ["m7g.large"]  # c7a.large has no spot price
    assert answer["never_measured"]["note"].startswith("no catalog")
    assert [(r["market"], r["instance_type"]) for r in as_csv] == [("on_demand", "m7g.large"),
                                                                   ("on_demand", "c7a.large"), ("spot", "m7g.large")]
    like = client.get("/api/recommend", params={"like": "m7i.large"}).json()
    assert [c["instance_type"] for c in like["on_demand"]] == ["m7g.large"]  # as fast or faster, and cheaper


def test_summary_sorts_by_any_column_either_way(client):
    rows = client.get("/api/summary", params={"metric": "triad", "sort": "-value_per_dollar_on_demand"}).json()
    values = [r["value_per_dollar_on_demand"] for r in rows]
    cheapest = client.get("/api/summary", params={"metric": "triad", "sort": "price_per_hour_on_demand",
                                                  "limit": 2}).json()

    assert values == sorted(values, reverse=True) and len(values) > 3
    assert [r["instance_type"] for r in cheapest] == ["m7g.large", "m7g.large"]  # $0.0816: both placements


def test_a_run_s_own_report_is_served_by_its_run_id_and_nothing_else(tmp_path):
    """Issue 28 item 11: reports/runs/<run_id>/ through /benchmarks/runs/<run_id>, which the analyze task's
    'Run report' link opens; a path that is not a run's is a 404."""
    import urllib.parse

    store = ResultStore(tmp_path.as_uri())
    run_id = "manual__2026-12-03T20:00:00+00:00"
    store.store(variant(instance_type="m7i.large", family="intel", scale=1.0), [], run_id=run_id,
                instance_type="m7i.large")
    pipeline.analyze(params={"results_uri": tmp_path.as_uri()}, run_id=run_id)
    (airflow_auth,) = plugin.app.router.dependencies
    plugin.app.dependency_overrides = {plugin.get_store: lambda: store, airflow_auth.dependency: lambda: None}
    try:
        client = TestClient(plugin.app, raise_server_exceptions=False)
        page = client.get(f"/runs/{urllib.parse.quote(run_id, safe='')}")
        assert page.status_code == 200 and "<svg" in page.text and run_id in page.text
        for path in ("/runs/manual__other", "/runs/%2e%2e", "/runs/..%2F..%2Fsummary.json", "/runs/%2e"):
            assert client.get(path).status_code == 404, path
    finally:
        plugin.app.dependency_overrides = {}

    import types

    analyze = types.SimpleNamespace(task_id="analyze")
    key = types.SimpleNamespace(dag_id="instance_benchmarks", run_id=run_id)
    assert plugin.RunReportLink().get_link(analyze, ti_key=key).endswith(
        f"/benchmarks/runs/{urllib.parse.quote(run_id, safe='')}")
    assert plugin.RunReportLink().get_link(analyze, ti_key=types.SimpleNamespace(dag_id="janitor", run_id=run_id)) == ""


def test_compare_recommend_and_results_count_the_types_they_ask_about(client, store, monkeypatch):
    """Issue 30 item 1: the weekly plan's demand signal, counted where users ask."""
    import datetime

    from instance_benchmarks import demand

    monkeypatch.setattr(plugin, "_demand", None)
    monkeypatch.setattr(demand, "FLUSH_S", 0.0)  # write on every request, so the test reads them at once
    before = demand.read(store, today=datetime.datetime.now(datetime.UTC).date())

    assert client.get("/api/compare?types=m7i.large,m7g.large").status_code == 200
    assert client.get("/api/recommend?like=m7g.large").status_code in (200, 404)
    assert client.get("/api/instance-types/c7a.large/results").status_code == 200
    assert client.get("/api/compare?types=m7i.large,not-a-type").status_code == 422  # refused: not counted

    after = demand.read(store, today=datetime.datetime.now(datetime.UTC).date())
    gained = {name: round(after.get(name, 0) - before.get(name, 0)) for name in HOSTS}
    assert gained == {"m7i.large": 1, "m7g.large": 2, "c7a.large": 1}


def test_the_week_s_plan_its_page_and_every_type_s_freshness(client, store, moto_env, monkeypatch, tmp_path):
    """Issue 30 items 5 and 6: the plan as JSON and as a page, and for every type how fresh it is and why the week
    did or did not measure it again."""
    import datetime

    from instance_benchmarks import params, prices, weekly_refresh
    from tests.fakes.aws import AwsGaps
    from tests.fakes.pricing import FakePriceList

    before = client.get("/api/freshness").json()
    assert {r["instance_type"] for r in before} == set(HOSTS)
    if not client.get("/api/plans").json():
        assert client.get("/plans", follow_redirects=False).status_code == 404
        assert all(r["this_week"] == "not in a weekly plan yet" for r in before)
    gaps = AwsGaps().install(monkeypatch)
    gaps.add_price_list(FakePriceList({"us-east-1": prices.recorded_on_demand("us-east-1")}))
    week = datetime.date(2026, 11, 29)
    plan = weekly_refresh.plan_week(store=store, regions=["us-east-1"], requested=[*HOSTS, "c7g.large"],
                                    aws_conn_id=None, week=week,
                                    settings={**params.weekly_settings("aws"), "budget_usd": 1.0},
                                    markets=["on-demand"], hosts=[1, 2])

    assert client.get("/api/plans").json()[0] == str(week)
    served = client.get("/api/plans/latest").json()
    assert served["chosen"] == plan["chosen"] and served["budget"] == plan["budget"]
    assert [s["run_id"] for s in served["spent"]] == [f"weekly__{week}__{r['name']}" for r in plan["runs"]]
    assert all(s["actual_usd"] is None for s in served["spent"])  # nothing has run yet
    assert sum(s["planned_usd"] for s in served["spent"]) == pytest.approx(plan["budget"]["planned_usd"], abs=1e-3)
    redirect = client.get("/plans", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == f"plans/{week}"
    page = client.get(f"/plans/{week}").text
    assert f"The weekly plan: the week of {week}" in page and "Freshness by family and size" in page
    assert "us-east-1/c7g" in page and "never measured" in page  # the map's row and a cell's title
    fresh = {r["instance_type"]: r for r in client.get("/api/freshness?region=us-east-1").json()}
    assert fresh["c7g.large"]["last_measured"] is None
    decided = {o["instance_type"] for o in plan["chosen"]} | {e["instance_type"] for e in plan["not_chosen"]}
    for name in HOSTS:
        assert fresh[name]["last_measured"] and fresh[name]["age_weeks"] >= 0
        assert fresh[name]["this_week"].startswith(("measured the week of", "not the week of")) == (name in decided)
    assert client.get("/plans/2020-01-01").status_code == 404 and client.get("/plans/yesterday").status_code == 404
    assert client.get("/api/plans/..%2f..%2fetc").status_code == 404
    csv_text = client.get("/api/freshness?format=csv").text
    assert csv_text.splitlines()[0].startswith("region,instance_type,last_measured,age_weeks")


@pytest.fixture
def limited(client, monkeypatch):
    """The client under a limit of 3 requests a minute per user."""
    monkeypatch.setenv("INSTANCE_BENCHMARKS_API_RATE_LIMIT", "3/minute")
    rate_limits.current.cache_clear()
    return client


@pytest.mark.parametrize("path", ["/api/summary", "/api/compare?types=m7i.large,m7g.large", "/graphql"])
def test_past_the_limit_a_user_is_answered_429_with_retry_after(limited, path):
    def ask():
        if path == "/graphql":
            return limited.post(path, json={"query": "{ figures(first: 1) { totalCount } }"})
        return limited.get(path)

    answers = [ask() for _ in range(4)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in answers[:3]] == ["2", "1", "0"]
    refused = answers[3]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "3 per 1 minute" in refused.json()["detail"] and "INSTANCE_BENCHMARKS_API_RATE_LIMIT" in \
        refused.json()["detail"]


def test_one_user_s_burst_does_not_limit_another(limited):
    burst = [limited.get("/api/summary", headers={"X-Test-User": "scraper"}).status_code for _ in range(5)]
    other = limited.get("/api/summary", headers={"X-Test-User": "analyst"})

    assert burst == [200, 200, 200, 429, 429] and other.status_code == 200


def test_the_pages_are_never_limited(limited):
    pages = [limited.get(path).status_code for path in ["/", "/reports", "/api/summary", "/api/summary",
                                                         "/api/summary", "/", "/reports", "/"]]

    assert pages == [200, 200, 200, 200, 200, 200, 200, 200]
    assert limited.get("/api/summary").status_code == 429


def test_a_limit_that_cannot_be_read_names_the_setting(monkeypatch):
    monkeypatch.setenv("INSTANCE_BENCHMARKS_API_RATE_LIMIT", "many")

    with pytest.raises(ValueError, match="INSTANCE_BENCHMARKS_API_RATE_LIMIT: 'many'.*120/minute"):
        rate_limits.RateLimit.from_environment()


def test_contributed_results_are_included_only_when_asked_and_each_row_says_whose(client):
    project = client.get("/api/summary").json()
    both = client.get("/api/summary", params={"contributed": "true"}).json()

    assert {row["source"] for row in project} == {"project"}
    assert [row for row in both if row["source"] == "project"] == project  # the project's figures, as they were
    contributed = [row for row in both if row["source"] == "contributed"]
    assert {row["instance_type"] for row in contributed} == {"m7i.large", "r7i.large"}
    assert {(row["contributors"], row["submissions"]) for row in contributed} == {("erin", 1)}
    # r7i.large: measured by a contributor only
    assert client.get("/api/instance-types/r7i.large/results").status_code == 404
    raw = client.get("/api/instance-types/r7i.large/results", params={"contributed": "true"}).json()
    assert {(row["source"], row["contributor"]) for row in raw} == {("contributed", "erin")}
    assert all(len(row["submission_id"]) == 32 for row in raw)


def test_compare_and_recommend_keep_the_project_s_entry_and_a_contributed_one_apart(client):
    compared = client.get("/api/compare", params={"types": "m7i.large,c7a.large", "contributed": "true"}).json()
    recommended = client.get("/api/recommend", params={"min_triad": 1, "contributed": "true"}).json()
    alike = client.get("/api/recommend", params={"like": "m7i.large", "contributed": "true"}).json()
    project_only = client.get("/api/recommend", params={"min_triad": 1}).json()

    for measure in compared["measures"]:
        assert [(e["instance_type"], e["source"]) for e in measure["entries"]] == [
            ("m7i.large", "project"), ("m7i.large", "contributed"), ("c7a.large", "project")]  # the baseline: ours
    assert ("r7i.large", "contributed", "erin") in {(c["instance_type"], c["source"], c["contributors"])
                                                   for c in recommended["on_demand"]}
    assert {c["source"] for c in project_only["on_demand"]} == {"project"}
    project_triad = [r["mean"] for r in client.get("/api/summary", params={"metric": "triad"}).json()
                     if r["instance_type"] == "m7i.large" and r["placement"] == "all-cores"]
    assert alike["like"]["figures"]["triad"] == pytest.approx(project_triad[0])  # like: the project's own figure
