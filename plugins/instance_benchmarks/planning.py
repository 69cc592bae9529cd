"""InstanceSpec + the run's params -> BenchmarkPlan: what runs, with which sizes, how long, at what cost.

The profile numbers live in the runner's profiles.json, and HPL's sizing in the runner's
own `hpl` module, both read here too, so the plan and `benchrun all --profile` can never
disagree. The runner still decides N on the host (after a timed probe); the plan's N is
its prediction, capped by the time budget, so a 4 TB instance does not solve for hours.

Stage times are a model, not a measurement. The launch comes from public recordings
(launch_timings.py: 61 virtualised and 9 Graviton metal launches; Intel and AMD metal stay an
assumption); the constants below are stated assumptions (an SSM agent registration, an image
pull), to be replaced by the stage timings real runs record. The HPL and STREAM stages follow
from the profile and the time budget.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from instance_benchmarks import RUNNER_DIR, launch_timings
from instance_benchmarks.catalog import InstanceSpec

# STREAM's run rule: three arrays, each at least 4x the last-level cache.
STREAM_ARRAYS = 3
STREAM_LLC_MULTIPLE = 4
# HPL's probe and smallest useful solve: a few thousand unknowns (N=3000: 72 MB).
HPL_MIN_MEMORY_BYTES = 3000 * 3000 * 8

# Assumed stage times, seconds (see the module docstring); the launch is launch_timings.py's.
AGENT_ONLINE_S = 60
IMAGE_PULL_S, IMAGE_BUILD_S = 90, 480  # from image_registry; or built on the instance (no registry)
TERMINATE_S = 60  # Linux instances are billed per second with a 60 s minimum
HPL_PROBE_S = 20  # the timed probes that choose the layout and N
STREAM_PLACEMENT_S = 10  # one repetition of one placement: four kernels, NTIMES each, rule-sized arrays
# Per-core DGEMM rate assumed to predict N before the probe measures it (this VM: 33 GFLOPS per core).
HPL_GFLOPS_PER_CORE = 20.0
TARGET_SECONDS, TARGET_USD = 600, 5.0  # what "cheap and short" means per type


def _runner_hpl() -> Any:
    """The runner's hpl module (standard library only), the one source of HPL's sizing rules."""
    if str(RUNNER_DIR) not in sys.path:
        sys.path.append(str(RUNNER_DIR))
    from benchmark_runner import hpl

    return hpl


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
    # Predictions (the runner measures and decides on the host; these size the run and its cost).
    stream_placements: int = 2
    stream_array_bytes: int = 0
    hpl_nb: int = 0
    hpl_grid: tuple[int, int] = (1, 1)
    hpl_n: int = 0
    stages_s: dict[str, float] = field(default_factory=dict)
    predicted_s: float = 0.0
    price_on_demand: float | None = None
    price_spot: float | None = None
    cost_on_demand: float | None = None
    cost_spot: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hpl_grid"] = list(self.hpl_grid)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchmarkPlan:
        return cls(**{**data, "hpl_grid": tuple(data.get("hpl_grid") or (1, 1))})

    def misses_targets(self, market: str = "on-demand") -> list[str]:
        """Why this plan is not within 10 minutes and $5 (empty when it is)."""
        reasons = []
        if self.predicted_s > TARGET_SECONDS:
            reasons.append(f"predicted {self.predicted_s / 60:.1f} min > {TARGET_SECONDS / 60:.0f} min "
                           f"({', '.join(f'{k} {v:.0f} s' for k, v in self.stages_s.items())})")
        cost = self.cost_spot if market == "spot" else self.cost_on_demand
        if cost is None:
            reasons.append(f"no {market} price: its cost cannot be bounded")
        elif cost > TARGET_USD:
            price = self.price_spot if market == "spot" else self.price_on_demand
            reasons.append(f"predicted ${cost:.2f} > ${TARGET_USD:g} (${price:g}/h)")
        return reasons

    def stream_args(self) -> list[str]:
        return ["stream", "--ntimes", str(self.stream_ntimes), "--repetitions", str(self.stream_repetitions)]

    def hpl_args(self) -> list[str]:
        return ["hpl", "--time-budget", f"{self.hpl_time_budget_s:g}", "--repetitions", str(self.hpl_repetitions)]


def plan(spec: InstanceSpec, *, target: str, profile: str, repetitions: int | None,
         time_budget_s: int, prices: dict[str, Any] | None = None, image_registry: str = "",
         x86_metal_launch_s: float = launch_timings.X86_METAL_ASSUMED_S) -> BenchmarkPlan:
    """`prices`: this type's entry of the run's price snapshot ({on_demand, spot} USD per hour);
    `x86_metal_launch_s`: Intel and AMD metal's launch, an assumption (the catalog figure is given both ways)."""
    settings = profiles()[profile]
    hpl_budget = time_budget_s * settings["hpl_budget_share"]
    if settings["hpl_budget_cap_s"]:
        hpl_budget = min(hpl_budget, settings["hpl_budget_cap_s"])
    stream_bytes = STREAM_ARRAYS * STREAM_LLC_MULTIPLE * spec.last_level_cache_bytes
    stream_repetitions = repetitions or settings["stream_repetitions"]
    hpl_repetitions = repetitions or settings["hpl_repetitions"]
    hpl = _runner_hpl()
    nb, _ = hpl.default_nb("aarch64" if spec.architecture == "arm64" else spec.architecture)
    cores = max(1, spec.physical_cores)
    grid = hpl.process_grid(cores)
    n, _ = hpl.size_problem(memory_bytes=spec.memory_bytes, nb=nb, q=grid[1],
                            gflops_estimate=HPL_GFLOPS_PER_CORE * cores, time_budget_s=hpl_budget / hpl_repetitions)
    placements = 2 if cores > 1 else 1
    stages: dict[str, float] = {}
    if target == "aws":
        stages["launch"] = launch_timings.launch_figure(spec, x86_metal_s=x86_metal_launch_s).seconds
        stages["agent online"] = AGENT_ONLINE_S
        stages["container"] = IMAGE_PULL_S if image_registry else IMAGE_BUILD_S
    stages["stream"] = stream_repetitions * placements * STREAM_PLACEMENT_S
    stages["hpl"] = HPL_PROBE_S + hpl_budget
    if target == "aws":
        stages["terminate"] = TERMINATE_S
    total = sum(stages.values())
    on_demand = (prices or {}).get("on_demand")
    spot = (prices or {}).get("spot")
    return BenchmarkPlan(
        instance_type=spec.instance_type,
        family=spec.family,
        target=target,
        profile=profile,
        spec=spec.to_dict(),
        stream_repetitions=stream_repetitions,
        stream_ntimes=settings["stream_ntimes"],
        hpl_repetitions=hpl_repetitions,
        hpl_time_budget_s=round(hpl_budget, 1),
        time_budget_s=time_budget_s,
        min_memory_bytes=max(stream_bytes, HPL_MIN_MEMORY_BYTES),
        stream_placements=placements,
        stream_array_bytes=STREAM_LLC_MULTIPLE * spec.last_level_cache_bytes,
        hpl_nb=nb,
        hpl_grid=grid,
        hpl_n=n,
        stages_s=stages,
        predicted_s=total,
        price_on_demand=on_demand,
        price_spot=spot,
        cost_on_demand=None if on_demand is None else round(total / 3600 * on_demand, 4),
        cost_spot=None if spot is None else round(total / 3600 * spot, 4),
    )


def summarize_plans(plans: list[BenchmarkPlan], *, market: str = "on-demand") -> dict[str, Any]:
    """What a dry run reports: types, instance-hours, dollars, how many meet the targets, why not the rest."""
    misses = {p.instance_type: p.misses_targets(market) for p in plans}
    costs = [p.cost_spot if market == "spot" else p.cost_on_demand for p in plans]
    return {
        "types": len(plans),
        "instance_hours": round(sum(p.predicted_s for p in plans) / 3600, 2),
        "usd": round(sum(c for c in costs if c is not None), 2),
        "unpriced": sum(c is None for c in costs),
        "within_targets": sum(not reasons for reasons in misses.values()),
        "not_within": {name: reasons for name, reasons in sorted(misses.items()) if reasons},
    }


def by_family(plans: list[BenchmarkPlan], families: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """One list of plan dicts per architecture family (an empty list maps to nothing)."""
    grouped: dict[str, list[dict[str, Any]]] = {family: [] for family in families}
    for p in plans:
        grouped.setdefault(p.family, []).append(p.to_dict())
    return grouped
