"""The API for programs through a real `airflow api-server` (issue 31): four signed-in users with their own tokens,
each user's rate limit, GraphQL's documented queries, and the generated client answering compare and recommend.

The server serves tests/fakes/served.py's dataset; each test signs in as its own user so that one test's requests
do not count against another's limit.
"""

from __future__ import annotations

import contextlib
import io
import json

import httpx
import pytest

from tests.docs_examples import REPO, blocks

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("airflow_db")]

USERS = ("alice", "bob", "carol", "dave", "erin")
LIMIT = 8  # a minute, per user: the server's INSTANCE_BENCHMARKS_API_RATE_LIMIT


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The api-server's base URL and a token per user (POST /auth/token, as a program signs in)."""
    from tests.fakes.served import served_store
    from tests.ui.browser import api_server

    root = tmp_path_factory.mktemp("api-server")
    served_store(root / "results")
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps({user: f"{user}-password" for user in USERS}))
    env = {"INSTANCE_BENCHMARKS_RESULTS_URI": (root / "results").as_uri(),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{user}:viewer" for user in USERS),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
           "INSTANCE_BENCHMARKS_API_RATE_LIMIT": f"{LIMIT}/minute"}
    with api_server(env, root / "api-server.log", reserialize=False) as base:
        tokens = {user: httpx.post(f"{base}/auth/token", json={"username": user, "password": f"{user}-password"},
                                   timeout=30).json()["access_token"] for user in USERS}
        yield base, tokens


def as_user(server, user: str) -> httpx.Client:
    base, tokens = server
    return httpx.Client(base_url=f"{base}/benchmarks", headers={"Authorization": f"Bearer {tokens[user]}"},
                        timeout=60)


def test_one_user_s_burst_is_answered_429_with_retry_after_and_does_not_limit_another(server):
    with as_user(server, "alice") as alice, as_user(server, "bob") as bob:
        burst = [alice.get("/api/summary", params={"benchmark": "hpl"}) for _ in range(LIMIT + 2)]
        graphql = alice.post("/graphql", json={"query": "{ figures(first: 1) { totalCount } }"})
        other = bob.get("/api/summary", params={"benchmark": "hpl"})
        page = alice.get("/")

    assert [r.status_code for r in burst] == [200] * LIMIT + [429, 429]
    assert [int(r.headers["RateLimit-Remaining"]) for r in burst[:LIMIT]] == list(range(LIMIT - 1, -1, -1))
    assert 1 <= int(burst[-1].headers["Retry-After"]) <= 60
    assert f"{LIMIT} per 1 minute" in burst[-1].json()["detail"]
    assert graphql.status_code == 429  # GraphQL counts against the same limit
    assert other.status_code == 200 and other.headers["RateLimit-Remaining"] == str(LIMIT - 1)
    assert page.status_code == 200 and "<html" in page.text.lower()  # the pages are never limited


def test_an_anonymous_caller_is_refused_before_any_limit(server):
    base, _ = server

    assert httpx.get(f"{base}/benchmarks/api/summary", timeout=30).status_code == 401
    assert httpx.post(f"{base}/benchmarks/graphql", json={"query": "{ figures { totalCount } }"},
                      timeout=30).status_code == 401


def test_the_documented_graphql_queries_answer_as_written_and_as_in_process(server, client):
    answers = []
    with as_user(server, "carol") as carol:
        for query in blocks("ui.md", "graphql"):
            response = carol.post("/graphql", json={"query": query})
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            answers.append(response.json()["data"])

    # the served dataset is the in-process tests' (served.py), without the catalog: ageDays moves with the clock
    in_process = [client.post("/graphql", json={"query": q}).json()["data"] for q in blocks("ui.md", "graphql")]
    for served, local in zip(answers, in_process, strict=True):
        assert _without_age(served) == _without_age(local)


def _without_age(value):
    if isinstance(value, dict):
        return {k: _without_age(v) for k, v in value.items() if k != "ageDays"}
    return [_without_age(v) for v in value] if isinstance(value, list) else value


def test_the_served_schema_is_the_one_the_client_was_generated_from(server):
    with as_user(server, "dave") as dave:
        served = dave.get("/openapi.json").json()

    assert served == json.loads((REPO / "include" / "clients" / "python" / "openapi.json").read_text())


def test_the_generated_client_answers_compare_and_recommend_as_the_rest_api_does(server):
    from instance_benchmarks_client import AuthenticatedClient
    from instance_benchmarks_client.api.default import compare, recommend
    from instance_benchmarks_client.models import Refusal

    base, tokens = server
    with AuthenticatedClient(base_url=f"{base}/benchmarks", token=tokens["dave"]) as client, \
            as_user(server, "dave") as dave:
        recommended = recommend.sync(client=client, min_triad=60, limit=3)
        compared = compare.sync(client=client, types="m7i.large,m7g.large")
        refused = recommend.sync_detailed(client=client)  # no need stated: the API's 422, as the client reads it
        rest = dave.get("/api/recommend", params={"min_triad": 60, "limit": 3}).json()

    assert recommended == rest and [c["instance_type"] for c in recommended["on_demand"]] == [
        "m7g.large", "m7i.large", "c7a.large"]
    assert [m["measure"] for m in compared["measures"]] and compared["not_measured"] == []
    assert refused.status_code == 422 and isinstance(refused.parsed, Refusal)
    assert "state a need" in refused.parsed.detail


def test_the_documented_client_example_runs_as_written(server, capsys):
    base, tokens = server
    (example,) = blocks("ui.md", "python")
    served = example.replace("http://localhost:8080", base)
    assert served != example  # the one change: where the api-server listens

    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(served, "docs/ui.md", "exec"), {"TOKEN": tokens["bob"]})  # noqa: S102 - the docs' own code

    measure = eval(printed.getvalue())  # noqa: S307 - what the example printed: a dict
    assert measure["measure"] and [e["instance_type"] for e in measure["entries"]] == ["m7g.large", "m7i.large"]


def test_a_contributor_submits_with_the_client_and_only_they_read_its_status(server):
    """Issue 32 item 2 through the live server: the generated client posts a contributed document, and reads back
    its status; another user cannot."""
    from instance_benchmarks_client import AuthenticatedClient
    from instance_benchmarks_client.api.default import submission_status, submit
    from instance_benchmarks_client.models import SubmitContributedResult

    from tests.fakes.imds import Signer, contributed_document

    base, tokens = server
    document = contributed_document(Signer.make())
    with AuthenticatedClient(base_url=f"{base}/benchmarks", token=tokens["erin"]) as erin, \
            AuthenticatedClient(base_url=f"{base}/benchmarks", token=tokens["bob"]) as bob:
        taken = submit.sync(client=erin, body=SubmitContributedResult.from_dict(document))
        status = submission_status.sync(client=erin, submission_id=taken["id"])
        other = submission_status.sync_detailed(client=bob, submission_id=taken["id"])

    assert taken["status"] == "received" and status["id"] == taken["id"] and status["status"] == "received"
    assert other.status_code == 404
