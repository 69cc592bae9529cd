"""Storage layout, quarantine, merging and path safety, on a file:// results_uri."""

from __future__ import annotations

import json

import pytest

from instance_benchmarks.results import (
    CONTRIBUTED_TREE,
    ResultStore,
    host_key,
    host_label,
    merge_documents,
    safe_segment,
    validation_reasons,
)
from tests.conftest import FIXTURES
from tests.fakes.documents import variant

VALID = FIXTURES / "documents" / "valid" / "local-amd-epyc-quick.json"
RUN_ID = json.loads(VALID.read_text())["provenance"]["run_id"]


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path.as_uri())


def test_valid_document_lands_in_the_partitioned_layout(store, tmp_path):
    doc = json.loads(VALID.read_text())

    outcome = store.store(doc, [], run_id=RUN_ID, instance_type="local")

    assert outcome["status"] == "stored"
    expected = (tmp_path / "results/v1/region=local/family=amd/instance_type=local"
                / f"date={doc['started_at'][:10]}" / f"{safe_segment(RUN_ID)}.json")
    assert json.loads(expected.read_text()) == doc
    assert [uri for uri, _ in store.stored_documents()] == [outcome["uri"]]


def test_two_hosts_of_one_type_in_one_run_keep_a_document_a_quarantine_and_a_skip_each(store):
    """instances_per_type=2: the keys take the host (`<type>_host2`); the first host keeps the plain keys."""
    first, second = json.loads(VALID.read_text()), json.loads(VALID.read_text())
    second["document_id"] = "0" * 8 + first["document_id"][8:]
    second["provenance"] = {**second["provenance"], "replica": 2, "replicas": 2}

    stored = [store.store(doc, [], run_id=RUN_ID, instance_type="local", replica=doc["provenance"].get("replica", 1))
              for doc in (first, second)]
    quarantined = [store.store(None, ["no document"], run_id=RUN_ID, instance_type="m7i.large", replica=k)
                   for k in (1, 2)]
    for k in (1, 2):
        store.record_skip(run_id=RUN_ID, instance_type="c7i.large", stage="provision", reason="no capacity",
                          replica=k)

    assert stored[1]["uri"].endswith(f"{safe_segment(RUN_ID)}_host2.json") and len(store.stored_documents()) == 2
    assert [(q["instance_type"], q["replica"]) for q in store.quarantined(RUN_ID)] == [
        ("m7i.large", 1), ("m7i.large", 2)]
    assert quarantined[1]["uri"].endswith("/m7i.large_host2")
    assert [(s["instance_type"], s["replica"]) for s in store.skipped(RUN_ID)] == [("c7i.large", 1), ("c7i.large", 2)]
    assert host_key("m7i.large", 1) == "m7i.large" and host_key("m7i.large", 3) == "m7i.large_host3"


def test_storing_twice_overwrites_instead_of_duplicating(store):
    doc = json.loads(VALID.read_text())

    store.store(doc, [], run_id=RUN_ID, instance_type="local")
    store.store(doc, [], run_id=RUN_ID, instance_type="local")

    assert len(store.stored_documents()) == 1


def test_a_group_re_measured_after_midnight_replaces_its_document_not_adds_one(store):
    """Issue 17 item 10: the date partition came from started_at, so a clear across midnight stored two."""
    from instance_benchmarks import analysis

    before = json.loads(VALID.read_text())
    before["provenance"]["run_date"] = "2026-11-29"
    before["started_at"] = "2026-11-29T23:50:00+00:00"
    after = json.loads(VALID.read_text())
    after["provenance"]["run_date"] = "2026-11-29"
    after["started_at"] = "2026-11-30T00:20:00+00:00"  # cleared, re-measured after midnight

    store.store(before, [], run_id=RUN_ID, instance_type="local")
    outcome = store.store(after, [], run_id=RUN_ID, instance_type="local")

    stored = store.stored_documents()
    assert [uri for uri, _ in stored] == [outcome["uri"]] and "date=2026-11-29" in outcome["uri"]
    assert stored[0][1]["started_at"] == after["started_at"]
    rows = analysis.rows_frame([doc for _, doc in stored])
    assert len(rows) == len(analysis.document_rows(after))  # no sample twice in the dataset


def test_invalid_document_is_quarantined_with_reasons(store, tmp_path):
    doc = json.loads((FIXTURES / "documents/invalid/hpl-residual-failed.json").read_text())
    reasons = validation_reasons(doc)

    outcome = store.store(doc, reasons, run_id=RUN_ID, instance_type="local")

    assert outcome["status"] == "quarantined"
    directory = tmp_path / "quarantine" / safe_segment(RUN_ID) / "local"
    assert json.loads((directory / "result.json").read_text()) == doc
    assert json.loads((directory / "reason.json").read_text())["reasons"] == reasons
    assert store.stored_documents() == []
    assert store.quarantined(RUN_ID)[0]["reasons"] == reasons


def test_missing_document_is_quarantined_with_only_the_reason(store, tmp_path):
    store.store(None, ["stream: benchrun wrote no document (exit -9)"], run_id=RUN_ID, instance_type="m7i.large")

    directory = tmp_path / "quarantine" / safe_segment(RUN_ID) / "m7i.large"
    assert not (directory / "result.json").exists()
    assert "exit -9" in (directory / "reason.json").read_text()


def test_merge_keeps_both_benchmarks_and_every_command():
    doc = json.loads(VALID.read_text())
    stream_part = {**doc, "hpl": None, "runner": {**doc["runner"], "commands": [["benchrun", "stream"]]},
                   "run_rules": [r for r in doc["run_rules"] if r["rule"].startswith("stream")]}
    hpl_part = {**doc, "stream": None, "runner": {**doc["runner"], "commands": [["benchrun", "hpl"]]},
                "run_rules": [r for r in doc["run_rules"] if r["rule"].startswith("hpl")]}

    merged = merge_documents([stream_part, hpl_part])

    assert merged["stream"] == doc["stream"] and merged["hpl"] == doc["hpl"]
    assert merged["runner"]["commands"] == [["benchrun", "stream"], ["benchrun", "hpl"]]
    assert {r["rule"] for r in merged["run_rules"]} == {r["rule"] for r in doc["run_rules"]}


def test_merge_refuses_documents_from_two_hosts():
    doc = json.loads(VALID.read_text())
    other = {**doc, "host": {**doc["host"], "hostname": "elsewhere"}}

    with pytest.raises(ValueError, match="different hosts"):
        merge_documents([doc, other])


@pytest.mark.parametrize(("text", "segment"), [
    ("manual__2026-11-28T20:08:36+00:00", "manual__2026-11-28T20_08_36_00_00"),
    ("m7i.large", "m7i.large"),
    ("../../etc", "etc"),
])
def test_safe_segment(text, segment):
    assert safe_segment(text) == segment
    assert "/" not in safe_segment(text)


def test_a_test_profile_document_is_quarantined_where_the_deployment_does_not_allow_the_profile():
    from tests.fakes.documents import test_profile_document

    reasons = validation_reasons(test_profile_document())

    assert reasons[0].startswith("profile test: a test-only run")
    assert "INSTANCE_BENCHMARKS_ALLOW_TEST_PROFILE" in reasons[0]
    assert any(r.startswith("run rule stream.array_size_at_least_4x_llc failed: test profile") for r in reasons)


def test_where_the_test_profile_is_allowed_only_its_small_arrays_are_waived():
    from tests.fakes.documents import test_profile_document

    assert validation_reasons(test_profile_document(), test_profile_allowed=True) == []
    doc = test_profile_document()
    doc["run_rules"].append({"rule": "hpl.residual_passed", "passed": False, "detail": "a solve FAILED"})

    assert validation_reasons(doc, test_profile_allowed=True) == ["run rule hpl.residual_passed failed: a solve FAILED"]


def test_a_rule_sized_document_is_not_taken_for_a_test_profile_one():
    from instance_benchmarks.results import is_test_profile
    from tests.fakes.documents import test_profile_document

    assert not is_test_profile(json.loads(VALID.read_text()))
    assert is_test_profile(test_profile_document())
    relabelled = test_profile_document()  # whichever part says so is enough: the runner's flag or the plan
    relabelled["provenance"]["plan"]["profile"] = "quick"
    assert is_test_profile(relabelled)


def test_a_host_is_named_by_its_type_and_replica_from_any_stage_input():
    """The grid's name for a mapped host (map_index_template), from a plan, a state or a task's arguments."""
    plan = {"instance_type": "m7i.large", "family": "intel", "spec": {"vcpus": 2}}

    assert host_label(plan) == "m7i.large #1"
    assert host_label({"plan": {**plan, "replica": 2}, "handle": {"host_id": "i-1"}}) == "m7i.large #2"
    assert host_label({"validated": {"status": "stored", "plan": plan}}) == "m7i.large #1"  # op_kwargs
    assert host_label({"state": "not a dict"}) == host_label(None) == ""


def test_a_document_whose_recorded_hpl_bindings_share_a_core_is_refused():
    """Whatever its own rule says (an older or altered runner): two ranks on the hyperthreads of one core of a
    two-threads-per-core host measured half of it."""
    doc = json.loads(VALID.read_text())
    doc["system"]["cores"] = [[0, 2], [1, 3]]
    doc["hpl"].update(mpi_ranks=2, threads_per_rank=1)
    doc["hpl"]["runs"][0]["binding"] = ["0", "2"]

    assert validation_reasons(doc) == ["hpl solve 1: ranks 0 and 1 share physical core [0, 2]"]
    doc["hpl"]["runs"][0]["binding"] = ["0", "1"]
    assert validation_reasons(doc) == []


def test_an_accepted_contribution_has_a_tree_of_its_own_never_the_project_s(store):
    from tests.fakes.imds import Signer, accept_contribution

    project = variant(instance_type="m7i.large", run_id="run-1")
    store.store(project, [], run_id="run-1", instance_type="m7i.large")
    contributed = accept_contribution(store, Signer.make(), instance_type="m7i.large", contributor="erin",
                                      instance_id="i-000000000000000a1")

    (kept,) = store.stored_documents(CONTRIBUTED_TREE)
    assert kept[0].split("/contributed/v1/")[1].endswith(f"/{contributed['provenance']['submission_id']}.json")
    assert [doc["document_id"] for _, doc in store.stored_documents()] == [project["document_id"]]
    with pytest.raises(ValueError, match="source=contributed"):
        store.store_contributed(project)  # a project document is never stored as contributed
    with pytest.raises(ValueError, match="a tree is"):
        store.stored_documents("../results")
