"""Service Quotas: does an instance type fit the account's vCPU quota right now?

EC2 limits running vCPUs per instance class and market ("Running On-Demand Standard
(A, C, D, H, I, M, R, T, Z) instances", "All P Spot Instance Requests", ...). The
quota is found by that published name in the account's own ListServiceQuotas answer
(applied values, then AWS defaults), so no table of quota codes can go stale here;
the vCPUs in use are summed from DescribeInstances for the same class and market.
The Amazon provider has no Service Quotas hook: callers pass
`AwsBaseHook(client_type="service-quotas").conn`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

from instance_benchmarks.catalog import InstanceSpec, describe_instance_types, parse_instance_type

log = logging.getLogger(__name__)

SERVICE_CODE = "ec2"
_ON_DEMAND = re.compile(r"^Running On-Demand (?P<cls>.+) instances$")
_SPOT = re.compile(r"^All (?P<cls>.+) Spot Instance Requests$")


@dataclass(frozen=True)
class QuotaCheck:
    instance_type: str
    market: str
    quota_name: str
    quota_code: str
    limit_vcpus: float
    in_use_vcpus: int
    needed_vcpus: int

    @property
    def fits(self) -> bool:
        return self.in_use_vcpus + self.needed_vcpus <= self.limit_vcpus

    def reason(self) -> str:
        return (f"{self.instance_type} needs {self.needed_vcpus} vCPUs; quota {self.quota_code} "
                f"'{self.quota_name}' is {self.limit_vcpus:g} with {self.in_use_vcpus} in use")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fits": self.fits}


def quota_class(quota_name: str, market: str) -> str | None:
    """'Running On-Demand P instances' -> 'P' (for the on-demand market); None if not a vCPU quota of it."""
    match = (_ON_DEMAND if market == "on-demand" else _SPOT).match(quota_name)
    return match.group("cls") if match else None


def class_matches(quota_cls: str, series: str) -> bool:
    """Does the quota class 'Standard (A, C, D, ...)', 'G and VT', 'High Memory', 'DL', ... cover this series?"""
    if series.startswith("u-"):
        return quota_cls == "High Memory"
    letters = re.search(r"\(([^)]*)\)", quota_cls)
    if letters:  # Standard (A, C, D, H, I, M, R, T, Z): the series' first letter
        return series[:1].upper() in {x.strip() for x in letters.group(1).split(",")}
    names = {token.upper() for token in re.split(r"\s+and\s+|\s+", quota_cls)}
    return series.upper() in names


def find_quota(quotas: list[dict[str, Any]], instance_type: str, market: str) -> dict[str, Any] | None:
    parts = parse_instance_type(instance_type)
    if not parts:
        return None
    series = parts["series"]
    # A named class (P, DL, Inf, X...) before the Standard letter list, so 'dl' never matches 'D'.
    ranked = sorted(quotas, key=lambda q: "(" in q.get("QuotaName", ""))
    for quota in ranked:
        cls = quota_class(quota.get("QuotaName", ""), market)
        if cls and class_matches(cls, series):
            return quota
    return None


def list_quotas(quotas_client: Any) -> list[dict[str, Any]]:
    """The account's EC2 quotas: applied values, completed by AWS defaults for the rest."""
    found: dict[str, dict[str, Any]] = {}
    for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
        for page in quotas_client.get_paginator(operation).paginate(ServiceCode=SERVICE_CODE):
            for quota in page["Quotas"]:
                found.setdefault(quota["QuotaCode"], quota)
    return list(found.values())


def vcpus_in_use(ec2_client: Any, quota_cls: str, market: str) -> int:
    """vCPUs of pending and running instances of this quota class and market.

    From each instance's CpuOptions; where a description lacks them, the type's default
    vCPUs (never a guess of one: undercounting would launch past the quota).
    """
    counted, unknown = 0, []
    paginator = ec2_client.get_paginator("describe_instances")
    filters = [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    for page in paginator.paginate(Filters=filters):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                if (instance.get("InstanceLifecycle") == "spot") != (market == "spot"):
                    continue
                parts = parse_instance_type(instance["InstanceType"])
                if not parts or not class_matches(quota_cls, parts["series"]):
                    continue
                cpu = instance.get("CpuOptions") or {}
                if cpu.get("CoreCount") and cpu.get("ThreadsPerCore"):
                    counted += cpu["CoreCount"] * cpu["ThreadsPerCore"]
                else:
                    unknown.append(instance["InstanceType"])
    if unknown:
        defaults = {d["InstanceType"]: d["VCpuInfo"]["DefaultVCpus"]
                    for d in describe_instance_types(ec2_client, sorted(set(unknown)))}
        counted += sum(defaults[name] for name in unknown)
    return counted


def check_vcpu_quota(quotas_client: Any, ec2_client: Any, spec: InstanceSpec, *, market: str = "on-demand",
                     quotas: list[dict[str, Any]] | None = None) -> QuotaCheck:
    """Whether `spec` fits its vCPU quota now. Raises LookupError if no quota covers it."""
    quotas = quotas if quotas is not None else list_quotas(quotas_client)
    quota = find_quota(quotas, spec.instance_type, market)
    if quota is None:
        raise LookupError(f"no {market} vCPU quota in Service Quotas covers {spec.instance_type}")
    cls = quota_class(quota["QuotaName"], market)
    check = QuotaCheck(instance_type=spec.instance_type, market=market, quota_name=quota["QuotaName"],
                       quota_code=quota["QuotaCode"], limit_vcpus=float(quota["Value"]),
                       in_use_vcpus=vcpus_in_use(ec2_client, cls or "", market), needed_vcpus=spec.vcpus)
    log.info("%s: %s", "fits" if check.fits else "does not fit", check.reason())
    return check
