"""InstanceSpec + the run's params -> BenchmarkPlan: what runs, with which sizes and budget.

The profile numbers live in the runner's profiles.json, read here too, so the
plan and `benchrun all --profile` can never disagree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from instance_benchmarks import RUNNER_DIR
from instance_benchmarks.catalog import InstanceSpec

# STREAM's run rule: three arrays, each at least 4x the last-level cache.
STREAM_ARRAYS = 3
STREAM_LLC_MULTIPLE = 4
# HPL's probe and smallest useful solve: a few thousand unknowns (N=3000: 72 MB).
HPL_MIN_MEMORY_BYTES = 3000 * 3000 * 8


@cache
def profiles() -> dict[str, dict[str, Any]]:
    raw = json.loads((RUNNER_DIR / "profiles.json").read_text())
    return {name: value for name, value in raw.items() if not name.startswith("_")}


@dataclass(frozen=True)
class BenchmarkPlan:
    instance_type: str
    family: str
    target: str
    profile: str
    spec: dict[str, Any]
    stream_repetitions: int
    stream_ntimes: int
    hpl_repetitions: int
    hpl_time_budget_s: float
    time_budget_s: int
    min_memory_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchmarkPlan:
        return cls(**data)

    def stream_args(self) -> list[str]:
        return ["stream", "--ntimes", str(self.stream_ntimes), "--repetitions", str(self.stream_repetitions)]

    def hpl_args(self) -> list[str]:
        return ["hpl", "--time-budget", f"{self.hpl_time_budget_s:g}", "--repetitions", str(self.hpl_repetitions)]


def plan(spec: InstanceSpec, *, target: str, profile: str, repetitions: int | None,
         time_budget_s: int) -> BenchmarkPlan:
    settings = profiles()[profile]
    hpl_budget = time_budget_s * settings["hpl_budget_share"]
    if settings["hpl_budget_cap_s"]:
        hpl_budget = min(hpl_budget, settings["hpl_budget_cap_s"])
    stream_bytes = STREAM_ARRAYS * STREAM_LLC_MULTIPLE * spec.last_level_cache_bytes
    return BenchmarkPlan(
        instance_type=spec.instance_type,
        family=spec.family,
        target=target,
        profile=profile,
        spec=spec.to_dict(),
        stream_repetitions=repetitions or settings["stream_repetitions"],
        stream_ntimes=settings["stream_ntimes"],
        hpl_repetitions=repetitions or settings["hpl_repetitions"],
        hpl_time_budget_s=round(hpl_budget, 1),
        time_budget_s=time_budget_s,
        min_memory_bytes=max(stream_bytes, HPL_MIN_MEMORY_BYTES),
    )


def by_family(plans: list[BenchmarkPlan], families: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """One list of plan dicts per architecture family (an empty list maps to nothing)."""
    grouped: dict[str, list[dict[str, Any]]] = {family: [] for family in families}
    for p in plans:
        grouped.setdefault(p.family, []).append(p.to_dict())
    return grouped
