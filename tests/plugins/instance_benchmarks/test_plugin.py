"""The /benchmarks app: every endpoint through FastAPI's TestClient, bad input always 4xx, never 500."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from instance_benchmarks import pipeline, plugin
from instance_benchmarks.results import ResultStore
from tests.fakes.documents import variant

HOSTS = {"m7i.large": "intel", "m7g.large": "graviton", "c7a.large": "amd"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    store = ResultStore(root.as_uri())
    for instance_type, family in HOSTS.items():
        doc = variant(instance_type=instance_type, family=family)
        store.store(doc, [], run_id="run-1", instance_type=instance_type)
    pipeline.analyze(params={"results_uri": root.as_uri()}, run_id=None)
    return store


@pytest.fixture
def client(store):
    """The app as a signed-in user sees it: the store above, Airflow's auth dependency satisfied."""
    (airflow_auth,) = plugin.app.router.dependencies
    plugin.app.dependency_overrides = {plugin.get_store: lambda: store, airflow_auth.dependency: lambda: None}
    yield TestClient(plugin.app, raise_server_exceptions=False)
    plugin.app.dependency_overrides = {}


def test_anonymous_callers_are_refused_by_airflow_s_own_check(store):
    plugin.app.dependency_overrides = {plugin.get_store: lambda: store}
    try:
        response = TestClient(plugin.app, raise_server_exceptions=False).get("/api/summary")
    finally:
        plugin.app.dependency_overrides = {}

    assert response.status_code == 401


def test_the_plugin_mounts_under_benchmarks_and_is_in_the_navigation():
    (app,) = plugin.InstanceBenchmarksPlugin.fastapi_apps
    (view,) = plugin.InstanceBenchmarksPlugin.external_views

    assert app["url_prefix"] == "/benchmarks" and app["app"] is plugin.app
    assert view["destination"] == "nav" and view["href"] == "benchmarks/" and not view["href"].startswith("/")


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
    assert {"n", "mean", "ci95_low", "ci95_high", "cv", "outliers", "efficiency"} <= set(everything[0])


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
    ("/api/summary", {"metric": "triad'; drop table"}, 422),
    ("/api/summary", {"format": "xml"}, 422),
    ("/api/summary", {"familly": "m7i"}, 400),  # a typo is an error, not an empty filter
    ("/api/instance-types/m7i.large;reboot/results", {}, 404),
    ("/api/instance-types/m5.metal/results", {}, 404),  # a real type without results
    ("/api/instance-types/m7i.large/results", {"x": "1"}, 400),
    ("/reports", {"date": "x"}, 400),
])
def test_bad_input_is_a_4xx_that_says_what_is_wrong(client, path, params, status):
    response = client.get(path, params=params)

    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_nothing_stored_yet_is_an_empty_answer_not_an_error(tmp_path):
    empty = ResultStore(tmp_path.as_uri())
    (airflow_auth,) = plugin.app.router.dependencies
    plugin.app.dependency_overrides = {plugin.get_store: lambda: empty, airflow_auth.dependency: lambda: None}
    try:
        client = TestClient(plugin.app, raise_server_exceptions=False)
        assert client.get("/api/summary").json() == []
        assert "No report yet" in client.get("/").text
        assert client.get("/reports").json() == []
    finally:
        plugin.app.dependency_overrides = {}


def test_the_plugins_folder_loads_the_plugin_once_and_nothing_else(monkeypatch):
    import sys

    from airflow._shared.plugins_manager import _load_plugins_from_plugin_directory

    from instance_benchmarks import PROJECT_ROOT

    before = set(sys.modules)
    plugins, errors = _load_plugins_from_plugin_directory(str(PROJECT_ROOT / "plugins"))

    assert errors == {} and [type(p).__name__ for p in plugins] == ["InstanceBenchmarksPlugin"]
    # .airflowignore keeps Airflow from importing each package module again as a top-level module
    assert not {"pipeline", "ec2", "ssm", "analysis"} & (set(sys.modules) - before)
