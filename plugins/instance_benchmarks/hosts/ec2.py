"""EC2 as a benchmark host: RunInstances, SSM Run Command, TerminateInstances.

The module-level functions are the EC2 calls (AMI resolution, launch with every
safety the design asks for, capacity fallback across zones, terminate and wait);
`Ec2Host` wires them, the quota check and the SSM scripts into the Host interface.
Every client comes from the Amazon provider's hooks, so the `aws_conn_id`
connection (credentials, region, `endpoint_url`) governs every call.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from instance_benchmarks import ssm
from instance_benchmarks.catalog import InstanceSpec
from instance_benchmarks.hosts.base import CapacityUnavailable, ConfigurationError, Host, HostHandle, RunOutcome
from instance_benchmarks.lifetime import COMMAND_DELIVERY_S, PREPARE_TIMEOUT_S, PROJECT_TAG

log = logging.getLogger(__name__)

# Amazon Linux 2023, the SSM agent preinstalled; public parameters in every region.
AMI_PARAMETERS = {
    "x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
}
ROOT_DEVICE = "/dev/xvda"  # AL2023's root device name
# A margin, not a measurement: the images cannot be built here (no Docker engine) to size them.
# Raise it if an on-instance build runs out of space.
ROOT_VOLUME_GIB = 40
# IMDSv2 only, and one hop: the benchmark containers run with no network and never need the
# instance's credentials (the host pulls the image and uploads the documents). The Airflow role's
# policy requires HttpTokens=required on every launch.
LAUNCH_METADATA_OPTIONS = {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1}
# Errors that mean "not here, not now": try the next zone, then skip the type with the reason.
CAPACITY_ERRORS = frozenset({
    "InsufficientInstanceCapacity", "InstanceLimitExceeded", "Unsupported", "VcpuLimitExceeded",
    "InsufficientCapacityOnHost", "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded",
})
# STS's answers when the credentials themselves are wrong (not a throttle or an outage): a configuration error.
REFUSED_CREDENTIALS = frozenset({
    "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
    "UnrecognizedClientException", "AuthFailure", "AccessDenied", "InvalidAccessKeyId",
})
MARKETS = ("on-demand", "spot", "spot-then-on-demand")
SECURITY_GROUP_NAME = "instance-benchmarks-no-inbound"


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
        "MetadataOptions": LAUNCH_METADATA_OPTIONS,
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


def client_token(*parts: object) -> str:
    """A RunInstances ClientToken from the run, map index and type: a retried task gets the same instance."""
    return "ib-" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:40]


def default_subnets(ec2_client: Any) -> tuple[str, ...]:
    """The default VPC's default subnet in each zone, in zone order (no subnet param given)."""
    subnets = ec2_client.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    if not subnets:
        raise ValueError("no subnet_ids given and this region has no default VPC: set the subnet_ids param")
    return tuple(s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"]))


def spread_zones(subnet_ids: tuple[str, ...], replica: int) -> tuple[str, ...]:
    """The subnets (one per zone) in the order a type's `replica`-th host tries them: its first choice is the
    zone after the previous host's, so a type's hosts land in different zones where capacity allows."""
    if not subnet_ids:
        return subnet_ids
    start = (replica - 1) % len(subnet_ids)
    return subnet_ids[start:] + subnet_ids[:start]


def no_inbound_security_group(ec2_client: Any, subnet_id: str) -> str:
    """The project's security group in the subnet's VPC (no inbound rule; SSM needs none), created once."""
    from botocore.exceptions import ClientError

    (subnet,) = ec2_client.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    vpc_id = subnet["VpcId"]
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [SECURITY_GROUP_NAME]}]
    for _ in range(2):
        found = ec2_client.describe_security_groups(Filters=filters)["SecurityGroups"]
        if found:
            return found[0]["GroupId"]
        try:
            return ec2_client.create_security_group(
                GroupName=SECURITY_GROUP_NAME, VpcId=vpc_id,
                Description="instance-benchmarks: no inbound rules, commands arrive through SSM",
                TagSpecifications=[{"ResourceType": "security-group",
                                    "Tags": [{"Key": "project", "Value": PROJECT_TAG}]}],
            )["GroupId"]
        except ClientError as exc:  # another mapped task created it first
            if exc.response["Error"]["Code"] != "InvalidGroup.Duplicate":
                raise
    raise RuntimeError(f"security group {SECURITY_GROUP_NAME} in {vpc_id} neither found nor created")


def bundled_context() -> bytes:
    """include/containers as a gzipped tar: what `docker build -` reads on the instance."""
    from instance_benchmarks.images import CONTEXT

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(CONTEXT, arcname=".", filter=lambda info: None if "__pycache__" in info.name else info)
    return buffer.getvalue()


def terminate_instances(ec2_client: Any, instance_ids: list[str], *, wait: bool = True) -> None:
    """Terminate and (by default) wait until AWS reports them terminated."""
    if not instance_ids:
        return
    ec2_client.terminate_instances(InstanceIds=instance_ids)
    log.info("Terminating %s", instance_ids)
    if wait:
        ec2_client.get_waiter("instance_terminated").wait(InstanceIds=instance_ids,
                                                          WaiterConfig={"Delay": 5, "MaxAttempts": 120})



@dataclass(frozen=True)
class AwsSettings:
    """The AWS params of a run (see params.py): which connection, where, and how to launch."""

    aws_conn_id: str | None = "aws_default"
    region: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    instance_profile: str | None = "instance-benchmarks"
    image_registry: str = ""
    market: str = "on-demand"
    public_ip: bool = False
    agent_timeout_s: int = 900
    poll_interval_s: float = 15.0
    max_attempts: int = 10  # botocore's standard retry mode: throttling and transient errors back off

    @property
    def botocore_config(self) -> dict[str, Any]:
        return {"retries": {"mode": "standard", "total_max_attempts": self.max_attempts}}  # the first call included

    def botocore(self) -> Any:
        """The same, as a botocore Config for a client."""
        from botocore.config import Config

        return Config(**self.botocore_config)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> AwsSettings:
        return cls(
            aws_conn_id=params.get("aws_conn_id") or None,
            region=params.get("region") or None,
            subnet_ids=tuple(params.get("subnet_ids") or ()),
            security_group_ids=tuple(params.get("security_group_ids") or ()),
            instance_profile=params.get("instance_profile") or None,
            image_registry=(params.get("image_registry") or "").rstrip("/"),
            market=params.get("market") or "on-demand",
            public_ip=bool(params.get("public_ip")),
            agent_timeout_s=int(params.get("agent_timeout_s") or cls.agent_timeout_s),
            poll_interval_s=float(params.get("poll_interval_s") or cls.poll_interval_s),
            max_attempts=int(params.get("aws_max_attempts") or cls.max_attempts),
        )


class Ec2Host(Host):
    """One EC2 instance per plan; commands through SSM; documents uploaded by the instance to S3."""

    target = "aws"

    def __init__(self, settings: AwsSettings) -> None:
        if settings.market not in MARKETS:
            raise ValueError(f"market must be one of {MARKETS}, got {settings.market!r}")
        self.settings = settings

    # Clients, each from the Amazon provider's hook for the service (one connection governs all).
    def _hook_kwargs(self) -> dict[str, Any]:
        return {"aws_conn_id": self.settings.aws_conn_id, "region_name": self.settings.region,
                "config": self.settings.botocore()}

    @cached_property
    def ec2(self) -> Any:
        from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook

        return EC2Hook(api_type="client_type", **self._hook_kwargs()).conn

    @cached_property
    def ssm(self) -> Any:
        from airflow.providers.amazon.aws.hooks.ssm import SsmHook

        return SsmHook(**self._hook_kwargs()).conn

    @cached_property
    def service_quotas(self) -> Any:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return AwsBaseHook(client_type="service-quotas", **self._hook_kwargs()).conn

    @property
    def region(self) -> str:
        return self.ec2.meta.region_name

    def check_configuration(self) -> dict[str, Any]:
        """The region and the credentials the run would use, proved by STS GetCallerIdentity (which needs no
        permission); a missing or refused one raises ConfigurationError naming what to set, before anything
        is planned or launched. An unreachable endpoint is left to the task's retries."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
        from botocore.exceptions import ClientError

        conn_id = self.settings.aws_conn_id
        hook = AwsBaseHook(client_type="sts", **self._hook_kwargs())
        source = f"the connection {conn_id!r}" if conn_id else "boto3's default chain (no aws_conn_id)"
        missing = ""
        if conn_id and not hook.conn_config:
            missing = (f" (the connection {conn_id!r} does not exist: create it in Admin > Connections, type Amazon "
                       f"Web Services, or as AIRFLOW_CONN_{conn_id.upper()})")
        session = hook.get_session(region_name=self.settings.region)
        region = self.settings.region or hook.region_name or session.region_name
        if not region:
            raise ConfigurationError(
                f"target=aws needs a region and none is set: give the run's `region` param (e.g. \"us-east-1\"), "
                f"set region_name in the extra of {source}, or set AWS_DEFAULT_REGION where the tasks run{missing}")
        if session.get_credentials() is None:
            raise ConfigurationError(
                f"target=aws found no AWS credentials through {source}: set an access key (login and password) "
                f"or a role_arn on the connection, or give the workers credentials (AWS_ACCESS_KEY_ID and "
                f"AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role){missing}")
        try:
            identity = hook.conn.get_caller_identity()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in REFUSED_CREDENTIALS:
                raise
            raise ConfigurationError(f"AWS refused the credentials of {source} ({code}: "
                                     f"{exc.response['Error'].get('Message', '')}): fix or renew them") from exc
        found = {"account": identity["Account"], "arn": identity["Arn"], "region": region, "source": source}
        log.info("AWS: %s in account %s, region %s, through %s", found["arn"], found["account"], region, source)
        return found

    # Host interface
    def specs(self, instance_types: list[str]) -> list[InstanceSpec]:
        from instance_benchmarks.catalog import load_catalog, resolve

        if not instance_types:
            raise ValueError("target=aws needs instance_types: e.g. [\"m7i.large\"], a family such as \"c7g\", "
                             "or [\"all\"]")
        from botocore.exceptions import ClientError

        kwargs = self._hook_kwargs()
        catalog_kwargs = {"aws_conn_id": kwargs["aws_conn_id"], "region_name": kwargs["region_name"],
                          "config": kwargs["config"]}
        catalog = None
        if all("." in name for name in instance_types):  # exact types only: describe just those
            try:
                catalog = load_catalog(**catalog_kwargs, instance_types=sorted(set(instance_types)))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "InvalidInstanceType":
                    raise
                log.info("Not every type is offered in %s (%s): reading the whole catalog to say which",
                         self.region, exc)
        selected, left_out = resolve(instance_types, catalog if catalog is not None else load_catalog(**catalog_kwargs))
        for name, reason in sorted(left_out.items()):
            log.warning("Left out %s: %s", name, reason)
        if not selected:
            raise ValueError(f"nothing to benchmark in {self.region} from {instance_types}: {left_out}")
        return selected

    def _markets(self) -> list[str]:
        return {"on-demand": ["on-demand"], "spot": ["spot"],
                "spot-then-on-demand": ["spot", "on-demand"]}[self.settings.market]

    def check_capacity(self, plan: dict[str, Any]) -> dict[str, Any]:
        from instance_benchmarks import quotas

        spec = InstanceSpec.from_dict(plan["spec"])
        listed = quotas.list_quotas(self.service_quotas)
        reasons = []
        for market in self._markets():
            try:
                check = quotas.check_vcpu_quota(self.service_quotas, self.ec2, spec, market=market, quotas=listed)
            except LookupError as exc:
                reasons.append(str(exc))
                continue
            if check.fits:
                return {**check.to_dict(), "markets": self._markets()}
            reasons.append(f"over quota: {check.reason()}")
        raise CapacityUnavailable("; ".join(reasons))

    def provision(self, plan: dict[str, Any], *, tags: dict[str, str]) -> HostHandle:
        spec = InstanceSpec.from_dict(plan["spec"])
        ami_id = resolve_ami(self.ssm, spec.architecture)
        subnets = spread_zones(self.settings.subnet_ids or default_subnets(self.ec2), plan.get("replica", 1))
        groups = self.settings.security_group_ids or (no_inbound_security_group(self.ec2, subnets[0]),)
        ttl_minutes = int(tags["ttl-seconds"]) // 60  # from the tags: the same on every try, like all of it
        base = LaunchSettings(subnet_ids=subnets, security_group_ids=groups,
                              instance_profile=self.settings.instance_profile, public_ip=self.settings.public_ip,
                              time_to_live_minutes=ttl_minutes)
        token = client_token(tags.get("dag-id"), tags.get("run-id"), tags.get("map-index"), spec.instance_type)
        reasons = []
        for market in self._markets():
            try:
                instance = launch(self.ec2, spec, ami_id=ami_id, settings=replace(base, spot=market == "spot"),
                                  tags={**tags, "market": market}, client_token=f"{token}-{market[0]}")
            except CapacityUnavailable as exc:
                reasons.append(f"{market}: {exc}")
                log.warning("%s: no %s capacity%s", spec.instance_type, market,
                            "; falling back to on-demand" if market == "spot" and len(self._markets()) > 1 else "")
                continue
            instance_id = instance["InstanceId"]
            try:
                zone = instance["Placement"]["AvailabilityZone"]
                log.info("%s is %s (%s, %s, AMI %s); it terminates itself after %d minutes at the latest",
                         spec.instance_type, instance_id, market, zone, ami_id, ttl_minutes)
                return HostHandle(target=self.target, host_id=instance_id, instance_type=spec.instance_type,
                                  details={"region": self.region, "availability_zone": zone,
                                           "subnet_id": instance.get("SubnetId"), "ami_id": ami_id,
                                           "market": market, "architecture": spec.architecture,
                                           "family": spec.family, "tags": tags,
                                           "launched_at": instance["LaunchTime"].isoformat()})
            except Exception:
                log.exception("Provision failed after RunInstances; terminating %s", instance_id)
                terminate_instances(self.ec2, [instance_id], wait=False)
                raise
        raise CapacityUnavailable("; ".join(reasons))

    # Container: pull the variant's image (or build it on the instance from the bundled context).
    def image_for(self, handle: HostHandle) -> str:
        from instance_benchmarks.images import LOCAL_REPOSITORY, VARIANT_FOR_FAMILY, runner_version

        variant = VARIANT_FOR_FAMILY[handle.details["family"]]
        repository = self.settings.image_registry or LOCAL_REPOSITORY
        return f"{repository}:{variant}-{runner_version()}"

    def prepare_commands(self, handle: HostHandle, *, context_uri: str | None) -> list[str]:
        from instance_benchmarks.images import VARIANT_FOR_FAMILY, VARIANTS, runner_version

        variant = VARIANTS[VARIANT_FOR_FAMILY[handle.details["family"]]]
        return ssm.container_script(
            image=self.image_for(handle), pull=bool(self.settings.image_registry), context_uri=context_uri,
            dockerfile=variant.dockerfile, bases=variant.bases, build_args={"RUNNER_VERSION": runner_version()})

    def upload_context(self, context_uri: str) -> None:
        from airflow.sdk import ObjectStoragePath

        path = ObjectStoragePath(context_uri, conn_id=self.settings.aws_conn_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bundled_context())

    def start(self, handle: HostHandle, commands: list[str], *, timeout_s: float, comment: str) -> dict[str, Any]:
        """Send one script; what SsmCommandTrigger needs to wait for it."""
        command_id = ssm.send(self.ssm, instance_id=handle.host_id, commands=commands, timeout_s=int(timeout_s),
                              comment=comment)
        log.info("Sent SSM command %s to %s (%s): %s", command_id, handle.host_id, handle.instance_type, comment)
        return {"command_id": command_id, "instance_id": handle.host_id,
                "timeout_s": int(timeout_s) + COMMAND_DELIVERY_S}

    def finish_prepare(self, handle: HostHandle, result: dict[str, Any]) -> dict[str, Any]:
        if result["status"] != "Success":
            raise RuntimeError(f"getting the runner image on {handle.host_id} ended {result['status']} "
                               f"(exit {result['exit_code']}): {result['stderr_tail'][-1000:]}")
        found = ssm.parse_container_output(result["stdout_tail"])
        # `docker image inspect` gives repository@sha256:...: a pulled image then runs by that exact
        # reference and the documents keep the bare digest; an image built on the instance has none.
        repo_digest = found.get("digest") or ""
        pinned = "@" in repo_digest
        prepared = {"mode": "container",
                    "image": repo_digest if pinned else found.get("image") or self.image_for(handle),
                    "source": found.get("source") or "unknown",
                    "digest": repo_digest.split("@", 1)[1] if pinned else None}
        log.info("Runner image on %s: %s", handle.host_id, prepared)
        return prepared

    def run_commands(self, handle: HostHandle, args: list[str], *, staging_uri: str, env: dict[str, str],
                     prepared: dict[str, Any]) -> list[str]:
        details = handle.details
        identity = {"BENCHRUN_TARGET": "aws", "BENCHRUN_INSTANCE_ID": handle.host_id,
                    "BENCHRUN_REGION": details.get("region", ""),
                    "BENCHRUN_AVAILABILITY_ZONE": details.get("availability_zone", ""),
                    "BENCHRUN_AMI_ID": details.get("ami_id", ""),
                    "BENCHRUN_CONTAINER_DIGEST": prepared.get("digest") or ""}
        return ssm.runner_script(image=prepared["image"], benchrun_args=args, staging_uri=staging_uri,
                                 env={**identity, **env})

    def finish_run(self, handle: HostHandle, result: dict[str, Any], *, staging_uri: str) -> RunOutcome:
        """The run's outcome; its document counts only if the instance really uploaded it."""
        from airflow.sdk import ObjectStoragePath

        code = result["exit_code"] if isinstance(result.get("exit_code"), int) else -1
        tail = result.get("stderr_tail") or ""
        notes = []
        interrupted = result["status"] == "interrupted"  # the trigger saw AWS reclaim the spot instance
        if interrupted:
            code = code or -1
            notes.append(result.get("stderr_tail") or "interrupted: AWS reclaimed the spot instance")
        elif result["status"] != "Success":
            code = code or -1
            notes.append(f"SSM status {result['status']} ({result.get('status_details')})")
        staged = ssm.staged_by(ObjectStoragePath(staging_uri, conn_id=self.settings.aws_conn_id), handle.host_id)
        if staged is None:
            notes.append(f"no document from {handle.host_id} beside {staging_uri}: the instance uploaded nothing "
                         f"(SSM said {result['status']}, exit {result.get('exit_code')})")
            return RunOutcome(staged_uri=None, exit_code=code or -1, stderr_tail=tail, note="; ".join(notes),
                              interrupted=interrupted)
        return RunOutcome(staged_uri=staged.as_uri(), exit_code=code, stderr_tail=tail if code else "",
                          note="; ".join(notes), interrupted=interrupted)

    def start_prepare(self, handle: HostHandle, *, context_uri: str | None) -> dict[str, Any]:
        """Upload the build context (if any) and send the container script."""
        if context_uri:
            self.upload_context(context_uri)
        return self.start(handle, self.prepare_commands(handle, context_uri=context_uri), timeout_s=PREPARE_TIMEOUT_S,
                          comment=f"instance-benchmarks image for {handle.instance_type}")

    def start_run(self, handle: HostHandle, args: list[str], *, staging_uri: str, timeout_s: float,
                  env: dict[str, str], prepared: dict[str, Any]) -> dict[str, Any]:
        """Send the benchrun script for `args` into the prepared image."""
        commands = self.run_commands(handle, args, staging_uri=staging_uri, env=env, prepared=prepared)
        return self.start(handle, commands, timeout_s=timeout_s,
                          comment=f"instance-benchmarks {args[0]} on {handle.instance_type}")

    # On EC2 these stages are deferred: HostCommandOperator sends (start_prepare, start_run) and
    # SsmCommandTrigger waits; nothing blocks a worker polling SSM.
    def prepare(self, handle: HostHandle, *, context_uri: str | None = None) -> dict[str, Any]:
        raise NotImplementedError("EC2 hosts are prepared by HostCommandOperator (start_prepare, then the trigger)")

    def run(self, handle: HostHandle, args: list[str], *, staging_uri: str, timeout_s: float,
            env: dict[str, str], prepared: dict[str, Any] | None = None) -> RunOutcome:
        raise NotImplementedError("EC2 benchmarks run through HostCommandOperator (start_run, then the trigger)")

    def terminate(self, handle: HostHandle, *, wait: bool = True) -> None:
        terminate_instances(self.ec2, [handle.host_id], wait=wait)
        log.info("%s (%s) is %s", handle.host_id, handle.instance_type, "terminated" if wait else "terminating")
