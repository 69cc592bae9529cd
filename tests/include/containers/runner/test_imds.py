"""`benchrun all --contribute` (issue 32 item 1): the identity EC2 signs, read from IMDSv2 and carried in the
document, which the project then verifies; a fake IMDS serves a document signed by a certificate made here."""

from __future__ import annotations

import json
import os

import pytest

from benchmark_runner import imds
from instance_benchmarks import identity
from instance_benchmarks.results import schema_errors
from tests.fakes.imds import Signer, fake_imds, identity_document
from tests.include.containers.runner.test_cli import benchrun


@pytest.fixture(scope="module")
def ec2():
    return Signer.make()


def test_the_identity_is_read_with_an_imdsv2_token(ec2, monkeypatch):
    document = identity_document()
    with fake_imds(document, ec2.rsa2048(document)) as endpoint:
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)
        read = imds.read_identity()

    assert read["identity_document"] == document
    assert identity.verify(read["identity_document"], read["rsa2048"], {"us-east-1": ec2.pem}).instance_id == \
        "i-0123456789abcdef0"


def test_off_ec2_contribute_stops_before_the_benchmarks_naming_why(monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")  # discard: nothing listens

    proc = benchrun("all", "--profile", "test", "--contribute", timeout=60)

    assert proc.returncode == 2 and proc.stdout == ""
    assert "--contribute runs on an EC2 instance" in proc.stderr


def test_a_contributed_run_carries_the_identity_the_project_verifies_and_agrees_with(ec2, tmp_path):
    """The whole contributor's command at the test profile's sizes (real STREAM and HPL, small)."""
    document = identity_document()
    out = tmp_path / "result.json"
    with fake_imds(document, ec2.rsa2048(document)) as endpoint:
        env = {**os.environ, "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint}
        proc = benchrun("all", "--profile", "test", "--contribute", "--out", str(out), env=env)

    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert schema_errors(result) == []
    contribution = result["contribution"]
    signed = identity.verify(contribution["identity_document"], contribution["rsa2048"], {"us-east-1": ec2.pem})
    assert identity.disagreements(signed, result, fetched_at=contribution["fetched_at"]) == []
