"""EC2 as a benchmark host: RunInstances, SSM Run Command, TerminateInstances.

This module holds the EC2 calls the AWS target is built from (AMI resolution,
launch with every safety the design asks for, capacity fallback across zones,
terminate and wait). The `Ec2Host` that wires them into the DAG, with the SSM
side, lands with the AWS-path issue (#4): until then `target=aws` fails fast,
before anything is launched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, NoReturn

from instance_benchmarks.catalog import InstanceSpec
from instance_benchmarks.hosts.base import CapacityUnavailable, Host, HostHandle, RunOutcome

log = logging.getLogger(__name__)

NOT_IMPLEMENTED = (
    "target=aws is not implemented yet (it lands with the AWS-path issue #4). "
    "Use target=local to benchmark this machine."
)

# Amazon Linux 2023, the SSM agent preinstalled; public parameters in every region.
AMI_PARAMETERS = {
    "x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
}
ROOT_DEVICE = "/dev/xvda"  # AL2023's root device name
ROOT_VOLUME_GIB = 30  # the OS, docker, and the largest runner image with headroom
# Errors that mean "not here, not now": try the next zone, then skip the type with the reason.
CAPACITY_ERRORS = frozenset({
    "InsufficientInstanceCapacity", "InstanceLimitExceeded", "Unsupported", "VcpuLimitExceeded",
    "InsufficientCapacityOnHost", "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded",
})


def resolve_ami(ssm_client: Any, architecture: str) -> str:
    """The current AL2023 AMI for `architecture` from its public SSM parameter."""
    if architecture not in AMI_PARAMETERS:
        raise ValueError(f"no AMI parameter for architecture {architecture!r}")
    return ssm_client.get_parameter(Name=AMI_PARAMETERS[architecture])["Parameter"]["Value"]


def user_data(time_to_live_minutes: int) -> str:
    """Cloud-init script: the in-guest shutdown timer is the last line of defence.

    With InstanceInitiatedShutdownBehavior=terminate, `shutdown -h` terminates the
    instance even if Airflow, the teardown and the janitor all fail.
    """
    return (
        "#!/bin/bash\n"
        f"shutdown -h +{int(time_to_live_minutes)} 'instance-benchmarks: time-to-live reached'\n"
        "dnf install -y docker numactl && systemctl enable --now docker\n"
    )


@dataclass(frozen=True)
class LaunchSettings:
    subnet_ids: tuple[str, ...]  # one per zone to try, in order
    security_group_ids: tuple[str, ...] = ()
    instance_profile: str | None = None
    spot: bool = False
    public_ip: bool = False
    time_to_live_minutes: int = 120


def run_instances_request(spec: InstanceSpec, *, ami_id: str, subnet_id: str, settings: LaunchSettings,
                          tags: dict[str, str], client_token: str) -> dict[str, Any]:
    """The RunInstances arguments: IMDSv2, encrypted root, tags, idempotency token, self-termination."""
    tag_list = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    network = {"DeviceIndex": 0, "SubnetId": subnet_id, "AssociatePublicIpAddress": settings.public_ip}
    if settings.security_group_ids:
        network["Groups"] = list(settings.security_group_ids)
    request: dict[str, Any] = {
        "ImageId": ami_id,
        "InstanceType": spec.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "ClientToken": client_token,
        "NetworkInterfaces": [network],
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2},
        "BlockDeviceMappings": [{"DeviceName": ROOT_DEVICE, "Ebs": {
            "VolumeSize": ROOT_VOLUME_GIB, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True}}],
        "InstanceInitiatedShutdownBehavior": "terminate",
        # Plain text: boto3 base64-encodes UserData itself (encoding it here sends it twice encoded,
        # and cloud-init would not run the shutdown timer).
        "UserData": user_data(settings.time_to_live_minutes),
        "TagSpecifications": [{"ResourceType": "instance", "Tags": tag_list},
                              {"ResourceType": "volume", "Tags": tag_list}],
    }
    if settings.instance_profile:
        request["IamInstanceProfile"] = {"Name": settings.instance_profile}
    if settings.spot:
        request["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {
            "SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}}
    return request


def launch(ec2_client: Any, spec: InstanceSpec, *, ami_id: str, settings: LaunchSettings, tags: dict[str, str],
           client_token: str) -> dict[str, Any]:
    """Launch one instance, trying each subnet (zone) in turn on capacity errors.

    Returns the instance description. Raises CapacityUnavailable with every zone's
    reason when none had room; any other error propagates.
    """
    from botocore.exceptions import ClientError

    reasons = []
    for index, subnet_id in enumerate(settings.subnet_ids):
        token = f"{client_token}-{index}"  # one idempotent request per zone tried
        request = run_instances_request(spec, ami_id=ami_id, subnet_id=subnet_id, settings=settings, tags=tags,
                                        client_token=token)
        try:
            response = ec2_client.run_instances(**request)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code not in CAPACITY_ERRORS:
                raise
            reasons.append(f"{subnet_id}: {code}: {exc.response['Error'].get('Message', '')}".strip())
            log.warning("No capacity for %s in %s (%s); trying the next zone", spec.instance_type, subnet_id, code)
            continue
        (instance,) = response["Instances"]
        log.info("Launched %s as %s in %s", spec.instance_type, instance["InstanceId"], subnet_id)
        return instance
    raise CapacityUnavailable(f"{spec.instance_type}: no capacity in any zone tried: " + "; ".join(reasons))


def wait_running(ec2_client: Any, instance_id: str) -> None:
    """Wait until running; on failure terminate what was made before re-raising (no half-made instance)."""
    try:
        ec2_client.get_waiter("instance_running").wait(InstanceIds=[instance_id],
                                                       WaiterConfig={"Delay": 5, "MaxAttempts": 60})
    except Exception:
        log.exception("%s did not reach running; terminating it", instance_id)
        terminate_instances(ec2_client, [instance_id])
        raise


def terminate_instances(ec2_client: Any, instance_ids: list[str], *, wait: bool = True) -> None:
    """Terminate and (by default) wait until AWS reports them terminated."""
    if not instance_ids:
        return
    ec2_client.terminate_instances(InstanceIds=instance_ids)
    log.info("Terminating %s", instance_ids)
    if wait:
        ec2_client.get_waiter("instance_terminated").wait(InstanceIds=instance_ids,
                                                          WaiterConfig={"Delay": 5, "MaxAttempts": 120})


class Ec2Host(Host):
    target = "aws"

    def _refuse(self) -> NoReturn:
        raise NotImplementedError(NOT_IMPLEMENTED)

    def specs(self, instance_types: list[str]) -> list[InstanceSpec]:
        self._refuse()

    def check_capacity(self, plan: dict[str, Any]) -> dict[str, Any]:
        self._refuse()

    def provision(self, plan: dict[str, Any], *, tags: dict[str, str]) -> HostHandle:
        self._refuse()

    def prepare(self, handle: HostHandle) -> dict[str, Any]:
        self._refuse()

    def run(self, handle: HostHandle, args: list[str], *, staging_uri: str, timeout_s: float,
            env: dict[str, str]) -> RunOutcome:
        self._refuse()

    def terminate(self, handle: HostHandle) -> None:
        self._refuse()
