"""The image build driver against a fake docker client (no engine here) and moto's ECR."""

from __future__ import annotations

import pytest

from instance_benchmarks import images

DIGEST = "sha256:" + "ab" * 32
PUSHED = "sha256:" + "cd" * 32


class FakeImages:
    def __init__(self, push_events):
        self.calls: list[tuple[str, dict]] = []
        self.push_events = push_events

    def get_registry_data(self, reference):
        self.calls.append(("get_registry_data", {"reference": reference}))
        return type("RegistryData", (), {"id": DIGEST})()

    def build(self, **kwargs):
        self.calls.append(("build", kwargs))
        return type("Image", (), {"id": "sha256:" + "ee" * 32})(), iter([{"stream": "Step 1/9 : FROM x\n"}])

    def push(self, repository, **kwargs):
        self.calls.append(("push", {"repository": repository, **kwargs}))
        return iter(self.push_events)


class FakeClient:
    def __init__(self, push_events=()):
        self.images = FakeImages(list(push_events))


def test_every_variant_has_a_linted_dockerfile():
    for variant in images.VARIANTS.values():
        assert (images.CONTEXT / variant.dockerfile).is_file()
    assert set(images.VARIANT_FOR_FAMILY.values()) <= set(images.VARIANTS)


def test_build_pins_bases_by_digest_and_tags_with_the_runner_version():
    client = FakeClient()
    builder = images.ImageBuilder(client, repository="localhost:5000/bench", version="0.1.0")

    built = builder.build(images.VARIANTS["graviton"])

    (kind, kwargs) = client.images.calls[-1]
    assert kind == "build"
    assert kwargs["platform"] == "linux/arm64" and kwargs["dockerfile"] == "graviton.Dockerfile"
    assert kwargs["tag"] == "localhost:5000/bench:graviton-0.1.0"
    assert kwargs["buildargs"] == {"RUNNER_VERSION": "0.1.0", "BASE_IMAGE": "debian", "BASE_DIGEST": DIGEST}
    assert built.base_digests == {"BASE": DIGEST} and built.build_log_tail == ["Step 1/9 : FROM x"]


def test_intel_pins_its_build_and_runtime_images():
    client = FakeClient()

    images.ImageBuilder(client, repository="r/x", version="1").build(images.VARIANTS["intel"])

    args = client.images.calls[-1][1]["buildargs"]
    assert args["BUILD_IMAGE"] == "intel/oneapi-hpckit" and args["RUNTIME_IMAGE"] == "intel/oneapi-runtime"
    assert args["BUILD_DIGEST"] == args["RUNTIME_DIGEST"] == DIGEST


def test_push_reports_the_pushed_digest():
    events = [{"status": "Pushing"}, {"status": "graviton-0.1.0: digest"},
              {"aux": {"Tag": "graviton-0.1.0", "Digest": PUSHED, "Size": 1}}]
    client = FakeClient(events)
    builder = images.ImageBuilder(client, repository="r/x", version="0.1.0", auth_config={"username": "AWS"})

    built = builder.push(builder.build(images.VARIANTS["generic"]))

    assert built.pushed_digest == PUSHED and built.reference == f"r/x@{PUSHED}"
    push = client.images.calls[-1][1]
    assert push["tag"] == "generic-0.1.0" and push["auth_config"] == {"username": "AWS"}


def test_push_error_is_raised_with_the_daemon_message():
    client = FakeClient([{"error": "denied: not authorized to perform ecr:InitiateLayerUpload"}])
    builder = images.ImageBuilder(client, repository="r/x", version="1")

    with pytest.raises(images.ImageBuildError, match="not authorized"):
        builder.push(builder.build(images.VARIANTS["amd"]))


@pytest.mark.parametrize(("reference", "repository"), [
    ("debian:bookworm-slim", "debian"), ("localhost:5000/x:1.0", "localhost:5000/x"),
    ("intel/oneapi-hpckit@sha256:" + "0" * 64, "intel/oneapi-hpckit"), ("ubuntu", "ubuntu"),
])
def test_repository_of(reference, repository):
    assert images.repository_of(reference) == repository


def test_non_ecr_registry_needs_no_aws():
    assert images.ecr_auth("localhost:5000/bench", "aws_default") is None


def test_ecr_repository_is_created_and_credentials_returned(moto_env):
    repository = "123456789012.dkr.ecr.us-east-1.amazonaws.com/instance-benchmarks"

    auth = images.ecr_auth(repository, aws_conn_id=None)

    assert auth["username"] == "AWS" and auth["password"]
    assert auth["serveraddress"].startswith("https://")
    import boto3

    repos = boto3.client("ecr", region_name="us-east-1").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repos] == ["instance-benchmarks"]
