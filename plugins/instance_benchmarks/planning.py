"""InstanceSpec + the run's params -> BenchmarkPlan: what runs, with which sizes, how long, at what cost.

The profile numbers live in the runner's profiles.json, and HPL's sizing in the runner's
own `hpl` module, both read here too, so the plan and `benchrun all --profile` can never
disagree. The runner still decides N on the host (after a timed probe); the plan's N is
its prediction, capped by the time budget, so a 4 TB instance does not solve for hours.

Stage times are a model, not a measurement. The launch comes from public recordings
(launch_timings.py: 61 virtualised and 9 Graviton metal launches; Intel and AMD metal stay an
assumption); the constants below are stated assumptions (an SSM agent registration, an image
pull), to be replaced by the stage timings real runs record (every document's
`provenance.stages` holds predicted against actual seconds; benchmarks/plan_accuracy.py compares
them here). STREAM's stage follows from its array bytes, NTIMES, placements and an assumed
bandwidth; HPL's from the profile and the time budget (the runner sizes N to fill it).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from instance_benchmarks import RUNNER_DIR, launch_timings, runner_module
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
# The timed probes that choose the layout and N, and the second one the asymptote is fitted with: 2.9 s for
# the layouts measured here (2 layouts at N=4608, 2 cores, 2026-12-01); the second probe lengthened the quick
# HPL stage from 46.7 to 50.6 s (benchmarks/plan_accuracy.py, before and after). Rounded up for hosts with
# more layouts to try.
HPL_PROBE_S = 8
# STREAM, one process: NTIMES x 10 array passes (copy and scale move 2 arrays, add and triad 3), plus about
# 34 passes of setup (first touch, the timing check, the single-threaded validation): measured here with
# 2.0 GB arrays, NTIMES 10 and 20 on 1 and 2 threads (29 and 35 passes, 2026-12-01).
STREAM_PASSES_PER_NTIMES, STREAM_SETUP_PASSES = 10, 34
# Assumed STREAM bandwidth until AWS runs replace it (this VM measured 21 GB/s on one core, 41 GB/s on two):
# one core 20 GB/s; all cores 20 GB/s each, up to an assumed 250 GB/s per 48 cores (a DDR5 socket's order).
STREAM_ONE_CORE_BPS = 20e9
STREAM_SOCKET_BPS, STREAM_CORES_PER_SOCKET = 250e9, 48
# The runner measures the regular and streaming-store variants alternately before it chooses (x86 only):
# 2 pairs at NTIMES 10 on all cores; regular stores ran at 0.70 of streaming stores here.
STREAM_CALIBRATION_PAIRS, STREAM_REGULAR_STORE_SHARE, STREAM_CALIBRATION_NTIMES = 2, 0.70, 10
# The last-level cache a host of each family reports, where the catalog does not say (DescribeInstanceTypes
# has no cache sizes): real lscpu of m7i.large (105 MiB, Xeon 8488C), m7a.48xlarge (32 MiB per 8-core CCD,
# EPYC 9R14), c7g.16xlarge (32 MiB) and m8g.48xlarge (36 MiB per socket), ../shared/data/ec2-topologies.
ASSUMED_LLC_BYTES = {"intel": 105 * 2**20, "graviton": 36 * 2**20}
AMD_LLC_BYTES_PER_CCD, AMD_CORES_PER_CCD = 32 * 2**20, 8
# An assumption where the catalog gives no cache sizes: the largest L2 per core of the family's current EC2 CPUs,
# so an array is never too small (the recorded lscpu: Sapphire Rapids and Graviton4 2 MiB, m7i.48xlarge and
# m8g.48xlarge; Zen 4 1 MiB, m7a.48xlarge).
ASSUMED_L2_BYTES_PER_CORE = {"intel": 2 * 2**20, "amd": 2**20, "graviton": 2 * 2**20}
# HPL's rate per core, assumed per CPU generation to predict N before the probe measures it: the peak table's
# FP64 FLOPs per cycle (peaks.py) x the type's sustained clock x HPL_SHARE_OF_PEAK, this VM's fitted asymptote
# over its peak (139.5 of 2 x 2.6 GHz x 32 = 166 GFLOPS, standard run, 2026-12-01). HPL_GFLOPS_PER_CORE where
# the processor or its clock is unknown (this VM: 33 GFLOPS per core at N = 4608).
HPL_SHARE_OF_PEAK = 0.84
HPL_GFLOPS_PER_CORE = 20.0
# HPL's N^2 term as N_half, the N at which the rate is half the asymptote (time = a N^3 + b N^2, N_half = b / a):
# about 830 on this VM's 1x1 grid with NB 256 (its standard run came within 5% of the asymptote from N = 15,872
# = 19 N_half, 2026-12-01). Assumed to grow with the grid's process columns and NB, since the panel is factorised
# and broadcast along a process row: N_half = 830 x Q x NB / 256, on the one-rank-per-core grid (the largest Q
# of the layouts the runner tries, so the least favourable). One host's fit, to be replaced by the fits AWS runs
# record (every document's hpl.asymptote.fit).
HPL_N_HALF_1X1_NB256 = 830
TARGET_SECONDS, TARGET_USD = 600, 5.0  # what "cheap and short" means per type


def _runner_hpl() -> Any:
    """The runner's hpl module (standard library only), the one source of HPL's sizing rules."""
    return runner_module("hpl")


def _runner_stream() -> Any:
    """The runner's stream module (standard library only): the scaling curve's thread counts."""
    return runner_module("stream")


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
    llc_basis: str = "measured"  # or "assumed" (ASSUMED_LLC_BYTES): the catalog gives no cache sizes
    hpl_nb: int = 0
    hpl_grid: tuple[int, int] = (1, 1)
    hpl_n: int = 0
    # HPL against its asymptote, predicted (the runner fits and records the real one): see hpl_outlook().
    hpl_gflops_per_core: float = 0.0
    hpl_rate_basis: str = ""
    hpl_memory_fraction: float = 0.0
    hpl_limit: str = ""
    hpl_n_near_asymptote: int = 0
    hpl_predicted_share: float = 0.0
    hpl_near_asymptote: bool | None = None
    # The per-type time_budget_s whose HPL share would size N to hpl_n_near_asymptote (or the rung above it);
    # None where memory cannot hold that N or the profile caps HPL's budget (quick).
    hpl_budget_for_asymptote_s: int | None = None
    # Which of the type's `instances_per_type` hosts this plan is (1-based): each is a host of its own.
    replica: int = 1
    replicas: int = 1
    # Scaling (standard profile): STREAM at 2, 4, 8, ... threads besides one and all cores, and HPL on one core
    # and one NUMA node in a budget of its own (issue 15, item 5).
    stream_scaling: bool = False
    stream_scaling_threads: list[int] = field(default_factory=list)
    hpl_scaling_budget_s: float = 0.0
    stages_s: dict[str, float] = field(default_factory=dict)
    predicted_s: float = 0.0
    # The whole host's time HPL's budgets were fitted into (the weekly refresh's 10 minutes), or None.
    host_time_budget_s: int | None = None
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

    def _profile_args(self) -> list[str]:
        """The test profile is named to the runner, which sizes STREAM small and says so in the document."""
        return ["--profile", self.profile] if profiles()[self.profile].get("test_only") else []

    def stream_args(self) -> list[str]:
        return ["stream", "--ntimes", str(self.stream_ntimes), "--repetitions", str(self.stream_repetitions),
                *(["--scaling"] if self.stream_scaling else []), *self._profile_args()]

    def hpl_args(self) -> list[str]:
        # --n-hint: the plan's N, the same for every host of the type (hpl.prefer_hint keeps them on one rung)
        return ["hpl", "--time-budget", f"{self.hpl_time_budget_s:g}", "--repetitions", str(self.hpl_repetitions),
                *(["--n-hint", str(self.hpl_n)] if self.hpl_n else []),
                *(["--scaling-budget", f"{self.hpl_scaling_budget_s:g}"] if self.hpl_scaling_budget_s else []),
                *self._profile_args()]


def llc_bytes(spec: InstanceSpec) -> tuple[int, int, str]:
    """The cache STREAM's arrays are sized from, as the runner sizes them: L2 and up over all cores, what one core
    can fill (its L2 and the largest last-level instance: the one-core placement's arrays), and whether they were
    measured or assumed."""
    if spec.cache_bytes:
        return spec.cache_bytes, spec.core_cache_bytes or spec.cache_bytes, "measured"
    if spec.last_level_cache_bytes:  # a description from before the L2 was counted
        return spec.last_level_cache_bytes, spec.llc_instance_bytes or spec.last_level_cache_bytes, "measured"
    l2_per_core = ASSUMED_L2_BYTES_PER_CORE.get(spec.family, ASSUMED_L2_BYTES_PER_CORE["intel"])
    l2 = l2_per_core * max(1, spec.physical_cores)
    if spec.family == "amd":
        return (AMD_LLC_BYTES_PER_CCD * max(1, -(-spec.physical_cores // AMD_CORES_PER_CCD)) + l2,
                AMD_LLC_BYTES_PER_CCD + l2_per_core, "assumed")
    sockets = 2 if spec.bare_metal or spec.physical_cores > STREAM_CORES_PER_SOCKET else 1
    per_socket = ASSUMED_LLC_BYTES.get(spec.family, ASSUMED_LLC_BYTES["intel"])
    return sockets * per_socket + l2, per_socket + l2_per_core, "assumed"


def hpl_gflops_per_core(spec: InstanceSpec) -> tuple[float, str]:
    """The assumed HPL rate of one core and where it comes from (see HPL_SHARE_OF_PEAK)."""
    from instance_benchmarks.peaks import processor_for, processor_of_family

    processor = processor_for(spec.cpu_model) or processor_of_family(spec.instance_family)
    if processor is None or not spec.sustained_clock_ghz:
        return HPL_GFLOPS_PER_CORE, f"assumed {HPL_GFLOPS_PER_CORE:g} GFLOPS per core (processor or clock unknown)"
    rate = processor.fp64_flops_per_cycle * spec.sustained_clock_ghz * HPL_SHARE_OF_PEAK
    return rate, (f"assumed: {processor.microarchitecture}, {processor.fp64_flops_per_cycle} FLOPs/cycle x "
                  f"{spec.sustained_clock_ghz:g} GHz x {HPL_SHARE_OF_PEAK:g} = {rate:.1f} GFLOPS per core")


def hpl_outlook(*, n: int, nb: int, grid: tuple[int, int]) -> dict[str, Any]:
    """How close N comes to HPL's asymptote by the N_half model (HPL_N_HALF_1X1_NB256): the predicted share
    N / (N + N_half), the smallest N within the runner's ASYMPTOTE_SHARE, and whether N reaches it."""
    hpl = _runner_hpl()
    n_half = HPL_N_HALF_1X1_NB256 * grid[1] * nb / 256
    step = nb * grid[1]
    n_near = -(-int(hpl.ASYMPTOTE_SHARE / (1 - hpl.ASYMPTOTE_SHARE) * n_half) // step) * step
    share = n / (n + n_half)
    return {"n_half": round(n_half), "n_near_asymptote": n_near, "predicted_share": round(share, 4),
            "near_asymptote": share >= hpl.ASYMPTOTE_SHARE}


def stream_seconds(*, array_bytes: int, cores: int, ntimes: int, repetitions: int, placements: int,
                   calibrates: bool, one_core_array_bytes: int | None = None,
                   scaling_threads: list[int] | None = None) -> float:
    """STREAM's predicted stage: the store calibration, then every placement `repetitions` times.

    Placements beyond the first are one-core ones, whose arrays are 4x the cache one core can fill
    (`one_core_array_bytes`); `scaling_threads` adds a placement of that many threads each, on the whole
    arrays. NUMA placements need the host's topology, which the plan does not know: a multi-node host
    adds node-local and remote placements.
    """
    one_core_array_bytes = one_core_array_bytes or array_bytes
    sockets = max(1, -(-cores // STREAM_CORES_PER_SOCKET))
    all_cores_bps = min(cores * STREAM_ONE_CORE_BPS, sockets * STREAM_SOCKET_BPS)

    def one_process(ntimes_: int, bps: float, size: int = array_bytes) -> float:
        return (ntimes_ * STREAM_PASSES_PER_NTIMES + STREAM_SETUP_PASSES) * size / bps

    calibration = 0.0
    if calibrates:
        calibration = STREAM_CALIBRATION_PAIRS * (
            one_process(STREAM_CALIBRATION_NTIMES, all_cores_bps)
            + one_process(STREAM_CALIBRATION_NTIMES, all_cores_bps * STREAM_REGULAR_STORE_SHARE))
    per_repetition = one_process(ntimes, all_cores_bps) + (placements - 1) * one_process(
        ntimes, STREAM_ONE_CORE_BPS, one_core_array_bytes)
    per_repetition += sum(one_process(ntimes, min(threads * STREAM_ONE_CORE_BPS, all_cores_bps))
                          for threads in scaling_threads or [])
    return calibration + repetitions * per_repetition


# A host budget never cuts HPL's solves and curve below this share of what time_budget_s gives them: where the
# other stages leave less (metal's minutes of boot), the plan says it misses the target instead.
HOST_BUDGET_MIN_SHARE = 0.25


def within_host_budget(left_s: float, hpl_budget: float, scaling_budget: float) -> tuple[float, float]:
    """HPL's solve and scaling budgets cut in proportion so that the HPL stage's predicted time (the budgets
    times RUNG_MEAN_TIME_FILL, planning's own model) fits `left_s`, the host's time after its other stages."""
    wanted = hpl_budget + scaling_budget
    fits = left_s / _runner_hpl().RUNG_MEAN_TIME_FILL
    if wanted <= 0 or fits >= wanted:
        return hpl_budget, scaling_budget
    factor = max(HOST_BUDGET_MIN_SHARE, fits / wanted)
    return hpl_budget * factor, scaling_budget * factor


def plan(spec: InstanceSpec, *, target: str, profile: str, repetitions: int | None,
         time_budget_s: int, prices: dict[str, Any] | None = None, image_registry: str = "",
         x86_metal_launch_s: float = launch_timings.X86_METAL_ASSUMED_S,
         host_time_budget_s: int | None = None) -> BenchmarkPlan:
    """`prices`: this type's entry of the run's price snapshot ({on_demand, spot} USD per hour);
    `x86_metal_launch_s`: Intel and AMD metal's launch, an assumption (the catalog figure is given both ways);
    `host_time_budget_s`: each host's whole predicted time, launch to terminate (target=aws): HPL's solves and
    scaling curve get what this type's other stages leave of it (never more than time_budget_s gives them)."""
    settings = profiles()[profile]
    hpl_budget = time_budget_s * settings["hpl_budget_share"]
    if settings["hpl_budget_cap_s"]:
        hpl_budget = min(hpl_budget, settings["hpl_budget_cap_s"])
    llc, llc_instance, llc_basis = llc_bytes(spec)
    # The run rule's arrays, or the test profile's small ones (plumbing checks, never a figure)
    array_bytes = settings.get("stream_array_bytes") or STREAM_LLC_MULTIPLE * llc
    one_core_array_bytes = settings.get("stream_array_bytes") or STREAM_LLC_MULTIPLE * llc_instance
    stream_bytes = STREAM_ARRAYS * array_bytes
    stream_repetitions = repetitions or settings["stream_repetitions"]
    hpl_repetitions = repetitions or settings["hpl_repetitions"]
    hpl = _runner_hpl()
    nb, _ = hpl.default_nb("aarch64" if spec.architecture == "arm64" else spec.architecture)
    cores = max(1, spec.physical_cores)
    placements = 2 if cores > 1 else 1
    scaling_threads = _runner_stream().scaling_threads(cores) if settings["stream_scaling"] else []
    hpl_scaling_budget = time_budget_s * settings["hpl_scaling_share"] if cores > 1 else 0.0  # one core: no curve
    stages: dict[str, float] = {}
    if target == "aws":
        stages["launch"] = launch_timings.launch_figure(spec, x86_metal_s=x86_metal_launch_s).seconds
        stages["agent online"] = AGENT_ONLINE_S
        stages["container"] = IMAGE_PULL_S if image_registry else IMAGE_BUILD_S
    stages["stream"] = round(stream_seconds(
        array_bytes=array_bytes, cores=cores, ntimes=settings["stream_ntimes"],
        repetitions=stream_repetitions, placements=placements, calibrates=spec.architecture in ("x86_64", "amd64"),
        one_core_array_bytes=one_core_array_bytes, scaling_threads=scaling_threads), 1)
    # The benchmarks share one budget: where STREAM's rule-sized arrays take more than the rest of it (the biggest
    # caches: hpc7a.96xlarge's 960 MiB of L2 and L3), HPL's solves get what is left, never more than their share.
    hpl_budget = max(0.0, min(hpl_budget, time_budget_s - stages["stream"] - HPL_PROBE_S - hpl_scaling_budget))
    if host_time_budget_s and target == "aws":
        hpl_budget, hpl_scaling_budget = within_host_budget(
            host_time_budget_s - sum(stages.values()) - TERMINATE_S - HPL_PROBE_S, hpl_budget, hpl_scaling_budget)
    grid = hpl.process_grid(cores)
    per_core, rate_basis = hpl_gflops_per_core(spec)
    # As the runner does: N from the rate its probe measures, which the N^2 term holds below the asymptote.
    probe = hpl.probe_n(nb, grid[1], settings.get("hpl_probe_n"), p=grid[0])
    probe_rate = per_core * cores * hpl_outlook(n=probe, nb=nb, grid=grid)["predicted_share"]
    n, sizing = hpl.size_problem(memory_bytes=spec.memory_bytes, nb=nb, q=grid[1],
                                 gflops_estimate=probe_rate, time_budget_s=hpl_budget / hpl_repetitions)
    outlook = hpl_outlook(n=n, nb=nb, grid=grid)
    budget_for_asymptote = None
    step = nb * grid[1]
    n_rung = hpl.rung_at_least(-(-outlook["n_near_asymptote"] // step)) * step  # N lands on a rung
    if not settings["hpl_budget_cap_s"] and n_rung**2 * 8 <= hpl.MEMORY_FRACTION * spec.memory_bytes:
        # size_problem's time bound inverted: N^3 <= 1.5 x per-solve budget x the probe's rate
        per_solve = n_rung**3 / (1.5 * probe_rate * 1e9)
        budget_for_asymptote = math.ceil(per_solve * hpl_repetitions / settings["hpl_budget_share"])
    # N on its rung fills RUNG_MEAN_TIME_FILL of each solve's budget on average; the rest goes unused. The scaling
    # solves are sized the same way, from their own budget.
    stages["hpl"] = round(HPL_PROBE_S + (hpl_budget + hpl_scaling_budget) * hpl.RUNG_MEAN_TIME_FILL, 1)
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
        stream_placements=placements + len(scaling_threads),
        stream_array_bytes=array_bytes,
        stream_scaling=settings["stream_scaling"],
        stream_scaling_threads=scaling_threads,
        hpl_scaling_budget_s=round(hpl_scaling_budget, 1),
        llc_basis=llc_basis,
        hpl_nb=nb,
        hpl_grid=grid,
        hpl_n=n,
        hpl_gflops_per_core=round(per_core, 2),
        hpl_rate_basis=rate_basis,
        hpl_memory_fraction=round(8 * n * n / spec.memory_bytes, 4) if spec.memory_bytes else 0.0,
        hpl_limit=hpl.binding_limit(sizing),
        hpl_n_near_asymptote=outlook["n_near_asymptote"],
        hpl_predicted_share=outlook["predicted_share"],
        hpl_near_asymptote=outlook["near_asymptote"],
        hpl_budget_for_asymptote_s=budget_for_asymptote,
        stages_s=stages,
        predicted_s=total,
        host_time_budget_s=host_time_budget_s if target == "aws" else None,
        price_on_demand=on_demand,
        price_spot=spot,
        cost_on_demand=None if on_demand is None else round(total / 3600 * on_demand, 4),
        cost_spot=None if spot is None else round(total / 3600 * spot, 4),
    )


def summarize_plans(plans: list[BenchmarkPlan], *, market: str = "on-demand") -> dict[str, Any]:
    """What a dry run reports: types and hosts (instances_per_type), instance-hours and dollars of every host,
    and per type how many meet the targets, and why not the rest."""
    misses = {p.instance_type: p.misses_targets(market) for p in plans}
    costs = [p.cost_spot if market == "spot" else p.cost_on_demand for p in plans]
    first_hosts = [p for p in plans if p.replica == 1]
    return {
        "types": len(first_hosts),
        "hosts": len(plans),
        "instance_hours": round(sum(p.predicted_s for p in plans) / 3600, 2),
        "usd": round(sum(c for c in costs if c is not None), 2),
        "unpriced": sum((p.cost_spot if market == "spot" else p.cost_on_demand) is None for p in first_hosts),
        "within_targets": sum(not reasons for reasons in misses.values()),
        # Predicted by the N_half model (hpl_outlook); the runner fits and records the real asymptote.
        "hpl_near_asymptote": sum(bool(p.hpl_near_asymptote) for p in first_hosts),
        "not_within": {name: reasons for name, reasons in sorted(misses.items()) if reasons},
    }


def predicted_wall_s(plans: list[BenchmarkPlan], hosts_at_once: int) -> float:
    """How long the run's hosts take, `hosts_at_once` at a time: Graham's bound for hosts taken in turn by the
    pool, the work shared out plus the longest host (the run cannot end sooner than that host alone)."""
    if not plans:
        return 0.0
    return sum(p.predicted_s for p in plans) / max(1, hosts_at_once) + max(p.predicted_s for p in plans)


def by_family(plans: list[BenchmarkPlan], families: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """One list of plan dicts per architecture family (an empty list maps to nothing)."""
    grouped: dict[str, list[dict[str, Any]]] = {family: [] for family in families}
    for p in plans:
        grouped.setdefault(p.family, []).append(p.to_dict())
    return grouped
