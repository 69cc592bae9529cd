"""EC2 launch and terminate against moto; capacity errors injected (moto never runs out)."""

from __future__ import annotations

import base64

import boto3
import pytest
from botocore.exceptions import ClientError

from instance_benchmarks.catalog import InstanceSpec
from instance_benchmarks.hosts import CapacityUnavailable, ConfigurationError, ec2

SPEC = InstanceSpec(instance_type="m7i.large", family="intel", architecture="x86_64", cpu_model="Intel", vcpus=2,
                    physical_cores=1, memory_bytes=8 * 2**30, last_level_cache_bytes=0, instance_family="m7i")
TAGS = {"project": "instance-benchmarks", "run-id": "manual__1", "map-index": "0", "ttl-seconds": "11700"}


@pytest.fixture
def aws(moto_env):
    client = boto3.client("ec2", region_name="us-east-1")
    vpc = client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(client.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)
                    ["Subnet"]["SubnetId"] for i, zone in enumerate(("us-east-1a", "us-east-1b")))
    return client, subnets


class CapacityIn:
    """The real (moto) client, except RunInstances in the listed subnets fails like AWS does."""

    def __init__(self, client, full_subnets, code="InsufficientInstanceCapacity"):
        self._client, self._full, self._code = client, set(full_subnets), code
        self.attempts: list[str] = []

    def run_instances(self, **request):
        subnet = request["NetworkInterfaces"][0]["SubnetId"]
        self.attempts.append(subnet)
        if subnet in self._full:
            raise ClientError({"Error": {"Code": self._code, "Message": "We currently do not have sufficient "
                               "m7i.large capacity in the Availability Zone you requested."}}, "RunInstances")
        return self._client.run_instances(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_public_al2023_ami_per_architecture(aws):
    ssm = boto3.client("ssm", region_name="us-east-1")

    assert ec2.resolve_ami(ssm, "x86_64").startswith("ami-")
    assert ec2.resolve_ami(ssm, "arm64").startswith("ami-")
    with pytest.raises(ValueError, match="riscv64"):
        ec2.resolve_ami(ssm, "riscv64")


def test_launch_carries_every_safety(aws):
    client, subnets = aws
    settings = ec2.LaunchSettings(subnet_ids=subnets, instance_profile=None, time_to_live_minutes=90)

    instance = ec2.launch(client, SPEC, ami_id="ami-12c6146b", settings=settings, tags=TAGS, client_token="run1-0")

    described = client.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == TAGS
    assert described["MetadataOptions"]["HttpTokens"] == "required"
    assert described["SubnetId"] == subnets[0] and described["InstanceType"] == "m7i.large"
    behaviour = client.describe_instance_attribute(InstanceId=instance["InstanceId"],
                                                   Attribute="instanceInitiatedShutdownBehavior")
    assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    script = base64.b64decode(client.describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData")["UserData"]["Value"]).decode()
    assert "shutdown -h +90" in script


def test_request_encrypts_the_root_volume_and_can_ask_for_spot():
    settings = ec2.LaunchSettings(subnet_ids=("subnet-1",), instance_profile="bench-ssm", spot=True)

    request = ec2.run_instances_request(SPEC, ami_id="ami-1", subnet_id="subnet-1", settings=settings, tags=TAGS,
                                        client_token="t")

    assert request["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert request["IamInstanceProfile"] == {"Name": "bench-ssm"}
    assert request["InstanceMarketOptions"]["MarketType"] == "spot"
    assert request["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False
    assert {s["ResourceType"] for s in request["TagSpecifications"]} == {"instance", "volume"}


def test_capacity_error_moves_to_the_next_zone(aws):
    client, subnets = aws
    proxy = CapacityIn(client, {subnets[0]})

    instance = ec2.launch(proxy, SPEC, ami_id="ami-12c6146b", settings=ec2.LaunchSettings(subnet_ids=subnets),
                          tags=TAGS, client_token="run1-0")

    assert proxy.attempts == list(subnets)
    assert instance["SubnetId"] == subnets[1]


def test_no_capacity_anywhere_is_a_skip_with_every_reason(aws):
    client, subnets = aws
    proxy = CapacityIn(client, set(subnets))

    with pytest.raises(CapacityUnavailable) as excinfo:
        ec2.launch(proxy, SPEC, ami_id="ami-12c6146b", settings=ec2.LaunchSettings(subnet_ids=subnets),
                   tags=TAGS, client_token="run1-0")

    assert all(subnet in str(excinfo.value) for subnet in subnets)
    assert "InsufficientInstanceCapacity" in str(excinfo.value)
    assert client.describe_instances()["Reservations"] == []


def test_other_errors_are_not_mistaken_for_capacity(aws):
    client, subnets = aws
    proxy = CapacityIn(client, {subnets[0]}, code="UnauthorizedOperation")

    with pytest.raises(ClientError, match="UnauthorizedOperation"):
        ec2.launch(proxy, SPEC, ami_id="ami-12c6146b", settings=ec2.LaunchSettings(subnet_ids=subnets),
                   tags=TAGS, client_token="run1-0")
    assert proxy.attempts == [subnets[0]]


def test_terminate_waits_until_terminated(aws):
    client, subnets = aws
    ids = [ec2.launch(client, SPEC, ami_id="ami-12c6146b", settings=ec2.LaunchSettings(subnet_ids=subnets),
                      tags=TAGS, client_token=f"run1-{i}")["InstanceId"] for i in range(2)]

    ec2.terminate_instances(client, ids)

    states = {i["State"]["Name"] for r in client.describe_instances(InstanceIds=ids)["Reservations"]
              for i in r["Instances"]}
    assert states == {"terminated"}


# Ec2Host: the Host interface over moto's EC2 (in process), through the provider's hooks.

def _plan(instance_type: str) -> dict:
    from instance_benchmarks.catalog import describe_instance_types, spec_from_description
    from instance_benchmarks.planning import plan

    (described,) = describe_instance_types(boto3.client("ec2", region_name="us-east-1"), [instance_type])
    return plan(spec_from_description(described), target="aws", profile="quick", repetitions=2,
                time_budget_s=600).to_dict()


@pytest.fixture
def host(moto_env):
    boto3.client("iam", region_name="us-east-1").create_instance_profile(InstanceProfileName="instance-benchmarks")
    return ec2.Ec2Host(ec2.AwsSettings(aws_conn_id=None, region="us-east-1"))


def test_provision_launches_a_tagged_hardened_instance_in_a_no_inbound_group(host):
    handle = host.provision(_plan("m7g.large"), tags={**TAGS, "dag-id": "instance_benchmarks"})

    client = boto3.client("ec2", region_name="us-east-1")
    (instance,) = client.describe_instances(InstanceIds=[handle.host_id])["Reservations"][0]["Instances"]
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["project"] == "instance-benchmarks" and tags["market"] == "on-demand"
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["IamInstanceProfile"]["Arn"].endswith("/instance-benchmarks")
    groups = client.describe_security_groups(GroupIds=[g["GroupId"] for g in instance["SecurityGroups"]]
                                             )["SecurityGroups"]
    (group,) = [g for g in groups if g["GroupName"] == ec2.SECURITY_GROUP_NAME]  # moto adds the VPC's default too
    assert group["IpPermissions"] == []
    assert handle.details["ami_id"] == instance["ImageId"] and handle.details["architecture"] == "arm64"
    assert handle.details["availability_zone"] == instance["Placement"]["AvailabilityZone"]

    host.terminate(handle)
    (instance,) = client.describe_instances(InstanceIds=[handle.host_id])["Reservations"][0]["Instances"]
    assert instance["State"]["Name"] == "terminated"


def test_the_client_token_is_the_same_for_a_retried_task_and_differs_per_map_index():
    first = ec2.client_token("instance_benchmarks", "manual__1", "0", "m7i.large")

    assert first == ec2.client_token("instance_benchmarks", "manual__1", "0", "m7i.large")
    assert first != ec2.client_token("instance_benchmarks", "manual__1", "1", "m7i.large")
    assert len(first) + len("-o-5") <= 64  # RunInstances' limit, with the market and zone suffixes


def test_spot_without_capacity_falls_back_to_on_demand(host, monkeypatch):
    from tests.fakes.aws import AwsGaps, client_error

    def no_spot(client, params, passthrough):
        if params.get("InstanceMarketOptions"):
            raise client_error("InsufficientInstanceCapacity", "no spot capacity", "RunInstances")
        return passthrough()

    AwsGaps().install(monkeypatch).on("ec2", "RunInstances", no_spot)
    spot_first = ec2.Ec2Host(ec2.AwsSettings(aws_conn_id=None, region="us-east-1", market="spot-then-on-demand"))

    handle = spot_first.provision(_plan("c7i.large"), tags=TAGS)

    assert handle.details["market"] == "on-demand"
    with pytest.raises(CapacityUnavailable, match="spot: .*InsufficientInstanceCapacity"):
        ec2.Ec2Host(ec2.AwsSettings(aws_conn_id=None, region="us-east-1", market="spot")).provision(
            _plan("c7i.large"), tags=TAGS)


def test_over_quota_is_a_skip_with_the_reason(host, monkeypatch):
    from tests.fakes.aws import AwsGaps
    from tests.fakes.service_quotas import FakeServiceQuotas

    AwsGaps().install(monkeypatch).add_service_quotas(FakeServiceQuotas({"L-1216C47A": 4.0}))

    assert host.check_capacity(_plan("m7i.large"))["fits"]
    with pytest.raises(CapacityUnavailable, match="over quota: m7i.2xlarge needs 8 vCPUs; quota L-1216C47A"):
        host.check_capacity(_plan("m7i.2xlarge"))


def test_aws_without_instance_types_says_what_to_give(host):
    with pytest.raises(ValueError, match="target=aws needs instance_types"):
        host.specs([])


def test_exact_types_are_described_by_name_and_one_the_region_lacks_is_named(host, monkeypatch):
    """Named types are one DescribeInstanceTypes call with InstanceTypes (not the catalog's pages); where AWS refuses
    it because one is not offered, the whole catalog is read to say which, and the rest go on."""
    from tests.fakes.aws import AwsGaps

    asked: list[dict] = []
    gaps = AwsGaps().install(monkeypatch)
    gaps.wrap("ec2", "DescribeInstanceTypes", lambda c, params, passthrough: asked.append(params) or passthrough())

    assert [s.instance_type for s in host.specs(["m7i.large", "c7g.large"])] == ["c7g.large", "m7i.large"]
    assert [a.get("InstanceTypes") for a in asked] == [["c7g.large", "m7i.large"]]

    asked.clear()
    assert [s.instance_type for s in host.specs(["m7i.large", "zz9.large"])] == ["m7i.large"]
    assert asked[0]["InstanceTypes"] == ["m7i.large", "zz9.large"] and "InstanceTypes" not in asked[-1]


def test_a_provision_that_fails_after_run_instances_terminates_its_instance(host, monkeypatch):
    def broken_handle(**_):
        raise RuntimeError("XCom backend down")

    monkeypatch.setattr(ec2, "HostHandle", broken_handle)

    with pytest.raises(RuntimeError, match="XCom backend down"):
        host.provision(_plan("m7i.large"), tags=TAGS)

    client = boto3.client("ec2", region_name="us-east-1")
    states = [i["State"]["Name"] for r in client.describe_instances()["Reservations"] for i in r["Instances"]]
    assert states and set(states) <= {"shutting-down", "terminated"}


def test_a_type_s_hosts_start_in_different_zones(host):
    """instances_per_type: the k-th host tries the zones from the k-th on, so hosts spread where capacity allows."""
    subnets = ("subnet-a", "subnet-b", "subnet-c")
    assert ec2.spread_zones(subnets, 1) == subnets
    assert ec2.spread_zones(subnets, 2) == ("subnet-b", "subnet-c", "subnet-a")
    assert ec2.spread_zones(subnets, 4) == subnets and ec2.spread_zones((), 2) == ()

    zones = [host.provision({**_plan("m7i.large"), "replica": k, "replicas": 2},
                            tags={**TAGS, "map-index": str(k)}).details["availability_zone"] for k in (1, 2)]

    assert zones[0] != zones[1], zones


def test_a_retried_provision_gets_the_same_instance_back(host, monkeypatch):
    """Issue 17 item 1: the tags carried a clock time, so a retry's RunInstances differed from the first and AWS
    refused the reused ClientToken (IdempotentParameterMismatch): a lost worker's instance was never got back."""
    import time

    from instance_benchmarks import pipeline
    from tests.fakes.aws import AwsGaps

    AwsGaps().install(monkeypatch).honour_client_tokens()
    params = {"time_budget_s": 600, "agent_timeout_s": 900}
    tags = pipeline.tags_for(params, dag_id="instance_benchmarks", run_id="manual__1", map_index=0)

    first = host.provision(_plan("m7i.large"), tags=tags)
    time.sleep(1.1)  # a retry comes later: nothing may depend on when
    retried = host.provision(_plan("m7i.large"), tags=pipeline.tags_for(params, dag_id="instance_benchmarks",
                                                                         run_id="manual__1", map_index=0))
    other_index = host.provision(_plan("m7i.large"), tags={**tags, "map-index": "1"})

    assert retried.host_id == first.host_id != other_index.host_id
    reservations = boto3.client("ec2", region_name="us-east-1").describe_instances()["Reservations"]
    assert sorted(i["InstanceId"] for r in reservations for i in r["Instances"]) == sorted(
        [first.host_id, other_index.host_id])


def test_throttling_is_outlasted_by_the_retry_mode_and_says_so_when_attempts_run_out(moto_env, monkeypatch):
    from botocore.exceptions import ClientError as BotoClientError

    from tests.fakes.aws import Throttle

    throttle = Throttle(monkeypatch, "DescribeInstanceTypes", times=3)
    patient = ec2.Ec2Host(ec2.AwsSettings(aws_conn_id=None, region="us-east-1", max_attempts=5))

    (spec,) = patient.specs(["m7i.large"])

    assert spec.instance_type == "m7i.large" and throttle.attempts == 4  # three throttled, the fourth answered
    impatient = Throttle(monkeypatch, "DescribeInstanceTypes", times=3)
    with pytest.raises(BotoClientError, match="RequestLimitExceeded"):
        ec2.Ec2Host(ec2.AwsSettings(aws_conn_id=None, region="us-east-1", max_attempts=2)).specs(["m7i.large"])
    assert impatient.attempts == 2


def test_no_region_is_a_configuration_error_naming_what_to_set(no_aws_anywhere):
    host = ec2.Ec2Host(ec2.AwsSettings(aws_conn_id="not_a_connection"))

    with pytest.raises(ConfigurationError) as excinfo:
        host.check_configuration()

    message = str(excinfo.value)
    for what in ("`region` param", "region_name", "AWS_DEFAULT_REGION", "'not_a_connection' does not exist",
                 "AIRFLOW_CONN_NOT_A_CONNECTION"):
        assert what in message


def test_no_credentials_is_a_configuration_error_naming_what_to_set(no_aws_anywhere):
    host = ec2.Ec2Host(ec2.AwsSettings(aws_conn_id=None, region="eu-west-1"))

    with pytest.raises(ConfigurationError, match="found no AWS credentials .*AWS_ACCESS_KEY_ID"):
        host.check_configuration()


def test_refused_credentials_are_a_configuration_error_and_an_outage_is_not(moto_env, monkeypatch):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from botocore.exceptions import EndpointConnectionError
    from botocore.stub import Stubber

    sts = boto3.client("sts", region_name="us-east-1")
    stub = Stubber(sts)
    stub.add_client_error("get_caller_identity", "InvalidClientTokenId",
                          "The security token included in the request is invalid.", 403)
    monkeypatch.setattr(AwsBaseHook, "conn", property(lambda self: sts))
    host = ec2.Ec2Host(ec2.AwsSettings(aws_conn_id=None, region="us-east-1"))

    with stub, pytest.raises(ConfigurationError, match="refused the credentials .*InvalidClientTokenId"):
        host.check_configuration()

    def unreachable(**_):
        raise EndpointConnectionError(endpoint_url="https://sts.amazonaws.com")

    monkeypatch.setattr(sts, "get_caller_identity", unreachable)
    with pytest.raises(EndpointConnectionError):  # transient: the task's retries handle it
        host.check_configuration()


def test_a_usable_configuration_names_the_account_and_region(host):
    found = host.check_configuration()

    assert found["account"] == "123456789012" and found["region"] == "us-east-1"


def test_the_fake_refuses_a_reused_client_token_with_other_parameters_as_aws_does(host, monkeypatch):
    from tests.fakes.aws import AwsGaps

    AwsGaps().install(monkeypatch).honour_client_tokens()
    host.provision(_plan("m7i.large"), tags={**TAGS, "dag-id": "instance_benchmarks"})

    with pytest.raises(ClientError, match="IdempotentParameterMismatch"):
        host.provision(_plan("m7i.large"), tags={**TAGS, "dag-id": "instance_benchmarks", "ttl-seconds": "60"})


@pytest.mark.parametrize(("stdout", "image", "digest"), [
    # pulled: the instance reports repository@digest; runs go by that exact reference
    ("source=pulled\nimage=r.example/runner:intel-1\ndigest=r.example/runner@sha256:" + "ab" * 32 + "\n",
     "r.example/runner@sha256:" + "ab" * 32, "sha256:" + "ab" * 32),
    # built on the instance: no registry digest exists
    ("source=built\nimage=instance-benchmarks-runner:intel-1\ndigest=\n", "instance-benchmarks-runner:intel-1", None),
])
def test_the_prepared_image_is_pinned_by_the_digest_the_instance_reports(host, stdout, image, digest):
    handle = ec2.HostHandle(target="aws", host_id="i-0abc", instance_type="m7i.large",
                            details={"family": "intel"})

    prepared = host.finish_prepare(handle, {"status": "Success", "exit_code": 0, "stdout_tail": stdout,
                                            "stderr_tail": ""})

    assert prepared["image"] == image and prepared["digest"] == digest

