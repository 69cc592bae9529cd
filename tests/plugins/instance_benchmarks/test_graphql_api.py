"""GraphQL (issue 31 item 1): the REST API's answers, typed, from the same rows and code; its limits."""

from __future__ import annotations

import pytest

from tests.docs_examples import blocks
from tests.fakes.served import HOSTS, PRICES

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


def everything(type_name: str) -> str:
    """Every field of a GraphQL type, nested types' too: a query that asks for the whole answer."""
    from graphql import GraphQLObjectType, get_named_type

    from instance_benchmarks.graphql_api import schema

    fields = []
    for name, field in schema._schema.get_type(type_name).fields.items():
        named = get_named_type(field.type)
        fields.append(f"{name} {everything(named.name)}" if isinstance(named, GraphQLObjectType) else name)
    return "{ " + " ".join(fields) + " }"


def camel(value):
    """The REST answer with GraphQL's names (keys in camelCase)."""
    from strawberry.utils.str_converters import to_camel_case

    if isinstance(value, dict):
        return {to_camel_case(k): camel(v) for k, v in value.items()}
    return [camel(v) for v in value] if isinstance(value, list) else value


def test_compare_is_the_rest_api_s_answer_typed_field_for_field(client):
    query = 'query { compare(types: ["m7i.large", "m7g.large", "c7a.large"]) ' + everything("Comparison") + " }"

    compared = ask(client, query)["data"]["compare"]

    rest = client.get("/api/compare?types=m7i.large,m7g.large,c7a.large").json()
    rest["tests"] = [{"instance_type": name, "measures_tested": n} for name, n in rest["tests"].items()]
    assert compared == camel(rest)
    assert compared["measures"] and any(e["vsBaseline"] and e["vsBaseline"]["pHolm"] is not None
                                        for m in compared["measures"] for e in m["entries"])


@pytest.mark.parametrize("arguments", ["minTriad: 1", 'like: "c7a.large", limit: 2', "minHpl: 1, strict: true"])
def test_recommend_is_the_rest_api_s_answer_typed_field_for_field(client, arguments):
    recommended = ask(client, f"query {{ recommend({arguments}) {everything('Recommendation')} }}")

    rest_query = arguments.replace("minTriad", "min_triad").replace("minHpl", "min_hpl").replace(": ", "=") \
        .replace(", ", "&").replace('"', "")
    rest = client.get(f"/api/recommend?{rest_query}").json()
    rest["need"] = [{"figure": key, **need} for key, need in rest["need"].items()]
    assert recommended["data"]["recommend"] == camel(rest)


def test_compare_and_recommend_refusals_are_the_rest_api_s(client):
    one = ask(client, 'query { compare(types: ["m7i.large"]) { types } }')["errors"][0]["message"]
    none = ask(client, "query { recommend { rule } }")["errors"][0]["message"]

    assert one == client.get("/api/compare?types=m7i.large").json()["detail"]
    assert none == client.get("/api/recommend").json()["detail"]


@pytest.fixture(scope="module")
def catalogued(store):
    """catalog_refresh's latest catalog of us-east-1 as moto describes the served types and one never measured."""
    import boto3
    from moto import mock_aws

    from instance_benchmarks import catalog
    from tests.conftest import MOTO_ENV

    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in MOTO_ENV.items():
            monkeypatch.setenv(name, value)
        with mock_aws():
            client = boto3.client("ec2", region_name="us-east-1")
            described = catalog.describe_instance_types(client, [*HOSTS, "c7g.large"])
    rows = catalog.catalog_rows([catalog.spec_from_description(d) for d in described], {}, region="us-east-1")
    catalog.publish(store.root, "us-east-1", rows, date="2026-12-01")
    return {row["instance_type"]: row for row in rows}


def test_one_query_asks_for_a_type_what_ec2_says_it_is_its_figures_and_its_three_cheapest_alternatives(
        client, catalogued):
    answer = ask(client, """query { instanceType(name: "m7i.large") {
        name catalog { region vcpus memoryGib processor benchmarkable } prices { onDemand spot }
        figures { benchmark metric placement mean ageDays } freshness { region lastMeasured ageWeeks thisWeek }
        alternatives(first: 3) { instanceType meets pricePerHourOnDemand figures { triad { mean } hpl { mean } } }
        } }""")["data"]["instanceType"]

    assert answer["name"] == "m7i.large" and {f["benchmark"] for f in answer["figures"]} == {"stream", "hpl"}
    assert all(f["ageDays"] >= 0 for f in answer["figures"])
    described = catalogued["m7i.large"]
    assert answer["catalog"] == [{"region": "us-east-1", "vcpus": described["vcpus"], "benchmarkable": True,
                                  "memoryGib": described["memory_bytes"] / 2**30,
                                  "processor": described["processor"]}]
    assert answer["prices"] == [{"onDemand": PRICES["m7i.large"]["on_demand"], "spot": PRICES["m7i.large"]["spot"]}]
    assert [f["region"] for f in answer["freshness"]] == ["us-east-1"]
    assert answer["freshness"][0]["lastMeasured"] and answer["freshness"][0]["thisWeek"] == "not in a weekly plan yet"
    rest = client.get("/api/recommend?like=m7i.large&limit=3").json()["on_demand"]
    assert [a["instanceType"] for a in answer["alternatives"]] == [r["instance_type"] for r in rest]
    assert [a["figures"]["triad"]["mean"] for a in answer["alternatives"]] == [
        r["figures"]["triad"]["mean"] for r in rest]
    assert len(rest) >= 1


def test_a_type_s_samples_page_by_cursor_and_are_the_rest_api_s_raw_rows(client):
    query = """query($after: String) { instanceType(name: "m7i.large") {
        runs { runId hosts samples profile }
        samples(benchmark: "hpl", first: 2, after: $after) {
          totalCount nodes { runId benchmark metric repetition value } pageInfo { endCursor hasNextPage } } } }"""

    first = ask(client, query)["data"]["instanceType"]
    second = ask(client, query, after=first["samples"]["pageInfo"]["endCursor"])["data"]["instanceType"]

    raw = [r for r in client.get("/api/instance-types/m7i.large/results").json() if r["benchmark"] == "hpl"]
    nodes = first["samples"]["nodes"] + second["samples"]["nodes"]
    assert first["samples"]["totalCount"] == len(raw) and len(nodes) == min(4, len(raw))
    assert sorted((n["repetition"], n["value"]) for n in nodes) <= sorted((r["repetition"], r["value"]) for r in raw)
    assert {(n["repetition"], n["value"]) for n in nodes} <= {(r["repetition"], r["value"]) for r in raw}
    all_raw = client.get("/api/instance-types/m7i.large/results").json()
    assert first["runs"] == [{"runId": "run-1", "hosts": 1, "samples": len(all_raw),
                              "profile": all_raw[0]["profile"]}]


@pytest.mark.parametrize(("query", "limit"), [
    ("query { figures(first: 1000) { totalCount } }", "1 to 100 rows"),
    ("query { instanceType(name: \"m7i.large\") { samples(first: 101) { totalCount } } }", "1 to 100 rows"),
    ("query { " + " ".join(f"a{i}: figures(first: 1) {{ totalCount }}" for i in range(11)) + " }", "alias"),
])
def test_a_query_past_the_cost_limits_is_refused_naming_the_limit(client, query, limit):
    errors = ask(client, query)["errors"]

    assert any(limit in e["message"] for e in errors), errors


def depth(type_name: str) -> int:
    """The deepest selection the schema allows below a type (its fields' nesting; the schema has no cycles)."""
    from graphql import GraphQLObjectType, get_named_type

    from instance_benchmarks.graphql_api import schema

    nested = [get_named_type(f.type) for f in schema._schema.get_type(type_name).fields.values()]
    return 1 + max((depth(t.name) for t in nested if isinstance(t, GraphQLObjectType)), default=0)


def test_the_deepest_query_the_schema_allows_is_within_the_depth_limit_which_refuses_one_level_more(client):
    from instance_benchmarks.graphql_api import MAX_DEPTH

    deepest = 'query { instanceType(name: "m7i.large") { alternatives { figures { triad { mean } } } } }'

    # strawberry counts the root field's selections from 0: the deepest query here is depth 4
    assert depth("Query") - 1 == MAX_DEPTH  # a new nesting level must raise the limit on purpose
    assert "errors" not in ask(client, deepest)
    # No valid query goes past the schema's depth, so the limiter is shown refusing this one at one level less.
    import strawberry
    from strawberry.extensions import QueryDepthLimiter

    from instance_benchmarks.graphql_api import Query
    shallow = strawberry.Schema(query=Query, extensions=[QueryDepthLimiter(max_depth=MAX_DEPTH - 1)])
    refused = shallow.execute_sync(deepest, context_value={"store": None})
    assert refused.errors and "exceeds maximum operation depth" in refused.errors[0].message


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


@pytest.mark.parametrize("query", blocks("ui.md", "graphql"), ids=["type", "recommend", "figures"])
def test_the_documented_queries_answer_as_written(client, catalogued, query):
    answer = ask(client, query)

    assert "errors" not in answer, answer["errors"]
    (data,) = answer["data"].values()
    assert data and all(value not in (None, [], {}) for value in data.values() if not isinstance(value, bool)), data


def test_contributed_figures_only_when_asked_each_saying_its_source_as_the_rest_api(client):
    query = """query($contributed: Boolean!) {
      figures(benchmark: "hpl", first: 100, contributed: $contributed) { nodes { instanceType source contributors } }
      instanceType(name: "r7i.large", contributed: $contributed) {
        figures { source contributors } samples(first: 1) { nodes { source contributor } } runs { source } }
      recommend(minTriad: 1, contributed: $contributed) { onDemand { instanceType source contributors } } }"""
    rest = client.get("/api/summary", params={"benchmark": "hpl", "contributed": "true"}).json()

    mine = ask(client, query, contributed=False)["data"]
    both = ask(client, query, contributed=True)["data"]

    assert {n["source"] for n in mine["figures"]["nodes"]} == {"project"}
    assert mine["instanceType"] == {"figures": [], "samples": {"nodes": []}, "runs": []}  # the project never ran it
    assert sorted((n["instanceType"], n["source"], n["contributors"]) for n in both["figures"]["nodes"]) == sorted(
        (r["instance_type"], r["source"], r["contributors"]) for r in rest)
    r7i = both["instanceType"]
    assert {f["source"] for f in r7i["figures"]} == {r["source"] for r in r7i["runs"]} == {"contributed"}
    assert r7i["samples"]["nodes"] == [{"source": "contributed", "contributor": "erin"}]
    assert ("r7i.large", "contributed", "erin") in {(c["instanceType"], c["source"], c["contributors"])
                                                   for c in both["recommend"]["onDemand"]}
