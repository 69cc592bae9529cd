"""The checks of a contributed result (issue 32 item 3): each a verdict with its reason; blocking ones reject."""

from __future__ import annotations

import copy

import pytest

from instance_benchmarks import contribution_checks
from tests.fakes.imds import Signer, contributed_document

DIGEST = "sha256:" + "1" * 64
XEON = "Intel(R) Xeon(R) Platinum 8488C"  # Sapphire Rapids: in the peak table


@pytest.fixture(scope="module")
def ec2():
    return Signer.make()


def run_checks(ec2, doc, *, seen=frozenset(), current=None, published=(DIGEST,)):
    return contribution_checks.check(doc, submission_id="a" * 32, contributor="erin", certificates={
        "us-east-1": ec2.pem}, published=set(published), seen=set(seen), current=current)


def failed(verdicts):
    return {v.check: v.reason for v in verdicts if not v.passed}


def test_a_sound_contribution_passes_every_check_and_gets_its_provenance_from_what_ec2_signed(ec2):
    doc = contributed_document(ec2, digest=DIGEST, cpu_model=XEON, counted_mhz=3000)

    verdicts, stored = run_checks(ec2, doc)

    assert failed(verdicts) == {}
    assert [v.check for v in verdicts][:6] == ["schema", "signature", "identity agrees", "published image",
                                               "run rules", "not a duplicate"]
    assert stored["provenance"]["source"] == "contributed" and stored["contribution"] == doc["contribution"]
    assert (stored["provenance"]["instance_type"], stored["provenance"]["contributor"],
            stored["provenance"]["run_id"]) == ("m7i.large", "erin", "contributed__" + "a" * 32)


@pytest.mark.parametrize(("change", "check", "says"), [
    (lambda d: d.pop("system"), "schema", "system"),
    (lambda d: d["contribution"].update(identity_document=d["contribution"]["identity_document"].replace(
        "m7i.large", "m7i.48xlarge")), "signature", "another document"),
    (lambda d: d["host"].update(instance_type="c7i.48xlarge"), "identity agrees", "c7i.48xlarge"),
    (lambda d: d["host"].update(container_digest="sha256:" + "9" * 64), "published image", "not one"),
    (lambda d: d["run_rules"].append({"rule": "host.native", "passed": False, "detail": "qemu"}), "run rules",
     "host.native"),
])
def test_each_blocking_check_rejects_naming_why(ec2, change, check, says):
    doc = contributed_document(ec2, digest=DIGEST)
    change(doc)

    verdicts, stored = run_checks(ec2, doc)

    assert stored is None and check in failed(verdicts) and says in failed(verdicts)[check]


def test_a_second_submission_of_the_same_instance_and_start_is_a_replay(ec2):
    doc = contributed_document(ec2, digest=DIGEST)

    verdicts, stored = run_checks(ec2, doc, seen={("i-0123456789abcdef0", doc["started_at"])})

    assert stored is None and "a replay" in failed(verdicts)["not a duplicate"]


def test_a_figure_beyond_the_physical_peak_is_rejected(ec2):
    doc = contributed_document(ec2, digest=DIGEST, cpu_model=XEON, counted_mhz=3000, scale=40.0)

    verdicts, stored = run_checks(ec2, doc)

    assert stored is None
    assert "beyond what the hardware can do" in failed(verdicts)["bound: hpl gflops"]
    assert "beyond what the hardware can do" in failed(verdicts)["bound: stream triad"]


def test_an_outlier_against_the_type_s_figures_is_flagged_for_the_reviewer_never_rejected(ec2):
    from instance_benchmarks.analysis import headline, rows_frame, summarize

    doc = contributed_document(ec2, digest=DIGEST, cpu_model=XEON, counted_mhz=3000)
    _, stored = run_checks(ec2, doc)
    measured = headline(summarize(rows_frame([copy.deepcopy(stored)])))
    slower = measured.assign(mean=measured["mean"] * 0.5)  # the project measured half of what is claimed

    verdicts, kept = run_checks(ec2, doc, current=slower)
    flags = {v.check: v for v in verdicts if not v.blocking}

    assert kept is not None  # flags never reject
    assert not flags["measured: stream triad"].passed and "an outlier" in flags["measured: stream triad"].reason
    close, _ = run_checks(ec2, doc, current=measured)
    assert all(v.passed for v in close if not v.blocking)
