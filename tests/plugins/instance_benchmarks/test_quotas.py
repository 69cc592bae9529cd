"""The vCPU quota check: quotas found by their AWS names, vCPUs in use counted from moto's EC2."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from instance_benchmarks import quotas
from instance_benchmarks.catalog import InstanceSpec
from tests.fakes.service_quotas import FakeServiceQuotas


def spec(name: str, vcpus: int) -> InstanceSpec:
    return InstanceSpec(instance_type=name, family="intel", architecture="x86_64", cpu_model="Intel", vcpus=vcpus,
                        physical_cores=vcpus // 2 or 1, memory_bytes=2**33, last_level_cache_bytes=0)


@pytest.fixture
def ec2(moto_env):
    return boto3.client("ec2", region_name="us-east-1")


@pytest.mark.parametrize(("instance_type", "market", "code"), [
    ("m7i.large", "on-demand", "L-1216C47A"), ("c7g.large", "spot", "L-34B43A08"),
    ("g5.xlarge", "on-demand", "L-DB2E81BA"), ("p4d.24xlarge", "spot", "L-7212CCBC"),
    ("dl1.24xlarge", "on-demand", "TEST-DL-ON-DEMAND"), ("r7a.large", "on-demand", "L-1216C47A"),
])
def test_the_quota_is_found_by_its_aws_name(instance_type, market, code):
    found = quotas.find_quota(quotas.list_quotas(FakeServiceQuotas()), instance_type, market)

    assert found["QuotaCode"] == code


def test_applied_values_win_over_defaults():
    listed = {q["QuotaCode"]: q["Value"] for q in quotas.list_quotas(FakeServiceQuotas({"L-1216C47A": 32.0}))}

    assert listed["L-1216C47A"] == 32.0 and listed["L-34B43A08"] == 1152.0


def test_running_vcpus_count_against_the_quota(ec2):
    ec2.run_instances(ImageId="ami-12c6146b", InstanceType="m7i.2xlarge", MinCount=2, MaxCount=2)
    ec2.run_instances(ImageId="ami-12c6146b", InstanceType="g5.xlarge", MinCount=1, MaxCount=1)  # other class
    fake = FakeServiceQuotas({"L-1216C47A": 20.0})

    check = quotas.check_vcpu_quota(fake, ec2, spec("m7i.xlarge", 4))
    too_big = quotas.check_vcpu_quota(fake, ec2, spec("m7i.2xlarge", 8))

    assert check.in_use_vcpus == 16 and check.limit_vcpus == 20 and check.fits
    assert not too_big.fits
    assert too_big.reason() == ("m7i.2xlarge needs 8 vCPUs; quota L-1216C47A 'Running On-Demand Standard "
                                "(A, C, D, H, I, M, R, T, Z) instances' is 20 with 16 in use")


def test_a_zero_quota_does_not_fit(ec2):
    check = quotas.check_vcpu_quota(FakeServiceQuotas(), ec2, spec("p4d.24xlarge", 96))

    assert check.limit_vcpus == 0 and not check.fits


def test_no_quota_for_the_type_is_an_error(ec2):
    with pytest.raises(LookupError, match="x2idn.large"):
        quotas.check_vcpu_quota(FakeServiceQuotas(), ec2, spec("x2idn.large", 2))


def test_the_fake_refuses_unknown_services_like_aws():
    with pytest.raises(ClientError, match="NoSuchResourceException"):
        list(FakeServiceQuotas().get_paginator("list_service_quotas").paginate(ServiceCode="vpc2"))
