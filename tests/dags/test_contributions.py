"""contributions: each submission checked, reviewed by a person (Accept, Reject with a reason, or nobody in time),
and the verdict kept in its status (issue 32 items 3 and 4). dag.test() runs the DAG; the reviews are answered from
another thread as the REST API's Required Actions endpoint answers them (tests/hitl.py)."""

from __future__ import annotations

import contextlib
import json
import threading

import pytest

from instance_benchmarks.results import CONTRIBUTED_TREE, ResultStore
from instance_benchmarks.submissions import Submissions
from tests.conftest import load_dag
from tests.fakes.imds import Signer, contributed_document
from tests.hitl import answer_waiting

pytestmark = pytest.mark.usefixtures("airflow_db")

DIGEST = "sha256:" + "2" * 64


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """A deployment that trusts a test certificate for us-east-1 and published one runner image digest."""
    ec2 = Signer.make()
    certificates = tmp_path / "certificates"
    certificates.mkdir()
    (certificates / "us-east-1.pem").write_bytes(ec2.pem)
    monkeypatch.setenv("INSTANCE_BENCHMARKS_IDENTITY_CERTIFICATES", str(certificates))
    monkeypatch.setenv("INSTANCE_BENCHMARKS_PUBLISHED_DIGESTS", DIGEST)
    monkeypatch.setenv("INSTANCE_BENCHMARKS_RESULTS_URI", (tmp_path / "results").as_uri())
    store = ResultStore((tmp_path / "results").as_uri())
    return ec2, Submissions(store)


@contextlib.contextmanager
def reviewers(answers: dict[str, tuple[str, dict] | None]):
    """Answers each waiting review by the submission its subject names (None: nobody answers in time)."""
    done = threading.Event()

    def choose(ti):
        (submission_id,) = [s for s in answers if s in ti.hitl_detail.subject]
        return answers[submission_id]

    def answer():
        while not done.wait(0.3):
            answer_waiting("contributions", "review", choose)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def submit(submissions: Submissions, doc: dict, submitter: str = "erin") -> str:
    return submissions.receive(json.dumps(doc).encode(), submitter=submitter)["id"]


def test_each_submission_is_checked_reviewed_and_its_verdict_kept(deployment):
    ec2, submissions = deployment
    forger = Signer.make("Not EC2")
    accepted = submit(submissions, contributed_document(ec2, digest=DIGEST, instance_id="i-000000000000000a1"))
    refused = submit(submissions, contributed_document(ec2, digest=DIGEST, instance_id="i-000000000000000b2"))
    forged = submit(submissions, contributed_document(forger, digest=DIGEST, instance_id="i-000000000000000c3"))
    unanswered = submit(submissions, contributed_document(ec2, digest=DIGEST, instance_id="i-000000000000000d4"))

    with reviewers({accepted: ("Accept", {"reason": ""}), refused: ("Reject", {"reason": "HPL looks off"}),
                    unanswered: None}):
        load_dag("contributions").test()

    status = {name: submissions.status(sid) for name, sid in
              [("accepted", accepted), ("refused", refused), ("forged", forged), ("unanswered", unanswered)]}
    assert {name: s["status"] for name, s in status.items()} == {
        "accepted": "accepted", "refused": "rejected", "forged": "rejected", "unanswered": "awaiting review"}
    kept = json.loads((submissions.base / "accepted" / f"{accepted}.json").read_text())
    assert kept["provenance"] | {"source": "contributed", "contributor": "erin", "submission_id": accepted} == \
        kept["provenance"]
    assert status["accepted"]["review"]["decision"] == "Accept"
    assert status["refused"]["reasons"] == ["rejected by the reviewer: HPL looks off"]
    assert (submissions.base / "rejected" / f"{refused}.json").exists()
    assert "forged or re-signed" in status["forged"]["reasons"][0] and "review" not in status["forged"]
    assert [c["check"] for c in status["unanswered"]["checks"]][:2] == ["schema", "signature"]
    assert not (submissions.base / "accepted" / f"{unanswered}.json").exists()  # never accepted by a timeout
    # Merged with its source kept: stored as contributed (never under results/), and the results Asset emitted so
    # results_analysis puts it in the dataset's contributed tables
    store = ResultStore(submissions.base.parent.as_uri())
    (stored,) = store.stored_documents(CONTRIBUTED_TREE)
    assert stored[0] == status["accepted"]["stored_at"] and stored[1] == kept
    assert store.stored_documents() == []
    assert (store.root.as_uri(), [accepted]) in [(e["results_uri"], e.get("contributed")) for e in results_events()]


def results_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalars(select(AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                               .where(AssetModel.name == "instance_benchmarks_results")).all()


def test_a_run_that_accepts_nothing_emits_nothing_to_rebuild(deployment):
    ec2, submissions = deployment
    refused = submit(submissions, contributed_document(ec2, digest=DIGEST, instance_id="i-000000000000000b9"))
    before = results_events()

    with reviewers({refused: ("Reject", {"reason": "no"})}):
        load_dag("contributions").test()

    assert submissions.status(refused)["status"] == "rejected"
    assert results_events() == before  # merge skipped: no rebuild for nothing


def test_a_decided_submission_is_never_checked_again(deployment):
    from instance_benchmarks import contributions

    ec2, submissions = deployment
    sid = submit(submissions, contributed_document(ec2, digest=DIGEST, instance_id="i-000000000000000a7"))
    submissions.update(sid, status="accepted")
    item = {"results_uri": submissions.base.parent.as_uri(), "aws_conn_id": None, "submission_id": sid}

    assert contributions.check(item, claimant="run-2")["review"] is None
    assert submissions.status(sid)["status"] == "accepted"  # a second event for it re-opens nothing


def test_a_replayed_submission_is_refused_as_a_duplicate(deployment):
    ec2, submissions = deployment
    doc = contributed_document(ec2, digest=DIGEST, instance_id="i-000000000000000e5")
    first, again = submit(submissions, doc), submit(submissions, doc, submitter="mallory")

    with reviewers({first: ("Accept", {"reason": ""}), again: ("Accept", {"reason": ""})}):
        load_dag("contributions").test()

    assert submissions.status(first)["status"] == "accepted"
    replay = submissions.status(again)
    assert replay["status"] == "rejected" and "a replay" in " ".join(replay["reasons"])


def test_the_reviewer_reads_the_checks_with_the_contributor_s_text_escaped(deployment):
    from instance_benchmarks import contributions

    ec2, submissions = deployment
    doc = contributed_document(ec2, digest=DIGEST, instance_id="i-000000000000000f6")
    doc["host"]["container_digest"] = "<script>alert(1)</script>|x"
    sid = submit(submissions, doc)
    item = {"results_uri": submissions.base.parent.as_uri(), "aws_conn_id": None, "submission_id": sid}

    checked = contributions.check(item, claimant="run-1")

    assert checked["review"] is None  # the digest is not published: rejected before any review
    reasons = " ".join(submissions.status(sid)["reasons"])
    assert "<script>" in reasons  # kept as data in the status (JSON), and escaped where a page shows it
    assert "&lt;script&gt;" in contributions._cell(reasons) and "\\|" in contributions._cell(reasons)


def test_a_bulk_upload_is_taken_in_checked_and_reviewed_as_a_submission_of_its_folder_s_contributor(deployment):
    ec2, submissions = deployment
    upload = submissions.base / "incoming" / "erin" / "m7i.json"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text(json.dumps(contributed_document(ec2, digest=DIGEST, instance_id="i-000000000000000f7")))

    with reviewers({"erin": ("Accept", {"reason": ""})}):  # the review's subject names its contributor
        load_dag("contributions").test()  # as the hourly run, or a hand, starts it: no event

    (status,) = submissions.of("erin")
    assert status["upload"] == "erin/m7i.json" and status["status"] == "accepted", status
    assert not upload.exists()
    (stored,) = ResultStore(submissions.base.parent.as_uri()).stored_documents(CONTRIBUTED_TREE)
    assert stored[1]["provenance"]["contributor"] == "erin"


def test_an_hourly_run_with_nothing_to_check_succeeds_quietly(deployment):
    before = results_events()

    run = load_dag("contributions").test()  # the common hourly case: no event, no upload, nothing received

    assert run.state == "success", [(ti.task_id, ti.state) for ti in run.get_task_instances()]  # no on-call page
    assert results_events() == before  # and no rebuild asked for
