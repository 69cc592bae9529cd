"""What a host is: InstanceSpec, its architecture family, and the EC2 catalog.

Two sources: this machine (from `benchrun topology`), and EC2's DescribeInstanceTypes
through the Amazon provider's EC2Hook and boto3's paginator (real AWS pages by 100;
moto answers in one page, so only the paginator is correct for both).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Any

LOCAL_INSTANCE_TYPE = "local"
ALL = "all"

# series, generation, attributes, an optional -variant, size: m7i.large, c7gn.16xlarge, m7i-flex.large,
# mac2-m2pro.metal, u7i-12tb.224xlarge, c7a.metal-48xl; the high-memory u-<memory><generation> names
# (u-6tb1.metal); and Apple's mac-<chip> names, whose generation is the chip's (mac-m4pro.metal).
_INSTANCE_TYPE = re.compile(
    r"^(?P<family>(?P<series>[a-z]+)(?:-(?P<memory>\d+tb)(?P<memory_generation>\d+)"
    r"|-(?P<chip>[a-z]+(?P<chip_generation>\d+)[a-z]*)"
    r"|(?P<generation>\d+)(?P<attributes>[a-z]*)(?:-(?P<variant>[a-z0-9]+))?))\.(?P<size>[a-z0-9][a-z0-9-]*)$")
_MANUFACTURER_FAMILY = {"Intel": "intel", "AMD": "amd", "AWS": "graviton"}


@dataclass(frozen=True)
class InstanceSpec:
    instance_type: str
    family: str  # architecture family: intel, amd, graviton, other
    architecture: str
    cpu_model: str
    vcpus: int
    physical_cores: int
    memory_bytes: int
    last_level_cache_bytes: int  # 0 where unknown until the host is measured
    instance_family: str = ""  # e.g. m7i
    generation: int | None = None
    current_generation: bool = True
    bare_metal: bool = False
    burstable: bool = False
    accelerators: tuple[str, ...] = ()  # gpu, fpga, inference, neuron
    sustained_clock_ghz: float | None = None
    llc_instance_bytes: int = 0  # the largest last-level cache one core can fill (one CCD's, one socket's)
    cache_bytes: int = 0  # L2 and up, summed over all instances: what STREAM's arrays are sized from (0: unknown)
    core_cache_bytes: int = 0  # one core's L2 and the largest last-level instance (0: unknown)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["accelerators"] = list(self.accelerators)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceSpec:
        return cls(**{**data, "accelerators": tuple(data.get("accelerators") or ())})


def local_spec(topology: dict[str, Any]) -> InstanceSpec:
    """This machine as an InstanceSpec, from the runner's topology document."""
    return InstanceSpec(
        instance_type=LOCAL_INSTANCE_TYPE,
        family=topology["architecture_family"],
        architecture=topology["architecture"],
        cpu_model=topology["cpu_model"],
        vcpus=topology["logical_cpus"],
        physical_cores=topology["physical_cores"],
        memory_bytes=topology["memory_total_bytes"],
        last_level_cache_bytes=topology["last_level_cache_bytes"],
        llc_instance_bytes=topology.get("llc_instance_bytes") or 0,
        cache_bytes=topology.get("cache_bytes") or 0,
        core_cache_bytes=topology.get("core_cache_bytes") or 0,
        instance_family=LOCAL_INSTANCE_TYPE,
    )


def parse_instance_type(name: str) -> dict[str, Any] | None:
    """'m7i.large' -> {family: 'm7i', series: 'm', generation: 7, attributes: 'i', variant: '', size: 'large'}."""
    match = _INSTANCE_TYPE.match(name)
    if not match:
        return None
    parts = match.groupdict()
    generation = parts["generation"] or parts["memory_generation"] or parts["chip_generation"]
    return {"family": parts["family"], "series": parts["series"], "generation": int(generation),
            "attributes": parts["attributes"] or "",
            "variant": parts["variant"] or parts["memory"] or parts["chip"] or "", "size": parts["size"]}


def architecture_family(manufacturer: str | None, architectures: list[str], instance_type: str) -> str:
    """intel, amd, graviton or other: by the processor's manufacturer, else by the type's name."""
    if manufacturer in _MANUFACTURER_FAMILY:
        return _MANUFACTURER_FAMILY[manufacturer]
    if manufacturer:  # Apple (mac2), or a maker the project has no task group for
        return "other"
    parts = parse_instance_type(instance_type) or {}
    attributes = parts.get("attributes", "")
    if "arm64" in architectures:
        return "graviton" if "arm64_mac" not in architectures else "other"
    if "a" in attributes:
        return "amd"
    return "intel" if "x86_64" in architectures else "other"


def spec_from_description(described: dict[str, Any]) -> InstanceSpec:
    """One entry of DescribeInstanceTypes as an InstanceSpec."""
    name = described["InstanceType"]
    processor = described.get("ProcessorInfo") or {}
    vcpu = described.get("VCpuInfo") or {}
    architectures = processor.get("SupportedArchitectures") or []
    accelerators = tuple(
        kind for kind, key in (("gpu", "GpuInfo"), ("fpga", "FpgaInfo"), ("inference", "InferenceAcceleratorInfo"),
                               ("neuron", "NeuronInfo"))
        if described.get(key)
    )
    parts = parse_instance_type(name) or {}
    return InstanceSpec(
        instance_type=name,
        family=architecture_family(processor.get("Manufacturer"), architectures, name),
        architecture=architectures[0] if architectures else "unknown",
        cpu_model=processor.get("Manufacturer") or "unknown",
        vcpus=vcpu.get("DefaultVCpus", 0),
        physical_cores=vcpu.get("DefaultCores") or vcpu.get("DefaultVCpus", 0),
        memory_bytes=(described.get("MemoryInfo") or {}).get("SizeInMiB", 0) * 2**20,
        last_level_cache_bytes=0,
        instance_family=parts.get("family", name.split(".", 1)[0]),
        generation=parts.get("generation"),
        current_generation=bool(described.get("CurrentGeneration", False)),
        bare_metal=bool(described.get("BareMetal", False)),
        burstable=bool(described.get("BurstablePerformanceSupported", False)),
        accelerators=accelerators,
        sustained_clock_ghz=processor.get("SustainedClockSpeedInGhz"),
    )


# What DescribeInstanceTypes says of a type that moves its figures: a change in any of them is a reason to measure
# it again (issue 30: the weekly plan's `aws_changed` signal, diffed between the catalog's dates).
FINGERPRINT_FIELDS = (("ProcessorInfo", "Manufacturer"), ("ProcessorInfo", "SustainedClockSpeedInGhz"),
                      ("ProcessorInfo", "SupportedFeatures"), ("ProcessorInfo", "SupportedArchitectures"),
                      ("Hypervisor",), ("MemoryInfo", "SizeInMiB"), ("VCpuInfo", "DefaultVCpus"),
                      ("VCpuInfo", "DefaultCores"), ("VCpuInfo", "DefaultThreadsPerCore"), ("BareMetal",))


def fingerprint(described: dict[str, Any]) -> str:
    """A short digest of the FINGERPRINT_FIELDS of one DescribeInstanceTypes entry (lists sorted: order is not
    a change)."""
    picked = {}
    for path in FINGERPRINT_FIELDS:
        value: Any = described
        for key in path:
            value = (value or {}).get(key) if isinstance(value, dict) else None
        picked[".".join(path)] = sorted(value) if isinstance(value, list) else value
    return hashlib.sha256(json.dumps(picked, sort_keys=True, default=str).encode()).hexdigest()[:16]


def spec_from_row(row: dict[str, Any]) -> InstanceSpec:
    """A published catalog row (catalog_rows) as an InstanceSpec, as spec_from_description made it."""
    return InstanceSpec(
        instance_type=row["instance_type"], family=row["architecture_family"], architecture=row["architecture"],
        cpu_model=row["processor"], vcpus=int(row["vcpus"]), physical_cores=int(row["physical_cores"]),
        memory_bytes=int(row["memory_bytes"]), last_level_cache_bytes=0, instance_family=row["instance_family"],
        generation=None if _missing(row.get("generation")) else int(row["generation"]),
        current_generation=bool(row["current_generation"]), bare_metal=bool(row["bare_metal"]),
        burstable=bool(row["burstable"]),
        accelerators=tuple(a for a in (row.get("accelerators") or "").split(",") if a),
        sustained_clock_ghz=None if _missing(row.get("sustained_clock_ghz")) else float(row["sustained_clock_ghz"]),
    )


def _missing(value: Any) -> bool:
    """None, or a Parquet null read back through pandas (NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def describe_instance_types(ec2_client: Any, instance_types: list[str] | None = None) -> list[dict[str, Any]]:
    """Every page of DescribeInstanceTypes (all types, or the named ones)."""
    paginator = ec2_client.get_paginator("describe_instance_types")
    kwargs: dict[str, Any] = {"PaginationConfig": {"PageSize": 100}}
    if instance_types:
        kwargs = {"InstanceTypes": instance_types}  # explicit names are not paginated by size
    return [item for page in paginator.paginate(**kwargs) for item in page["InstanceTypes"]]


def describe_offerings(ec2_client: Any) -> dict[str, list[str]]:
    """{instance type: [availability zones offering it]} (DescribeInstanceTypeOfferings, paginated)."""
    zones: dict[str, list[str]] = {}
    paginator = ec2_client.get_paginator("describe_instance_type_offerings")
    for page in paginator.paginate(LocationType="availability-zone"):
        for offering in page["InstanceTypeOfferings"]:
            zones.setdefault(offering["InstanceType"], []).append(offering["Location"])
    return {name: sorted(found) for name, found in zones.items()}


def catalog_rows(specs: list[InstanceSpec], offerings: dict[str, list[str]], *, region: str,
                 fingerprints: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The published catalog: one row per type, classified, with why it is left out of `all` (if it is), and the
    fingerprint of what AWS said of it (`fingerprints`, by type)."""
    rows = []
    for spec in specs:
        parts = parse_instance_type(spec.instance_type) or {}
        reason = benchmarkable(spec)
        rows.append({
            "region": region, "instance_type": spec.instance_type, "instance_family": spec.instance_family,
            "series": parts.get("series"), "generation": spec.generation, "size": parts.get("size"),
            "architecture_family": spec.family, "architecture": spec.architecture, "processor": spec.cpu_model,
            "vcpus": spec.vcpus, "physical_cores": spec.physical_cores, "memory_bytes": spec.memory_bytes,
            "sustained_clock_ghz": spec.sustained_clock_ghz, "current_generation": spec.current_generation,
            "bare_metal": spec.bare_metal, "burstable": spec.burstable, "accelerators": ",".join(spec.accelerators),
            "benchmarkable": reason is None, "left_out_because": reason,
            "zones": ",".join(offerings.get(spec.instance_type, [])),
            "fingerprint": (fingerprints or {}).get(spec.instance_type),
        })
    return rows


def unmeasured_families(current: list[dict[str, Any]], measured: set[str], *, limit: int) -> dict[str, list[str]]:
    """{family: its benchmarkable types with no stored document}, for at most `limit` families, newest generation
    first (issue 28 item 8): what has been measured decides, not yesterday's catalog, so a failed run is tried again
    the next day, a new size of a known family is picked up, and a deployment made after a family launched measures
    it; `limit` spreads a new deployment's backlog over days."""
    unmeasured: dict[str, list[dict[str, Any]]] = {}
    for row in current:
        if row["benchmarkable"] and row["instance_type"] not in measured:
            unmeasured.setdefault(row["instance_family"], []).append(row)
    newest_first = sorted(unmeasured, key=lambda family: (-(unmeasured[family][0]["generation"] or 0), family))
    return {family: sorted(r["instance_type"] for r in unmeasured[family]) for family in newest_first[:limit]}


def publish(root: Any, region: str, rows: list[dict[str, Any]], *, date: str) -> dict[str, Any]:
    """Write the region's catalog under `root` (an ObjectStoragePath) and return the one it replaces.

    catalog/region=<r>/latest.parquet is what the next refresh diffs against;
    catalog/region=<r>/date=<d>/catalog.parquet keeps the history.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = root / "catalog" / f"region={region}"
    latest = base / "latest.parquet"
    previous = None
    if latest.exists():
        with latest.open("rb") as handle:
            previous = pq.read_table(handle).to_pandas().to_dict("records")
    table = pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)
    for path in (base / f"date={date}" / "catalog.parquet", latest):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            pq.write_table(table, handle)
    return {"uri": latest.as_uri(), "previous": previous}


def load_catalog(*, aws_conn_id: str | None, region_name: str | None, config: Any = None,
                 instance_types: list[str] | None = None) -> list[InstanceSpec]:
    """The region's instance types (or only the named ones), through the Amazon provider's EC2Hook (`config`: a
    botocore Config). Naming them is one call instead of the whole catalog's pages; AWS refuses the call with
    InvalidInstanceType when one of them is not offered in the region."""
    from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook

    client = EC2Hook(aws_conn_id=aws_conn_id, region_name=region_name, api_type="client_type", config=config).conn
    return sorted((spec_from_description(d) for d in describe_instance_types(client, instance_types)),
                  key=lambda s: s.instance_type)


def benchmarkable(spec: InstanceSpec) -> str | None:
    """Why `spec` is left out of `all`, or None when it belongs in it."""
    if not spec.current_generation:
        return "previous generation"
    if spec.accelerators:
        return f"accelerated ({', '.join(spec.accelerators)}): CPU benchmarks would not describe it"
    if spec.family == "other":
        return f"no task group for its processor ({spec.cpu_model}, {spec.architecture})"
    return None


def resolve(requested: list[str], catalog: list[InstanceSpec]) -> tuple[list[InstanceSpec], dict[str, str]]:
    """Instance types, family names or `all` -> the specs to benchmark, and what was left out with why.

    `all` means every current-generation, non-accelerated type with a task group; a family
    name (`m7i`) means its types, with the same exclusions; an exact type is taken as asked
    unless it is accelerated or has no task group.
    """
    by_type = {s.instance_type: s for s in catalog}
    selected: dict[str, InstanceSpec] = {}
    left_out: dict[str, str] = {}
    for item in requested:
        if item == ALL:
            candidates = catalog
        elif item in by_type:
            spec = by_type[item]
            reason = benchmarkable(spec)
            if reason and reason != "previous generation":
                left_out[item] = reason
            else:
                selected[item] = spec
            continue
        else:
            candidates = [s for s in catalog if s.instance_family == item]
            if not candidates:
                left_out[item] = "not an instance type or family this region offers"
                continue
        for spec in candidates:
            reason = benchmarkable(spec)
            if reason:
                left_out[spec.instance_type] = reason
            else:
                selected[spec.instance_type] = spec
    for name in selected:
        left_out.pop(name, None)
    return sorted(selected.values(), key=lambda s: s.instance_type), left_out
