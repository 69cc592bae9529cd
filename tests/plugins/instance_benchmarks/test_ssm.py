"""The runner's SSM script, executed for real by bash with stand-ins for docker and aws that record argv."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from instance_benchmarks import ssm

RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["RECORD"], "a") as f:
    f.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
if sys.argv[1:2] == ["pull"] and os.environ.get("PULL_FAILS") and "runner" in sys.argv[-1]:
    sys.exit(1)
if sys.argv[1:3] == ["sts", "get-caller-identity"]:  # an instance role session: <role id>:<instance id>
    print("AROAEXAMPLEROLE:i-0123456789abcdef0")
    sys.exit(int(os.environ.get("STS_EXIT", "0")))
if sys.argv[1:2] == ["run"]:  # write a document where the container would, via the -v mount
    mount = next(a.split(":")[0] for a in sys.argv if a.endswith(":/out"))
    open(os.path.join(mount, "result.json"), "w").write("{}")
    sys.exit(int(os.environ.get("RUN_EXIT", "0")))
"""


@pytest.fixture
def instance(tmp_path):
    """A bin directory standing in for an instance's docker and aws CLIs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("docker", "aws"):
        (bin_dir / tool).write_text(RECORDER)
        (bin_dir / tool).chmod(0o755)
    return bin_dir, tmp_path / "record.jsonl"


def run_script(commands, instance, **env):
    bin_dir, record = instance
    proc = subprocess.run(["bash", "-c", "\n".join(commands)], capture_output=True, text=True, timeout=30,
                          env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "RECORD": str(record), **env})
    calls = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return proc, calls


def test_runner_script_runs_in_the_prepared_image_and_uploads(instance):
    commands = ssm.runner_script(image="123.dkr.ecr.us-east-1.amazonaws.com/bench:intel-0.1.0",
                                 benchrun_args=["stream", "--repetitions", "5"],
                                 staging_uri="s3://bucket/staging/run/m7i.large/stream.json",
                                 env={"BENCHRUN_INSTANCE_TYPE": "m7i.large", "BENCHRUN_TARGET": "aws"})

    proc, calls = run_script(commands, instance)

    assert proc.returncode == 0, proc.stderr
    assert [c[:2] for c in calls] == [["aws", "sts"], ["docker", "image"], ["docker", "run"], ["aws", "s3"]]
    run = calls[2]
    assert run[-6:] == ["123.dkr.ecr.us-east-1.amazonaws.com/bench:intel-0.1.0", "stream", "--repetitions", "5",
                        "--out", "/out/result.json"]
    assert "--network" in run and "SYS_NICE" in run and "BENCHRUN_INSTANCE_TYPE=m7i.large" in run
    # under the role session's id, the only prefix the instance role may write (${aws:userid})
    assert calls[3][-1] == "s3://bucket/staging/run/m7i.large/AROAEXAMPLEROLE:i-0123456789abcdef0/stream.json"


def test_the_upload_key_is_one_the_instance_role_allows_and_only_for_this_instance(instance):
    import fnmatch

    from instance_benchmarks import INCLUDE_DIR

    policy = json.loads((INCLUDE_DIR / "iam" / "instance-role-policy.json").read_text())
    (allowed,) = [s["Resource"] for s in policy["Statement"] if s["Action"] == "s3:PutObject"]
    commands = ssm.runner_script(image="img", benchrun_args=["hpl"], env={},
                                 staging_uri="s3://bench-results/ib/staging/run-1/m7i.large/i-0123456789abcdef0/hpl.json")

    _, calls = run_script(commands, instance)

    key = calls[-1][-1].removeprefix("s3://")
    pattern = allowed.replace("RESULTS_BUCKET/RESULTS_PREFIX", "bench-results/ib").removeprefix("arn:aws:s3:::")
    this_session, another = "AROAEXAMPLEROLE:i-0123456789abcdef0", "AROAEXAMPLEROLE:i-0fedcba9876543210"
    assert fnmatch.fnmatchcase(key, pattern.replace("${aws:userid}", this_session))
    assert not fnmatch.fnmatchcase(key, pattern.replace("${aws:userid}", another))


def test_without_its_role_session_the_script_stops_before_running_anything(instance):
    commands = ssm.runner_script(image="img", benchrun_args=["hpl"], staging_uri="s3://b/k/hpl.json", env={})

    proc, calls = run_script(commands, instance, STS_EXIT="255")

    assert proc.returncode == ssm.EXIT_UPLOAD and "is the instance profile attached?" in proc.stderr
    assert [c[:2] for c in calls] == [["aws", "sts"]]


def test_hostile_values_stay_strings(instance, tmp_path):
    marker = tmp_path / "pwned"
    commands = ssm.runner_script(image="img", benchrun_args=["hpl", f"$(touch {marker})"],
                                 staging_uri=f"s3://b/k;touch {marker}",
                                 env={"BENCHRUN_INSTANCE_TYPE": f"m7i.large;touch {marker}"})

    proc, calls = run_script(commands, instance)

    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert f"$(touch {marker})" in calls[2] and f"BENCHRUN_INSTANCE_TYPE=m7i.large;touch {marker}" in calls[2]
    assert calls[3][-1] == f"s3://b/k;touch {marker.parent}/AROAEXAMPLEROLE:i-0123456789abcdef0/{marker.name}"


def test_benchrun_failure_still_uploads_its_document_and_keeps_the_status(instance):
    commands = ssm.runner_script(image="img", benchrun_args=["hpl"], staging_uri="s3://b/k", env={})

    proc, calls = run_script(commands, instance, RUN_EXIT="1")

    assert proc.returncode == 1
    assert calls[-1][:2] == ["aws", "s3"]  # the document that says why is not lost


def test_container_script_logs_in_to_ecr_pulls_and_reports_the_digest(instance):
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/instance-benchmarks:graviton-0.1.0"
    commands = ssm.container_script(image=image, pull=True)

    proc, calls = run_script(commands, instance)

    assert proc.returncode == 0, proc.stderr
    login = sorted(calls[:2])  # the two sides of a pipe: either may record first
    assert login[0][:3] == ["aws", "ecr", "get-login-password"] and "eu-west-1" in login[0]
    assert login[1][:2] == ["docker", "login"] and login[1][-1] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert calls[2][:2] == ["docker", "pull"] and calls[2][-1] == image
    assert ssm.parse_container_output(proc.stdout) == {"source": "pulled", "image": image, "digest": ""}


def test_container_script_builds_from_the_context_with_pinned_bases_when_there_is_no_registry(instance):
    commands = ssm.container_script(image="instance-benchmarks-runner:amd-0.1.0", pull=False,
                                    context_uri="s3://b/staging/run/build-context/containers.tar.gz",
                                    dockerfile="amd.Dockerfile", bases={"BASE": "debian:bookworm-slim"},
                                    build_args={"RUNNER_VERSION": "0.1.0"})

    proc, calls = run_script(commands, instance)

    assert proc.returncode == 0, proc.stderr
    assert ["docker", "pull", "--quiet", "debian:bookworm-slim"] in calls
    assert ["aws", "s3", "cp", "--only-show-errors", "s3://b/staging/run/build-context/containers.tar.gz", "-"] in calls
    build = next(c for c in calls if c[:2] == ["docker", "build"])
    assert "BASE_IMAGE=debian" in build and "RUNNER_VERSION=0.1.0" in build and build[-1] == "-"
    assert any(arg.startswith("BASE_DIGEST=") for arg in build)
    assert ssm.parse_container_output(proc.stdout)["source"] == "built"
    assert not any(c[:2] == ["docker", "pull"] and c[-1].startswith("instance-benchmarks-runner") for c in calls)


def test_a_failed_pull_falls_back_to_building_from_the_context(instance):
    image = "registry.example/bench/runner:intel-0.1.0"
    commands = ssm.container_script(image=image, pull=True, context_uri="s3://b/ctx.tar.gz",
                                    dockerfile="intel.Dockerfile", bases={})

    proc, calls = run_script(commands, instance, PULL_FAILS="1")

    assert proc.returncode == 0, proc.stderr
    assert "docker pull failed for " + image in proc.stderr
    assert any(c[:2] == ["docker", "build"] and image in c for c in calls)
    assert ssm.parse_container_output(proc.stdout)["source"] == "built"


def test_container_script_fails_clearly_without_docker(tmp_path):
    proc = subprocess.run(["/bin/bash", "-c", "\n".join(ssm.container_script(image="i", pull=True))],
                          capture_output=True, text=True, timeout=30, env={"PATH": str(tmp_path)})

    assert proc.returncode == ssm.EXIT_NO_DOCKER and "docker is not installed" in proc.stderr


def test_invalid_inputs_are_refused():
    with pytest.raises(ValueError, match="s3://"):
        ssm.runner_script(image="i", benchrun_args=[], staging_uri="file:///tmp/x", env={})
    with pytest.raises(ValueError, match="environment variable names"):
        ssm.runner_script(image="i", benchrun_args=[], staging_uri="s3://b/k", env={"A;B": "x"})


class FakeSsmClient:
    def __init__(self, invocation=None, information=None):
        self.invocation, self.information, self.sent = invocation, information or [], []

    def send_command(self, **kwargs):
        self.sent.append(kwargs)
        return {"Command": {"CommandId": "cmd-1"}}

    def get_command_invocation(self, **_):
        return self.invocation

    def describe_instance_information(self, **_):
        return {"InstanceInformationList": self.information}


def test_send_and_read_the_outcome():
    client = FakeSsmClient({"Status": "Failed", "ResponseCode": 2, "StandardOutputContent": "",
                            "StandardErrorContent": "x" * 5000})

    command_id = ssm.send(client, instance_id="i-1", commands=["true"], timeout_s=900, comment="bench m7i.large")
    result = ssm.outcome(client, command_id=command_id, instance_id="i-1")

    assert client.sent[0]["Parameters"]["executionTimeout"] == ["900"]
    assert client.sent[0]["DocumentName"] == "AWS-RunShellScript"
    assert result["done"] and result["exit_code"] == 2 and len(result["stderr_tail"]) == ssm.OUTPUT_TAIL_CHARS


def test_an_invocation_not_yet_visible_reads_as_pending():
    from botocore.exceptions import ClientError

    class NotYet(FakeSsmClient):
        def get_command_invocation(self, **_):
            raise ClientError({"Error": {"Code": "InvocationDoesNotExist", "Message": ""}}, "GetCommandInvocation")

    assert ssm.outcome(NotYet(), command_id="c", instance_id="i-1") == {
        "status": "Pending", "done": False, "exit_code": None, "stdout_tail": "", "stderr_tail": ""}


def test_agent_status_is_the_ping_status_of_that_instance_or_none_before_it_registers():
    assert ssm.agent_status(FakeSsmClient(information=[{"InstanceId": "i-1", "PingStatus": "Online"}]),
                            "i-1") == "Online"
    assert ssm.agent_status(FakeSsmClient(information=[{"InstanceId": "i-1", "PingStatus": "ConnectionLost"}]),
                            "i-1") == "ConnectionLost"
    assert ssm.agent_status(FakeSsmClient(), "i-1") is None


def test_only_the_document_this_instance_staged_is_taken(tmp_path):
    """Under the role session's id (<role id>:<instance id>): another instance's upload is never taken."""
    from airflow.sdk import ObjectStoragePath

    staging = ObjectStoragePath((tmp_path / "staging" / "run-1" / "m7i.large" / "i-0aaa" / "hpl.json").as_uri())
    assert ssm.staged_by(staging, "i-0aaa") is None  # nothing uploaded at all

    other = tmp_path / "staging" / "run-1" / "m7i.large" / "i-0aaa" / "AROAROLE:i-0bbb"
    other.mkdir(parents=True)
    (other / "hpl.json").write_text("{}")
    assert ssm.staged_by(staging, "i-0aaa") is None

    own = other.parent / "AROAROLE:i-0aaa"
    own.mkdir()
    (own / "hpl.json").write_text("{}")
    assert ssm.staged_by(staging, "i-0aaa").path == str(own / "hpl.json")


@pytest.mark.parametrize(("invocation", "seconds"), [
    ({"ExecutionStartDateTime": "2026-12-01T11:00:00.100Z", "ExecutionEndDateTime": "2026-12-01T11:01:12.150Z"},
     72.0),
    ({"ExecutionStartDateTime": "2026-12-01T11:00:00.100Z", "ExecutionEndDateTime": ""}, None),  # still running
    ({}, None),
    ({"ExecutionStartDateTime": "yesterday", "ExecutionEndDateTime": "today"}, None),
])
def test_a_command_s_seconds_are_ssm_s_own_execution_times(invocation, seconds):
    assert ssm.execution_seconds(invocation) == seconds
