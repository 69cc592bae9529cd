"""The gap server answers what moto lacks over HTTP, through a provider hook's per-service endpoint."""

from __future__ import annotations

import json

import boto3
import pytest
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from tests.conftest import MOTO_ENV, moto_server
from tests.fakes.aws import AwsGaps, FakeSsm
from tests.fakes.gap_server import GapServer
from tests.fakes.service_quotas import FakeServiceQuotas


@pytest.fixture
def moto_endpoint():
    with moto_server() as endpoint:
        yield endpoint


def test_gaps_are_answered_and_the_rest_of_ssm_is_moto_s(moto_endpoint, monkeypatch):
    for name, value in MOTO_ENV.items():
        monkeypatch.setenv(name, value)
    gaps = AwsGaps()
    gaps.add_service_quotas(FakeServiceQuotas({"L-1216C47A": 32.0}))
    fake_ssm = FakeSsm(endpoint_url=moto_endpoint, agent_polls_before_online=0).install(gaps)
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_endpoint)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m7i.large")["Instances"][0]

    with GapServer(gaps, moto_endpoint=moto_endpoint) as server:
        monkeypatch.setenv("AIRFLOW_CONN_AWS_GAPS", json.dumps(
            {"conn_type": "aws", "login": "testing", "password": "testing",
             "extra": server.connection_extra("us-east-1")}))
        ssm = AwsBaseHook(aws_conn_id="aws_gaps", client_type="ssm").conn
        quotas = AwsBaseHook(aws_conn_id="aws_gaps", client_type="service-quotas").conn

        online = ssm.describe_instance_information(
            Filters=[{"Key": "InstanceIds", "Values": [instance["InstanceId"]]}])["InstanceInformationList"]
        ami = ssm.get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
        applied = quotas.list_service_quotas(ServiceCode="ec2")["Quotas"]
        with pytest.raises(ssm.exceptions.InvalidCommandId):
            ssm.cancel_command(CommandId="00000000-0000-0000-0000-000000000000")

    assert [i["InstanceId"] for i in online] == [instance["InstanceId"]] and online[0]["PingStatus"] == "Online"
    assert ami["Parameter"]["Value"].startswith("ami-")  # forwarded to moto
    assert {q["QuotaCode"]: q["Value"] for q in applied}["L-1216C47A"] == 32.0
    assert ("ssm", "GetParameter") in gaps.calls and ("ssm", "DescribeInstanceInformation") in gaps.calls
    fake_ssm.close()
