"""The image build driver against a fake docker client and moto's ECR (the real engine: test_images_in_engine)."""

from __future__ import annotations

import pytest

from instance_benchmarks import images

DIGEST = "sha256:" + "ab" * 32
PUSHED = "sha256:" + "cd" * 32


class FakeImages:
    def __init__(self, calls, push_events):
        self.calls = calls
        self.push_events = push_events

    def get_registry_data(self, reference):
        self.calls.append(("get_registry_data", {"reference": reference}))
        return type("RegistryData", (), {"id": DIGEST})()

    def get(self, reference):
        return type("Image", (), {"id": "sha256:" + "ee" * 32, "attrs": {"Size": 123}})()

    def push(self, repository, **kwargs):
        self.calls.append(("push", {"repository": repository, **kwargs}))
        return iter(self.push_events)


class FakeApi:
    def __init__(self, calls, build_events):
        self.calls = calls
        self.build_events = build_events

    def build(self, **kwargs):
        self.calls.append(("build", kwargs))
        return iter(self.build_events)


class FakeClient:
    def __init__(self, push_events=(), build_events=None):
        self.calls: list[tuple[str, dict]] = []
        self.images = FakeImages(self.calls, list(push_events))
        self.api = FakeApi(self.calls, build_events if build_events is not None else [
            {"stream": "Step 1/9 : FROM x\n"}, {"aux": {"ID": "sha256:" + "ee" * 32}},
            {"stream": "Successfully built eeeeeeeeeeee\n"}])


@pytest.fixture
def builder_for(tmp_path, monkeypatch):
    """An ImageBuilder on a fake client whose contexts go to tmp_path; wheels are not downloaded."""
    def fake_download(requirements, cache):
        cache.mkdir(parents=True, exist_ok=True)
        wheel = cache / "mkl-2026.2.0-py2.py3-none-manylinux_2_28_x86_64.whl"
        wheel.write_bytes(b"wheel")
        return [wheel]

    monkeypatch.setattr(images, "download_wheels", fake_download)

    def make(client, **kwargs):
        return images.ImageBuilder(client, context_root=tmp_path, **kwargs)

    return make


def test_every_variant_has_a_linted_dockerfile():
    for variant in images.VARIANTS.values():
        assert (images.CONTEXT / variant.dockerfile).is_file()
    assert set(images.VARIANT_FOR_FAMILY.values()) <= set(images.VARIANTS)


def test_build_pins_bases_by_digest_and_tags_with_the_runner_version(builder_for, tmp_path):
    client = FakeClient()
    builder = builder_for(client, repository="localhost:5000/bench", version="0.1.0")

    built = builder.build(images.VARIANTS["graviton"])

    (kind, kwargs) = client.calls[-1]
    assert kind == "build"
    assert kwargs["platform"] == "linux/arm64" and kwargs["dockerfile"] == "graviton.Dockerfile"
    assert kwargs["tag"] == "localhost:5000/bench:graviton-0.1.0"
    assert kwargs["buildargs"] == {"RUNNER_VERSION": "0.1.0", "BASE_IMAGE": "debian", "BASE_DIGEST": DIGEST}
    assert kwargs["network_mode"] == "host" and kwargs["pull"] is True
    assert kwargs["path"] == str(tmp_path / "context" / "graviton")
    assert (tmp_path / "context" / "graviton" / "graviton.Dockerfile").is_file()
    assert not list((tmp_path / "context" / "graviton").rglob("__pycache__"))
    assert built.base_digests == {"BASE": DIGEST} and built.size_bytes == 123
    assert built.build_log_tail == ["Step 1/9 : FROM x", "Successfully built eeeeeeeeeeee"]


def test_a_local_base_stands_in_for_the_public_one_as_a_build_argument(builder_for):
    client = FakeClient()
    local = "127.0.0.1:5001/debian:trixie-amd64"
    builder = builder_for(client, repository="r/x", version="1",
                          base_for={("debian:trixie-slim", "linux/amd64"): local})

    builder.build(images.VARIANTS["generic"])

    assert ("get_registry_data", {"reference": local}) in client.calls
    args = client.calls[-1][1]["buildargs"]
    assert args["BASE_IMAGE"] == "127.0.0.1:5001/debian" and args["BASE_DIGEST"] == DIGEST


def test_intel_gets_its_hash_pinned_wheels_in_its_context(builder_for, tmp_path):
    builder_for(FakeClient(), repository="r/x", version="1").build(images.VARIANTS["intel"])

    context = tmp_path / "context" / "intel"
    assert (context / "intel" / "requirements.txt").is_file()
    assert [p.name for p in (context / "intel" / "wheels").iterdir()] == [
        "mkl-2026.2.0-py2.py3-none-manylinux_2_28_x86_64.whl"]
    pinned = [line for line in (context / "intel" / "requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")]
    assert pinned and all("--hash=sha256:" in line and "==" in line for line in pinned)


def test_a_build_error_names_the_variant_and_the_failing_step(builder_for):
    client = FakeClient(build_events=[
        {"stream": "Step 1/3 : FROM x\n"}, {"stream": "Step 2/3 : RUN make\n"}, {"stream": "cc: error\n"},
        {"error": "The command '/bin/sh -c make' returned a non-zero code: 2",
         "errorDetail": {"message": "The command '/bin/sh -c make' returned a non-zero code: 2"}}])

    with pytest.raises(images.ImageBuildError) as raised:
        builder_for(client, repository="r/x", version="1").build(images.VARIANTS["amd"])

    assert str(raised.value).startswith("building amd failed at Step 2/3 : RUN make: The command")
    assert "cc: error" in str(raised.value)


def test_push_reports_the_pushed_digest(builder_for):
    events = [{"status": "Pushing"}, {"status": "generic-0.1.0: digest"},
              {"aux": {"Tag": "generic-0.1.0", "Digest": PUSHED, "Size": 1}}]
    client = FakeClient(events)
    builder = builder_for(client, repository="r/x", version="0.1.0", auth_config={"username": "AWS"})

    built = builder.push(builder.build(images.VARIANTS["generic"]))

    assert built.pushed_digest == PUSHED and built.reference == f"r/x@{PUSHED}"
    push = client.calls[-1][1]
    assert push["tag"] == "generic-0.1.0" and push["auth_config"] == {"username": "AWS"}


def test_build_all_builds_the_variants_side_by_side_and_pushes_each(builder_for):
    """Every build is under way before any ends: a barrier that the three builds must reach together."""
    import threading

    names = ["generic", "amd", "intel"]
    together = threading.Barrier(len(names), timeout=30)
    client = FakeClient([{"aux": {"Tag": "t", "Digest": PUSHED, "Size": 1}}])
    sequential_build = client.api.build

    def build(**kwargs):
        together.wait()  # raises BrokenBarrierError if the builds ran one after another
        return sequential_build(**kwargs)

    client.api.build = build
    builder = builder_for(client, repository="r/x", version="1")

    built = builder.build_all([images.VARIANTS[name] for name in names])

    assert list(built) == names and all(b.pushed_digest == PUSHED for b in built.values())
    assert sorted(c[1]["tag"] for c in client.calls if c[0] == "push") == sorted(f"{n}-1" for n in names)


def test_push_error_is_raised_with_the_daemon_message(builder_for):
    client = FakeClient([{"error": "denied: not authorized to perform ecr:InitiateLayerUpload"}])
    builder = builder_for(client, repository="r/x", version="1")

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
