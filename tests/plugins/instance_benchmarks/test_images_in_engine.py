"""The runner images, built by the project's driver and run in a real Docker engine.

generic and intel are built from this machine's debootstrapped Debian 13 base (pushed to the local
registry and pinned by digest, as a public base is in production) and pushed. Both are pulled by digest
and run by the AWS end-to-end run's instances (intel, and generic: what the amd family runs, issue 29;
tests/dags/test_instance_benchmarks_aws.py checks their documents: digest, xhpl, BLAS and MPI), and the
image of this machine's family runs rule-sized in tests/dags/test_instance_benchmarks.py. amd, which no
family runs (it is kept for images_compare.py), is built and run rule-sized by `make test-cold` only. Rule-sized
runs in every image: `make test-cold`. The bad inputs a user meets (a Dockerfile that fails, a
registry that refuses, no engine) each get an error that says which.
"""

from __future__ import annotations

import json

import pytest

from instance_benchmarks import containers, images
from instance_benchmarks.results import schema_errors, validation_reasons


@pytest.fixture
def builder(image_builder):
    return image_builder


@pytest.fixture
def pushed(runner_images):
    return runner_images


def test_a_failing_dockerfile_names_the_variant_and_the_step(builder, tmp_path, monkeypatch):
    context = tmp_path / "containers"
    context.mkdir()
    (context / "broken.Dockerfile").write_text(
        "ARG BASE_IMAGE\nARG BASE_DIGEST\nFROM ${BASE_IMAGE}@${BASE_DIGEST}\n"
        "RUN echo preparing\nRUN echo 'no such compiler' >&2 && exit 3\n")
    monkeypatch.setattr(images, "CONTEXT", context)
    broken = images.Variant("broken", "linux/amd64", "broken.Dockerfile", {"BASE": "debian:trixie-slim"})

    with pytest.raises(images.ImageBuildError) as raised:
        builder.build(broken)

    message = str(raised.value)
    assert message.startswith("building broken failed at Step 5/5 : RUN echo 'no such compiler'")
    assert "returned a non-zero code: 3" in message and "no such compiler" in message


def test_a_registry_that_refuses_the_push_is_named(builder, pushed):
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    built = pushed["generic"]
    target = f"127.0.0.1:{port}/{images.LOCAL_REPOSITORY}"
    builder.client.images.get(built.image_id).tag(target, tag=built.tag)
    refused = images.BuiltImage(variant="generic", platform=built.platform, repository=target, tag=built.tag,
                                image_id=built.image_id, base_digests=built.base_digests)

    with pytest.raises(images.ImageBuildError, match=rf"pushing {target}:{built.tag} failed: .*connection refused"):
        builder.push(refused)
    assert refused.pushed_digest is None


def test_no_engine_says_how_to_get_one(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")

    assert images.main(["--registry", "localhost:1/x", "--variant", "generic", "--no-push"]) == 1

    error = capsys.readouterr().err
    assert error.startswith(f"error: no Docker engine answers at unix://{tmp_path}/docker.sock")
    assert "--local to start this machine's own (make images)" in error


@pytest.mark.cold  # make test-cold builds the image first (test_images_cold.py)
def test_graviton_runs_under_emulation_and_its_figures_never_count(docker_engine, image_builder, tmp_path):
    """linux/arm64 under qemu-user: topology and a short STREAM in the real image, then refused as results.

    The emulated build takes 758 s here (README, images table), past make test's budget: it
    runs in `make images`, and this test uses its image when the local registry has it.
    """
    import docker

    from instance_benchmarks.images import runner_version

    _, registry = docker_engine
    client = image_builder.client
    reference = f"{registry.address}/{images.LOCAL_REPOSITORY}:graviton-{runner_version()}"
    try:
        image = containers.pull_by_digest(client, reference)
    except docker.errors.APIError as exc:
        pytest.skip(f"no {reference} in this machine's registry ({exc.explanation}): `make images` builds it "
                    "under emulation")
    topology = json.loads(client.containers.run(image["image"], ["topology"], remove=True, network_mode="none"))
    assert topology["architecture"] == "aarch64" and topology["architecture_family"] == "graviton"
    assert topology["emulated"].startswith("aarch64 code on an x86-64 CPU")

    code, tail = containers.run_benchrun(
        client, image["image"], ["stream", "--array-size", "2000000", "--ntimes", "2", "--repetitions", "1"],
        out_dir=tmp_path, timeout_s=900, env={})
    assert code == 0, tail
    doc = json.loads((tmp_path / "result.json").read_text())
    assert schema_errors(doc) == [] and doc["stream"]["measurements"]
    assert doc["run_rules"][0]["rule"] == "host.native" and doc["run_rules"][0]["passed"] is False
    assert any(reason.startswith("run rule host.native failed: aarch64 code on an x86-64 CPU")
               for reason in validation_reasons(doc, require=("stream",)))


def test_the_contributor_s_docker_command_carries_ec2_s_identity_out_of_the_published_image(builder, pushed, tmp_path):
    """docs/contributing-results.md's command as written (the image's benchrun entrypoint, --network host, the two
    -e lines that record the image) in the real engine, at the test profile's sizes, against a fake IMDS on the
    host's loopback: the document passes the signature, identity and published-image checks, and the run rules
    refuse it for its test profile (a contribution is held to rule-sized runs, as a project run is)."""
    import socket

    from instance_benchmarks import contribution_checks
    from tests.fakes.imds import Signer, fake_imds, identity_document

    built = pushed["generic"]
    image = containers.pull_by_digest(builder.client, f"{built.repository}:{built.tag}")["image"]
    digest = image.split("@", 1)[1]
    ec2 = Signer.make()
    document = identity_document()
    tmp_path.chmod(0o777)  # the image runs as an unprivileged user
    with fake_imds(document, ec2.rsa2048(document)) as endpoint:
        builder.client.containers.run(
            image, ["all", "--profile", "test", "--contribute", "--out", "/out/result.json"], remove=True,
            hostname=socket.gethostname(), network_mode="host", cap_add=["SYS_NICE"],
            volumes={str(tmp_path): {"bind": "/out", "mode": "rw"}},
            environment={"AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint, "BENCHRUN_CONTAINER_IMAGE": image,
                         "BENCHRUN_CONTAINER_DIGEST": digest})
    doc = json.loads((tmp_path / "result.json").read_text())

    verdicts, stored = contribution_checks.check(doc, submission_id="0" * 32, contributor="erin",
                                                 certificates={"us-east-1": ec2.pem}, published={digest}, seen=set())

    passed = {v.check: v for v in verdicts}
    assert all(passed[check].passed for check in ("schema", "signature", "identity agrees", "published image"))
    assert stored is None and passed["run rules"].reason.startswith("profile test: a test-only run")
    assert doc["host"]["container_digest"] == digest and doc["contribution"]["identity_document"] == document
