"""Fakes for exactly the AWS APIs moto lacks, installed at botocore's API-call layer.

moto (5.2.5) executes no SSM command, has no DescribeInstanceInformation, no EC2
service quotas and no Price List API (../shared/FACTS.md). `AwsGaps` routes those operations to fakes that
behave like AWS and passes every other call to moto unchanged, so the code under test
uses its real hooks, clients, paginators and waiters. It patches
`botocore.client.BaseClient._make_api_call` in this process: the DAG's tasks and
triggers run in-process under `dag.test()`, so they see it.

`FakeSsm` is an SSM executor: SendCommand starts the AWS-RunShellScript commands with
bash on this machine, with stand-ins for the instance's `docker`, `aws` and
`cloud-init` (tests/fakes/instance_bin): `docker` is the real engine running the real
runner image when `docker_host` is given (x86-64 images), else `docker run` runs the real
benchrun bare; `aws s3 cp` uploads into moto's S3. The benchmarks really run; only "this machine is
the instance" is pretended, and the documents say so (their system section is this
machine's CPU).
"""

from __future__ import annotations

import copy
import datetime
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.fakes.pricing import FakePriceList
from tests.fakes.service_quotas import FakeServiceQuotas

INSTANCE_BIN = Path(__file__).resolve().parent / "instance_bin"
OUTPUT_LIMIT = 24_000  # SSM keeps the first 24,000 characters of each stream
REPO = Path(__file__).resolve().parents[2]

Handler = Callable[[BaseClient, dict[str, Any], Callable[[], Any]], Any]


# botocore service name -> IAM action prefix, for checking calls against include/iam/airflow-role-policy.json.
IAM_PREFIX = {"ec2": "ec2", "ssm": "ssm", "service-quotas": "servicequotas", "cloudwatch": "cloudwatch",
              "pricing": "pricing", "sts": "sts"}
# AWS: "No permissions are required to perform this operation" (plan's configuration check).
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}


# What docs/aws.md's set-up substitutes in include/iam/ before attaching the policies (as the end-to-end tests
# set the account up).
PLACEHOLDERS = {"RESULTS_BUCKET": "bench-results", "RESULTS_PREFIX": "ib", "ACCOUNT_ID": "123456789012",
                "VPC_ID": "vpc-0123456789abcdef0", "AMI_OWNER": "amazon"}
# The fake instances sign with this key (the Airflow side with "testing"), so the wire tells the two roles apart.
INSTANCE_ACCESS_KEY = "instance-role-session"


def policy_text(name: str) -> str:
    from instance_benchmarks import INCLUDE_DIR

    text = (INCLUDE_DIR / "iam" / name).read_text()
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


def airflow_role_statements() -> list[dict[str, Any]]:
    import json

    return json.loads(policy_text("airflow-role-policy.json"))["Statement"]


def airflow_role_actions() -> set[str]:
    """Every action the Airflow role's policy grants."""
    return {action for statement in airflow_role_statements() for action in
            ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}


def iam_actions(calls: Any) -> set[str]:
    """The IAM actions of (service, operation) calls seen at botocore's API layer (S3 goes through s3fs)."""
    return {f"{IAM_PREFIX[service]}:{operation}" for service, operation in calls if service in IAM_PREFIX}


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class AwsGaps:
    """(service, operation) -> handler(client, params, passthrough); everything else goes to moto."""

    def __init__(self) -> None:
        self.handlers: dict[tuple[str, str], Handler] = {}
        self.calls: list[tuple[str, str]] = []

    def on(self, service: str, operation: str, handler: Handler) -> None:
        self.handlers[(service, operation)] = handler

    def install(self, monkeypatch) -> AwsGaps:
        original = BaseClient._make_api_call
        gaps = self

        def _make_api_call(client, operation_name, api_params):
            service = client.meta.service_model.service_name
            gaps.calls.append((service, operation_name))
            handler = gaps.handlers.get((service, operation_name))
            if handler is None:
                return original(client, operation_name, api_params)
            return handler(client, api_params, lambda: original(client, operation_name, api_params))

        monkeypatch.setattr(BaseClient, "_make_api_call", _make_api_call)
        return self

    def add_service_quotas(self, quotas: FakeServiceQuotas) -> None:
        self.on("service-quotas", "ListServiceQuotas", lambda c, p, _: quotas.answer("list_service_quotas", p))
        self.on("service-quotas", "ListAWSDefaultServiceQuotas",
                lambda c, p, _: quotas.answer("list_aws_default_service_quotas", p))

    def add_price_list(self, price_list: FakePriceList) -> None:
        self.on("pricing", "GetProducts", lambda c, p, _: price_list.get_products(p))

    def wrap(self, service: str, operation: str, handler: Handler) -> None:
        """Like `on`, but `handler`'s passthrough reaches the handler already installed (or moto)."""
        previous = self.handlers.get((service, operation))

        def chained(client, params, passthrough):
            inner = (lambda: previous(client, params, passthrough)) if previous else passthrough
            return handler(client, params, inner)

        self.on(service, operation, chained)

    def honour_client_tokens(self) -> None:
        """RunInstances with a ClientToken already used returns that first launch, as AWS does (moto
        launches again); with any other parameter different, AWS refuses it with
        IdempotentParameterMismatch, and so does this."""
        launched: dict[str, tuple[dict[str, Any], Any]] = {}

        def handler(client, params, passthrough):
            token = params.get("ClientToken")
            if token in launched:
                first, response = launched[token]
                if first != params:
                    changed = sorted(k for k in {*first, *params} if first.get(k) != params.get(k))
                    raise client_error("IdempotentParameterMismatch", "The client token you have provided is "
                                       f"associated with a resource that is already deleted or has different "
                                       f"parameters ({', '.join(changed)} differ).", "RunInstances")
                return response
            asked = copy.deepcopy(params)  # botocore encodes UserData in place on the way out
            response = passthrough()
            if token:
                launched[token] = (asked, response)
            return response

        self.wrap("ec2", "RunInstances", handler)

    def fail_run_instances(self, instance_types: set[str], code: str = "InsufficientInstanceCapacity") -> None:
        """RunInstances for these types fails in every zone, as AWS does when it has no capacity."""

        def handler(client, params, passthrough):
            if params.get("InstanceType") in instance_types:
                zone = params.get("NetworkInterfaces", [{}])[0].get("SubnetId", "?")
                raise client_error(code, f"We currently do not have sufficient {params['InstanceType']} capacity "
                                         f"in the Availability Zone you requested ({zone}).", "RunInstances")
            return passthrough()

        self.wrap("ec2", "RunInstances", handler)


class Throttle:
    """AWS throttling below botocore's retry loop: the first `times` calls of an operation answer
    HTTP 400 RequestLimitExceeded, as EC2 does, so the client's retry mode is what gets through.

    Patches `botocore.endpoint.Endpoint._get_response` (inside the retry loop, above the HTTP send and
    moto's own before-send hook).
    """

    def __init__(self, monkeypatch, operation: str | None, times: int, per_call: int | None = None) -> None:
        """`operation` None: every operation, until `times` throttled answers in all (AWS throttling an
        account for a while); `per_call`: throttle only each call's first attempts, so that every call
        hit is retried through instead of exhausting its attempts."""
        from botocore.awsrequest import AWSResponse
        from botocore.endpoint import Endpoint

        self.attempts = 0
        self.throttled: list[str] = []
        original = Endpoint._get_response
        throttle = self

        class _Raw:
            def stream(self, **_):
                yield b""

        def _get_response(endpoint, request, operation_model, context):
            attempt = (context.get("retries") or {}).get("attempt", 1)
            if (operation is None or operation_model.name == operation) and (per_call is None
                                                                              or attempt <= per_call):
                throttle.attempts += 1
                if throttle.attempts <= times:
                    throttle.throttled.append(operation_model.name)
                    http = AWSResponse(request.url, 400, {}, _Raw())
                    parsed = {"Error": {"Code": "RequestLimitExceeded", "Message": "Request limit exceeded."},
                              "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}}}
                    return (http, parsed), None
            return original(endpoint, request, operation_model, context)

        monkeypatch.setattr(Endpoint, "_get_response", _get_response)


def _iso_now() -> str:
    """A timestamp as SSM writes them (2026-12-01T11:00:00.123Z)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Invocation:
    command_id: str
    instance_id: str
    process: subprocess.Popen
    stdout: Path
    stderr: Path
    started: float
    timeout_s: float
    status: str = "InProgress"
    status_details: str = "InProgress"
    code: int = -1
    # SSM's ExecutionStart/EndDateTime: ISO 8601 strings, empty until the plugin starts and ends (the end is
    # stamped at the poll that sees the process gone, as late as AWS's own report of it can be)
    start_time: str = ""
    end_time: str = ""


@dataclass
class FakeSsm:
    """SSM Run Command and agent registration for moto's EC2 instances, executed on this machine.

    `agent_polls_before_online`: DescribeInstanceInformation answers nothing for a new
    instance this many times first, as AWS does while the agent registers.
    """

    endpoint_url: str | None = None  # moto_server's; None for in-process mock_aws
    agent_polls_before_online: int = 1
    offline_instance_ids: set[str] = field(default_factory=set)
    # instance type -> fault the instance's stand-ins inject (tests/fakes/instance_bin): pull-fails,
    # benchrun-fails, invalid-document, no-upload, residual-failed, stream-hangs; injected here: agent-offline,
    # and spot-reclaimed (AWS reclaims a spot instance of the type as STREAM starts; on demand it runs).
    faults: dict[str, str] = field(default_factory=dict)
    reclaimed: set[str] = field(default_factory=set)
    # A real Docker engine (DOCKER_HOST form): the instances' docker uses it for the x86-64 runner images.
    docker_host: str | None = None
    invocations: dict[tuple[str, str], _Invocation] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    _agent_polls: dict[str, int] = field(default_factory=dict)
    _workdir: Path | None = None  # made at the first command: a fake that runs none leaves nothing behind
    _ids: itertools.count = field(default_factory=itertools.count)

    def install(self, gaps: AwsGaps) -> FakeSsm:
        gaps.wrap("ec2", "DescribeInstances", self._state_reasons)
        gaps.on("ssm", "SendCommand", lambda c, p, _: self.send_command(c, p))
        gaps.on("ssm", "GetCommandInvocation", lambda c, p, _: self.get_command_invocation(p))
        gaps.on("ssm", "DescribeInstanceInformation", lambda c, p, _: self.describe_instance_information(c, p))
        gaps.on("ssm", "CancelCommand", lambda c, p, _: self.cancel_command(p))
        return self

    def cancel_command(self, params: dict[str, Any]) -> dict[str, Any]:
        """As AWS does: the command's processes are stopped and its invocations end Cancelled."""
        found = [i for (command_id, _), i in self.invocations.items() if command_id == params["CommandId"]
                 and (not params.get("InstanceIds") or i.instance_id in params["InstanceIds"])]
        if not found:
            raise client_error("InvalidCommandId", f"{params['CommandId']} is not a command", "CancelCommand")
        for invocation in found:
            if invocation.status == "InProgress" and invocation.process.poll() is None:
                os.killpg(invocation.process.pid, 9)
                invocation.process.wait()
                invocation.status = invocation.status_details = "Cancelled"
        return {}

    def _ec2(self, client: BaseClient) -> BaseClient:
        import boto3
        from botocore.config import Config

        # The fake's own look at moto (what AWS knows internally): retried through a Throttle like any client.
        return boto3.client("ec2", region_name=client.meta.region_name, endpoint_url=self.endpoint_url,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"mode": "standard", "total_max_attempts": 10}))

    def _state_reasons(self, _client: BaseClient, _params: dict[str, Any], passthrough: Any) -> dict[str, Any]:
        """A reclaimed instance reads as AWS shows one (moto records every termination as the user's)."""
        answer = passthrough()
        for reservation in answer.get("Reservations", []):
            for instance in reservation["Instances"]:
                if instance["InstanceId"] in self.reclaimed:
                    instance["StateReason"] = {"Code": "Server.SpotInstanceTermination",
                                               "Message": "Server.SpotInstanceTermination: Spot instance termination"}
        return answer

    def _reclaims(self, instance: dict[str, Any], script: str) -> bool:
        spot = {"Key": "market", "Value": "spot"} in instance.get("Tags", [])
        return spot and self.faults.get(instance["InstanceType"]) == "spot-reclaimed" and '"$image" stream ' in script

    def _running(self, client: BaseClient, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
        found = {}
        for reservation in self._ec2(client).describe_instances(InstanceIds=instance_ids)["Reservations"]:
            for instance in reservation["Instances"]:
                if instance["State"]["Name"] == "running":
                    found[instance["InstanceId"]] = instance
        return found

    def describe_instance_information(self, client: BaseClient, params: dict[str, Any]) -> dict[str, Any]:
        wanted = [v for f in params.get("Filters", []) if f["Key"] == "InstanceIds" for v in f["Values"]]
        answer = []
        for instance_id, instance in self._running(client, wanted).items():
            polls = self._agent_polls.get(instance_id, 0)
            self._agent_polls[instance_id] = polls + 1
            offline = instance_id in self.offline_instance_ids or \
                self.faults.get(instance["InstanceType"]) == "agent-offline"
            if offline or polls < self.agent_polls_before_online:
                continue
            answer.append({"InstanceId": instance_id, "PingStatus": "Online", "PlatformType": "Linux",
                           "PlatformName": "Amazon Linux", "AgentVersion": "3.3.0.0",
                           "ResourceType": "EC2Instance", "IPAddress": instance.get("PrivateIpAddress")})
        return {"InstanceInformationList": answer}

    def send_command(self, client: BaseClient, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("DocumentName") != "AWS-RunShellScript":
            raise client_error("InvalidDocument", f"fake SSM runs AWS-RunShellScript only, not "
                                                  f"{params.get('DocumentName')}", "SendCommand")
        instance_ids = params["InstanceIds"]
        running = self._running(client, instance_ids)
        missing = [i for i in instance_ids if i not in running or i in self.offline_instance_ids]
        if missing:
            raise client_error("InvalidInstanceId", f"Instances {missing} not in a valid state for account",
                               "SendCommand")
        command_id = str(uuid.uuid4())
        script = "\n".join(params["Parameters"]["commands"])
        timeout_s = float(params["Parameters"].get("executionTimeout", ["3600"])[0])
        self.sent.append({"CommandId": command_id, **params})
        for instance_id in instance_ids:
            reclaim = self._reclaims(running[instance_id], script)
            self.invocations[(command_id, instance_id)] = self._start(
                command_id, instance_id, "sleep 3600" if reclaim else script, running[instance_id], timeout_s)
            if reclaim:  # SSM goes on saying InProgress: a gone instance never reports its command's end
                self._ec2(client).terminate_instances(InstanceIds=[instance_id])
                self.reclaimed.add(instance_id)
        return {"Command": {"CommandId": command_id, "DocumentName": params["DocumentName"],
                            "InstanceIds": instance_ids, "Status": "Pending"}}

    def _start(self, command_id: str, instance_id: str, script: str, instance: dict[str, Any],
               timeout_s: float) -> _Invocation:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="fake-ssm-"))
        directory = self._workdir / f"{next(self._ids):03d}-{instance_id}"
        directory.mkdir(parents=True)
        bin_dir = directory / "bin"
        bin_dir.mkdir()
        for tool in INSTANCE_BIN.iterdir():  # the stand-ins, run by this interpreter (it has boto3)
            target = bin_dir / tool.name
            target.write_text(f"#!{sys.executable}\n" + tool.read_text())
            target.chmod(0o755)
        env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "HOME": str(directory),
            "TMPDIR": str(directory),
            **({"AWS_ENDPOINT_URL": self.endpoint_url} if self.endpoint_url else {}),
            "AWS_ACCESS_KEY_ID": INSTANCE_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": instance["Placement"]["AvailabilityZone"][:-1],
            "FAKE_INSTANCE_BENCHRUN": str(REPO / "include" / "containers" / "runner" / "benchrun"),
            "FAKE_FAULT": self.faults.get(instance["InstanceType"], ""),
            "FAKE_INSTANCE_ID": instance_id,
            **({"FAKE_DOCKER_HOST": self.docker_host} if self.docker_host else {}),
            "FAKE_FIXTURES": str(REPO / "tests" / "fixtures"),
            "BENCHRUN_BUILD_DIR": os.environ["BENCHRUN_BUILD_DIR"],  # conftest's: the compiled benchmarks' cache
        }
        stdout, stderr = directory / "stdout", directory / "stderr"
        with stdout.open("w") as out, stderr.open("w") as err:
            process = subprocess.Popen(["bash", "-c", script], stdout=out, stderr=err, env=env, cwd=directory,
                                       start_new_session=True)
        return _Invocation(command_id=command_id, instance_id=instance_id, process=process, stdout=stdout,
                           stderr=stderr, started=time.monotonic(), timeout_s=timeout_s, start_time=_iso_now())

    def get_command_invocation(self, params: dict[str, Any]) -> dict[str, Any]:
        invocation = self.invocations.get((params["CommandId"], params["InstanceId"]))
        if invocation is None:
            raise client_error("InvocationDoesNotExist", "", "GetCommandInvocation")
        if invocation.status == "InProgress":
            code = invocation.process.poll()
            if code is None and time.monotonic() - invocation.started > invocation.timeout_s:
                os.killpg(invocation.process.pid, 9)
                invocation.process.wait()
                invocation.status, invocation.status_details = "TimedOut", "ExecutionTimedOut"
                invocation.end_time = _iso_now()
            elif code is not None:
                invocation.code = code
                invocation.status = invocation.status_details = "Success" if code == 0 else "Failed"
                invocation.end_time = _iso_now()
        return {
            "CommandId": invocation.command_id,
            "InstanceId": invocation.instance_id,
            "DocumentName": "AWS-RunShellScript",
            "Status": invocation.status,
            "StatusDetails": invocation.status_details,
            "ResponseCode": invocation.code,
            "ExecutionStartDateTime": invocation.start_time,
            "ExecutionEndDateTime": invocation.end_time,
            "StandardOutputContent": invocation.stdout.read_text()[:OUTPUT_LIMIT],
            "StandardErrorContent": invocation.stderr.read_text()[:OUTPUT_LIMIT],
        }

    def close(self) -> None:
        """Every command still running killed, and the instances' working directories removed (each run left
        about 1 MB under the temporary directory)."""
        for invocation in self.invocations.values():
            if invocation.process.poll() is None:
                os.killpg(invocation.process.pid, 9)
                invocation.process.wait()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
