"""EC2's signature over a contributed result's identity (issue 32 item 3): what is EC2's is accepted, nothing else."""

from __future__ import annotations

import base64
import datetime
import json

import pytest

from instance_benchmarks import identity
from tests.fakes.imds import Signer, identity_document


@pytest.fixture(scope="module")
def ec2():
    return Signer.make()


@pytest.fixture(scope="module")
def configured(ec2):
    return {"us-east-1": ec2.pem}


def test_a_document_ec2_signed_is_its_identity(ec2, configured):
    document = identity_document(instance_type="c7g.large")

    found = identity.verify(document, ec2.rsa2048(document), configured)

    assert (found.instance_type, found.region, found.instance_id) == ("c7g.large", "us-east-1",
                                                                      "i-0123456789abcdef0")


def test_a_pem_armoured_signature_is_read_too(ec2, configured):
    document = identity_document()
    body = ec2.rsa2048(document)
    armoured = "-----BEGIN PKCS7-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64)) + \
        "\n-----END PKCS7-----\n"

    assert identity.verify(document, armoured, configured).instance_type == "m7i.large"


def test_a_tampered_document_is_refused(ec2, configured):
    document = identity_document(instance_type="m7i.large")
    signature = ec2.rsa2048(document)

    with pytest.raises(identity.Refused, match="another document"):
        identity.verify(document.replace("m7i.large", "m7i.48xlarge"), signature, configured)


def test_a_document_re_signed_by_anyone_else_is_refused(configured):
    forger = Signer.make("Not EC2")
    document = identity_document(instance_type="m7i.48xlarge")

    with pytest.raises(identity.Refused, match="forged or re-signed"):
        identity.verify(document, forger.rsa2048(document), configured)


def test_a_signature_over_another_document_is_refused(ec2, configured):
    signed = identity_document(instance_id="i-00000000000000001")
    submitted = identity_document(instance_id="i-00000000000000002")

    with pytest.raises(identity.Refused, match="another document"):
        identity.verify(submitted, ec2.rsa2048(signed), configured)


def test_a_region_without_a_configured_certificate_is_refused_naming_the_setting(ec2, configured):
    document = identity_document(region="eu-west-1")

    with pytest.raises(identity.Refused, match="eu-west-1.*INSTANCE_BENCHMARKS_IDENTITY_CERTIFICATES"):
        identity.verify(document, ec2.rsa2048(document), configured)


@pytest.mark.parametrize(("document", "signature", "reason"), [
    ("not json", "AAAA", "not JSON"),
    (json.dumps({"instanceType": "m7i.large"}), "AAAA", "no region"),
    (json.dumps({"region": "../../etc"}), "AAAA", "no region"),
    ('{"region": "us-east-1", "pad": "' + "x" * 5000 + '"}', "AAAA", "over 4096 bytes"),
    (identity_document(), "not base64 at all!", "not a PKCS7"),
    (identity_document(), base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), "not a PKCS7"),
])
def test_garbage_is_refused_with_a_reason_never_an_error(configured, document, signature, reason):
    with pytest.raises(identity.Refused, match=reason):
        identity.verify(document, signature, configured)


def test_the_result_must_agree_with_what_ec2_signed(ec2, configured):
    now = datetime.datetime.now(datetime.UTC)
    document = identity_document(pending=now - datetime.timedelta(hours=1))
    signed = identity.verify(document, ec2.rsa2048(document), configured)

    def stamp(minutes: int) -> str:
        return (now + datetime.timedelta(minutes=minutes)).isoformat()

    run = {"host": {"instance_type": "m7i.large"}, "started_at": stamp(-30), "finished_at": stamp(-5)}
    assert identity.disagreements(signed, run, fetched_at=stamp(-29)) == []

    other_type = {**run, "host": {"instance_type": "m7i.48xlarge"}}
    assert "instance_type 'm7i.48xlarge', EC2 signed 'm7i.large'" in identity.disagreements(
        signed, other_type, fetched_at=stamp(-29))[0]
    before_launch = {**run, "started_at": stamp(-120)}
    assert any("did not happen on the running instance" in d for d in identity.disagreements(
        signed, before_launch, fetched_at=stamp(-29)))
    assert any("not fetched during the run" in d for d in identity.disagreements(signed, run, fetched_at=stamp(1)))


def test_certificates_are_read_per_region_from_the_deployment_s_folder(tmp_path, ec2, monkeypatch):
    (tmp_path / "us-east-1.pem").write_bytes(ec2.pem)
    (tmp_path / "README.txt").write_text("copied from AWS's documentation")
    (tmp_path / "not-a-region.pem").write_bytes(ec2.pem)
    monkeypatch.setenv("INSTANCE_BENCHMARKS_IDENTITY_CERTIFICATES", str(tmp_path))

    assert identity.certificates() == {"us-east-1": ec2.pem}
