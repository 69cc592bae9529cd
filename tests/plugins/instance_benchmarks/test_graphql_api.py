"""GraphQL (issue 31 item 1, work in progress): the REST API's answers, the same rows and code, and its limits."""

from __future__ import annotations

import pytest

from tests.fakes.served import HOSTS

FIGURES = """query($first: Int!, $after: String) {
  figures(benchmark: "hpl", sort: "-mean", first: $first, after: $after) {
    totalCount nodes { instanceType mean ci95Low ci95High hosts } pageInfo { endCursor hasNextPage } } }"""


def ask(client, query: str, **variables):
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_figures_page_by_cursor_and_equal_the_rest_summary(client):
    rest = client.get("/api/summary?benchmark=hpl&sort=-mean").json()

    first = ask(client, FIGURES, first=2)["data"]["figures"]
    rest_of = ask(client, FIGURES, first=2, after=first["pageInfo"]["endCursor"])["data"]["figures"]

    nodes = first["nodes"] + rest_of["nodes"]
    assert first["totalCount"] == len(rest) and first["pageInfo"]["hasNextPage"] == (len(rest) > 2)
    assert [(n["instanceType"], n["mean"], n["ci95Low"]) for n in nodes] == [
        (r["instance_type"], r["mean"], r["ci95_low"]) for r in rest][:len(nodes)]


def test_compare_and_recommend_are_the_rest_api_s_answers(client):
    compared = ask(client, 'query { compare(types: ["m7i.large", "m7g.large"]) }')["data"]["compare"]
    recommended = ask(client, "query { recommend(minTriad: 1) }")["data"]["recommend"]

    assert compared == client.get("/api/compare?types=m7i.large,m7g.large").json()
    assert recommended == client.get("/api/recommend?min_triad=1").json()


def test_one_query_asks_for_a_type_its_figures_and_its_three_cheapest_alternatives(client):
    answer = ask(client, """query { instanceType(name: "c7a.large") {
        name figures { benchmark metric placement mean } alternatives(first: 3) } }""")["data"]["instanceType"]

    assert answer["name"] == "c7a.large" and {f["benchmark"] for f in answer["figures"]} == {"stream", "hpl"}
    rest = client.get("/api/recommend?like=c7a.large&limit=3").json()["on_demand"]
    assert answer["alternatives"] == rest


@pytest.mark.parametrize(("query", "limit"), [
    ("query { figures(first: 1000) { totalCount } }", "1 to 100 figures"),
    ("query { " + " ".join(f"a{i}: figures(first: 1) {{ totalCount }}" for i in range(11)) + " }", "alias"),
])
def test_a_query_past_the_cost_limits_is_refused_naming_the_limit(client, query, limit):
    errors = ask(client, query)["errors"]

    assert any(limit in e["message"] for e in errors), errors


def test_graphql_is_behind_airflow_s_login_as_the_rest_api_is(store):
    from fastapi.testclient import TestClient

    from instance_benchmarks import plugin

    plugin.app.dependency_overrides = {plugin.get_store: lambda: store}
    try:
        response = TestClient(plugin.app, raise_server_exceptions=False).post(
            "/graphql", json={"query": "{ figures { totalCount } }"})
    finally:
        plugin.app.dependency_overrides = {}

    assert response.status_code == 401
    assert set(HOSTS)  # the fixture's types: what the other tests ask about
