"""Submitting a contributed result (issue 32 items 2 and 7): taken in within limits, its status readable by its
contributor only, and every malicious shape refused with what to fix, through the /benchmarks app."""

from __future__ import annotations

import json

import pytest

from instance_benchmarks import rate_limits, submissions
from instance_benchmarks.submissions import Submissions
from tests.fakes.imds import Signer, contributed_document


@pytest.fixture(scope="module")
def contributed():
    """A result document as `benchrun all --contribute` writes it (its identity signed by a test certificate)."""
    return json.dumps(contributed_document(Signer.make())).encode()


def submit(client, body: bytes, user: str = "contributor"):
    return client.post("/api/submissions", content=body,
                       headers={"Content-Type": "application/json", "X-Test-User": user})


def test_a_submission_is_taken_in_and_its_contributor_reads_its_status_back(client, store, contributed):
    answer = submit(client, contributed)

    assert answer.status_code == 202, answer.text
    taken = answer.json()
    assert taken["status"] == "received" and submissions.SUBMISSION_ID.fullmatch(taken["id"])
    status = client.get(f"/{taken['status_url']}", headers={"X-Test-User": "contributor"})
    assert status.status_code == 200 and status.json()["status"] == "received"
    stored = store.root / "submissions" / "incoming" / f"{taken['id']}.json"
    assert stored.read_bytes() == contributed  # as received, byte for byte


def test_another_user_cannot_read_someone_s_submission(client, contributed):
    taken = submit(client, contributed, user="contributor").json()

    other = client.get(f"/api/submissions/{taken['id']}", headers={"X-Test-User": "someone-else"})

    assert other.status_code == 404


@pytest.mark.parametrize("submission_id", ["../../dataset/v1/current", "..%2F..%2Fstatus", "A" * 32,
                                           "0" * 31, "0" * 33, "%00"])
def test_an_id_is_never_a_path(client, submission_id):
    assert client.get(f"/api/submissions/{submission_id}").status_code == 404


@pytest.mark.parametrize(("body", "status", "says"), [
    (b"not json", 422, "JSON document"),
    (b"\xff\xfe", 422, "UTF-8"),
    (b"[1, 2, 3]", 422, "one result document"),
    (json.dumps({"stream": {}}).encode(), 422, "benchrun all --contribute"),
    (b"[" * 10_000 + b"]" * 10_000, 422, "nests at most 32"),
    (b'{"a": ' * 40 + b"1" + b"}" * 40, 422, "nests at most 32"),
    (b"x" * (submissions.MAX_BYTES + 1), 413, "at most 4 MiB"),
])
def test_a_malformed_or_malicious_submission_is_refused_saying_what_to_fix(client, store, body, status, says):
    before = len(list((store.root / "submissions" / "incoming").glob("*.json"))) if \
        (store.root / "submissions" / "incoming").exists() else 0

    answer = submit(client, body)

    assert answer.status_code == status and says in answer.json()["detail"], answer.text
    after = len(list((store.root / "submissions" / "incoming").glob("*.json"))) if \
        (store.root / "submissions" / "incoming").exists() else 0
    assert after == before  # nothing refused is kept


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"name": "[[[[{{{{" * 100, "quoted": 'a "[" b \\" ['})

    assert submissions.nesting_depth(text) == 1


def test_names_that_look_like_paths_or_scripts_are_stored_as_data_never_used(client, store, contributed):
    doc = json.loads(contributed)
    doc["host"]["hostname"] = "../../../dataset/v1/current"
    doc["document_id"] = "<script>alert(1)</script>"
    taken = submit(client, json.dumps(doc).encode()).json()

    assert sorted(p.name for p in (store.root / "submissions" / "incoming").glob("*.json")
                  if p.stem == taken["id"]) == [f"{taken['id']}.json"]
    assert not (store.root / "dataset" / "v1" / "current").is_dir()


def test_submissions_are_limited_per_user_apart_from_reads(client, contributed, monkeypatch):
    monkeypatch.setenv(rate_limits.SUBMISSIONS, "2/hour")
    rate_limits.current.cache_clear()

    codes = [submit(client, contributed, user="eager").status_code for _ in range(3)]
    other = submit(client, contributed, user="patient")

    assert codes == [202, 202, 429] and other.status_code == 202
    assert client.get("/api/summary", headers={"X-Test-User": "eager"}).status_code == 200  # reads still answer


def test_a_status_names_its_steps_and_refuses_others(tmp_path, contributed):
    from instance_benchmarks.results import ResultStore

    store = Submissions(ResultStore(tmp_path.as_uri()))
    taken = store.receive(contributed, submitter="contributor")

    assert store.update(taken["id"], status="checking")["status"] == "checking"
    with pytest.raises(ValueError, match="one of"):
        store.update(taken["id"], status="merged-anyway")


@pytest.mark.usefixtures("airflow_db")
def test_a_submission_emits_the_asset_event_that_schedules_contributions(client, contributed, tmp_path,
                                                                          monkeypatch):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from tests.conftest import load_dag

    monkeypatch.setenv("INSTANCE_BENCHMARKS_RESULTS_URI", (tmp_path / "results").as_uri())
    load_dag("contributions").test()  # registers the DAG and its Asset, as the dag-processor does (nothing to check)

    taken = submit(client, contributed).json()

    with create_session() as session:
        extras = session.scalars(select(AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                                 .where(AssetModel.name == "instance_benchmarks_submissions")).all()
    assert {"submission_id": taken["id"], "results_uri": (deployment_uri := extras[-1]["results_uri"]),
            "aws_conn_id": extras[-1]["aws_conn_id"]} in extras
    assert deployment_uri.endswith("/results")


def test_bulk_uploads_are_taken_in_as_their_folder_s_contributor_or_refused_with_why_and_each_only_once(
        tmp_path, contributed):
    from instance_benchmarks.results import ResultStore

    mine = Submissions(ResultStore(tmp_path.as_uri()))
    incoming = tmp_path / "submissions" / "incoming"
    for name, body in {"erin/run-1.json": contributed, "erin/nested/run-2.json": contributed,
                       "erin/broken.json": b"{not json", "bob/huge.json": b" " * (submissions.MAX_BYTES + 1),
                       "..bad name/x.json": contributed}.items():
        (incoming / name).parent.mkdir(parents=True, exist_ok=True)
        (incoming / name).write_bytes(body)
    api_submission = mine.receive(contributed, submitter="carol")  # incoming/<id>.json: the API's, not an upload

    taken = {status["upload"]: status for status in mine.adopt_uploads()}

    assert {name: (s["submitter"], s["status"]) for name, s in taken.items()} == {
        "erin/run-1.json": ("erin", "received"), "erin/run-2.json": ("erin", "received"),
        "erin/broken.json": ("erin", "rejected"), "bob/huge.json": ("bob", "rejected"),
        "..bad name/x.json": ("..bad name", "rejected")}
    assert "a submission is a JSON document" in taken["erin/broken.json"]["reasons"][0]
    assert "at most 4 MiB" in taken["bob/huge.json"]["reasons"][0]
    assert "submissions/incoming/<contributor>/" in taken["..bad name/x.json"]["reasons"][0]
    assert mine.body(taken["erin/run-1.json"]["id"]) == contributed  # stored under its new id, byte for byte
    assert sorted(p.name for p in incoming.rglob("*") if p.is_file()) == sorted(
        [f"{api_submission['id']}.json", f"{taken['erin/run-1.json']['id']}.json",
         f"{taken['erin/run-2.json']['id']}.json"])  # every upload taken in once, then deleted
    assert mine.adopt_uploads() == []
    assert [s["id"] for s in mine.of("erin")] == sorted(
        [s["id"] for s in taken.values() if s["submitter"] == "erin"],
        key=lambda i: (mine.status(i)["received_at"], i))


def test_of_two_runs_that_find_one_submission_one_checks_it(tmp_path, contributed):
    import datetime

    from instance_benchmarks.results import ResultStore

    mine = Submissions(ResultStore(tmp_path.as_uri()))
    sid = mine.receive(contributed, submitter="erin")["id"]

    assert mine.claim(sid, "run-a") and mine.claim(sid, "run-a")  # its own claim again: a retry of its check
    assert not mine.claim(sid, "run-b") and mine.received() == []
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=submissions.CLAIM_S + 1)
    assert mine.claim(sid, "run-c", now=later)  # run-a died: past its claim, a later run checks it
    mine.update(sid, status="accepted")
    assert not mine.claim(sid, "run-d", now=later)  # a verdict is never re-opened


def test_a_contributor_lists_their_own_submissions_only(client, contributed):
    taken = submit(client, contributed, user="lister").json()
    submit(client, contributed, user="someone-else")

    listed = client.get("/api/submissions", headers={"X-Test-User": "lister"}).json()

    assert [s["id"] for s in listed] == [taken["id"]] and listed[0]["status"] == "received"
