"""STREAM: sizing by the run rules, placements, repetitions, and the output parser."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
from typing import Any

from benchmark_runner._log import log
from benchmark_runner.topology import largest_cache_instance_bytes

KERNELS = ("copy", "scale", "add", "triad")
BYTES_PER_ELEMENT = 8
# Run rule: each array at least 4x the sum of all last-level caches.
LLC_MULTIPLE = 4
# Never let the three arrays take more than this share of available memory.
MEMORY_SHARE = 0.6
MIN_CLOCK_TICKS = 20
MIN_NTIMES = 10
# The scaling curve names the fewest threads that reach this share of the all-core bandwidth (issue 15, item 5).
SCALING_SHARE = 0.9


class StreamError(RuntimeError):
    """STREAM could not run or its output could not be read."""


def parse_output(text: str) -> dict[str, Any]:
    """Parse the text printed by src/stream.c into one repetition's record."""
    facts = dict(re.findall(r"^([a-z_]+):[ \t]*(.*)$", text, re.MULTILINE))
    kernels: dict[str, dict[str, float]] = {}
    for name, rate, avg_t, min_t, max_t, ticks in re.findall(
        r"^(Copy|Scale|Add|Triad)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$", text, re.MULTILINE
    ):
        kernels[name.lower()] = {
            "best_rate_mb_s": float(rate),
            "avg_time_s": float(avg_t),
            "min_time_s": float(min_t),
            "max_time_s": float(max_t),
            "min_clock_ticks": float(ticks),
        }
    missing = [k for k in KERNELS if k not in kernels]
    required = ("array_elements", "ntimes", "threads", "granularity_us", "validated", "raw_times_s")
    absent = [k for k in required if k not in facts]
    if missing or absent:
        raise StreamError(f"STREAM output incomplete: missing kernels {missing} and fields {absent}")
    ntimes = int(facts["ntimes"])
    raw = [float(v) for v in facts["raw_times_s"].split()]
    if len(raw) != ntimes * len(KERNELS):
        raise StreamError(f"STREAM printed {len(raw)} raw times, expected {ntimes * len(KERNELS)}")
    return {
        "array_elements": int(facts["array_elements"]),
        "ntimes": ntimes,
        "threads": int(facts["threads"]),
        "granularity_us": int(facts["granularity_us"]),
        "kernels": kernels,
        "raw_times_s": {k: raw[i :: len(KERNELS)] for i, k in enumerate(KERNELS)},
        "relative_errors": {
            name: float(facts[f"relative_error_{name}"])
            for name in ("a", "b", "c")
            if f"relative_error_{name}" in facts
        },
        "validated": facts["validated"].strip() == "true",
    }


def rule_array_size(llc_bytes: int, memory_available_bytes: int) -> tuple[int, dict[str, Any]]:
    """Elements per array by the run rule, capped by memory, and the rule's verdict."""
    wanted = max(LLC_MULTIPLE * llc_bytes // BYTES_PER_ELEMENT, 10_000_000 if llc_bytes == 0 else 0)
    cap = int(memory_available_bytes * MEMORY_SHARE) // (3 * BYTES_PER_ELEMENT)
    if wanted <= cap:
        return wanted, {
            "rule": "stream.array_size_at_least_4x_llc",
            "passed": llc_bytes > 0,
            "detail": f"{wanted} elements per array = 4 x {llc_bytes} bytes of cache (L2 and up, all instances)"
            if llc_bytes
            else "last-level cache size unknown; used 10,000,000 elements",
        }
    return cap, {
        "rule": "stream.array_size_at_least_4x_llc",
        "passed": False,
        "detail": f"capped at {cap} elements per array by memory ({memory_available_bytes} bytes available); "
        f"the rule asks for {wanted}",
    }


def numactl_status(topology: dict[str, Any]) -> dict[str, Any]:
    """Whether numactl can bind here: absent, refused (containers without the capability), or usable."""
    numactl = topology.get("numactl") or shutil.which("numactl")
    if not numactl:
        return {"path": None, "usable": False, "detail": "numactl is not installed: no NUMA placements"}
    try:
        proc = subprocess.run([numactl, "--cpunodebind=0", "--membind=0", "true"], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"path": numactl, "usable": False, "detail": f"numactl failed to start: {exc}"}
    if proc.returncode != 0:
        return {"path": numactl, "usable": False,
                "detail": f"numactl refused to bind (exit {proc.returncode}): {proc.stderr.strip()[:300]}"}
    return {"path": numactl, "usable": True, "detail": "numactl binds CPUs and memory"}


def scaling_threads(cores: int) -> list[int]:
    """The scaling curve's thread counts between one core and all of them: 2, 4, 8, ... below `cores`."""
    return [2**k for k in range(1, cores.bit_length()) if 2**k < cores]


def placements(topology: dict[str, Any], threads: int | None,
               numactl: dict[str, Any] | None = None, *, scaling: bool = False) -> list[dict[str, Any]]:
    """What STREAM measures, in order.

    All cores (spread, one thread per core); one core alone; with `scaling`, 2, 4, 8, ...
    threads spread over the cores (the curve from one core to all); then, with several NUMA
    nodes and a usable numactl, each node local (CPUs and memory on N) and the remote
    matrix (CPUs on N, memory on M). `threads` asks for exactly one placement instead.
    """
    cores = topology["physical_cores"]
    if threads:
        return [_placement(f"threads-{threads}", threads, "spread")]
    result = [_placement("all-cores", cores, "spread")]
    if cores > 1:
        result.append(_placement("one-core", 1, "close"))
    if scaling:
        result += [_placement(f"threads-{count}", count, "spread") for count in scaling_threads(cores)]
    cpu_nodes = [n for n in topology["numa_nodes"] if n["cpus"]]
    memory_nodes = [n for n in topology["numa_nodes"] if n["memory_bytes"] > 0]
    if len(topology["numa_nodes"]) > 1 and numactl and numactl["usable"]:
        for cpu_node in cpu_nodes:
            node_threads = cpu_node.get("physical_cores") or len(cpu_node["cpus"])
            for memory_node in memory_nodes:
                n, m = cpu_node["node"], memory_node["node"]
                name = f"node{n}-local" if n == m else f"cpu{n}-mem{m}"
                result.append(_placement(name, node_threads, "spread",
                                         numactl=[numactl["path"], f"--cpunodebind={n}", f"--membind={m}"],
                                         cpu_node=n, memory_node=m))
        # local placements first, then the remote matrix
        result.sort(key=lambda p: (p["numa"] is not None and p["numa"]["cpu_node"] != p["numa"]["memory_node"]))
    return result


def _placement(name: str, threads: int, bind: str, *, numactl: list[str] | None = None,
               cpu_node: int | None = None, memory_node: int | None = None) -> dict[str, Any]:
    return {
        "placement": name,
        "threads": threads,
        "binding": {"OMP_PROC_BIND": bind, "OMP_PLACES": "cores", "numactl": numactl},
        "numa": None if cpu_node is None else {"cpu_node": cpu_node, "memory_node": memory_node},
    }


def run_once(binary: str, array_elements: int, ntimes: int, placement: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(placement["threads"]),
        OMP_PROC_BIND=placement["binding"]["OMP_PROC_BIND"],
        OMP_PLACES=placement["binding"]["OMP_PLACES"],
    )
    cmd = [*(placement["binding"]["numactl"] or []), binary, str(array_elements), str(ntimes)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode not in (0, 4):  # 4: ran, but failed validation (recorded, not raised)
        raise StreamError(f"STREAM exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return parse_output(proc.stdout)


CALIBRATION_PAIRS = 2


def choose_variant(variants: dict[str, dict[str, Any]], array_elements: int, cores: int,
                   stores: str = "auto") -> tuple[dict[str, Any], dict[str, Any]]:
    """The variant to measure with, and why.

    With several variants and stores=auto, run them alternately (A B A B) on all cores
    and keep the one with the higher median triad: streaming stores help on some CPUs
    and hurt on others, so this is measured on the host rather than assumed.
    """
    if stores != "auto":
        if stores not in variants:
            raise StreamError(f"--stores {stores}: not built on this architecture (have {sorted(variants)})")
        return variants[stores], {"method": f"--stores {stores}", "candidates": []}
    if len(variants) == 1:
        (only,) = variants.values()
        return only, {"method": "only variant on this architecture", "candidates": []}
    placement = _placement("calibration", cores, "spread")
    triads: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(CALIBRATION_PAIRS):
        for name, binary in variants.items():
            result = run_once(binary["path"], array_elements, MIN_NTIMES, placement)
            triads[name].append(result["kernels"]["triad"]["best_rate_mb_s"])
    medians = {name: statistics.median(rates) for name, rates in triads.items()}
    chosen = max(medians, key=medians.__getitem__)
    log("STREAM calibration (median triad MB/s): %s -> %s stores",
        ", ".join(f"{k} {v:.0f}" for k, v in medians.items()), chosen)
    return variants[chosen], {
        "method": f"alternating runs, {CALIBRATION_PAIRS} per variant, all cores, higher median triad wins",
        "candidates": [{"variant": name, "triad_mb_s": triads[name], "median_triad_mb_s": medians[name]}
                       for name in variants],
    }


def measure(
    variants: dict[str, dict[str, Any]],
    topology: dict[str, Any],
    *,
    stores: str = "auto",
    threads: int | None = None,
    array_elements: int | None = None,
    ntimes: int = MIN_NTIMES,
    repetitions: int = 3,
    scaling: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run every placement `repetitions` times, each repetition a separate process.

    `scaling` adds the thread-count curve (`scaling_threads`) and the section's `scaling` summary.
    Returns the document's `stream` section and the run-rule checks it makes.
    """
    numactl = numactl_status(topology)
    memory = topology["memory_available_bytes"]
    memory_nodes = [n["memory_bytes"] for n in topology["numa_nodes"] if n["memory_bytes"] > 0]
    if len(memory_nodes) > 1 and numactl["usable"]:
        memory = min(memory, min(memory_nodes))  # --membind puts all three arrays on one node
    # 4 x every cache level 2 and up, summed: on Graviton4 (m8g.48xlarge: 72 MiB of L3, 384 MiB of L2) 4 x the L3
    # alone left each core 1.5 MiB of an array beside its 2 MiB L2 (issue 29). A description without the sum
    # (one recorded before it) falls back to the last level.
    cached = topology.get("cache_bytes") or topology["last_level_cache_bytes"]
    rule_elements, size_rule = rule_array_size(cached, memory)
    explicit_size = array_elements
    if array_elements is None:
        array_elements = rule_elements
    elif array_elements < rule_elements:
        size_rule = {
            **size_rule,
            "passed": False,
            "detail": f"--array-size {array_elements} is below the rule's {rule_elements} elements",
        }
    rules = [
        size_rule,
        {
            "rule": "stream.ntimes_at_least_10",
            "passed": ntimes >= MIN_NTIMES,
            "detail": f"NTIMES = {ntimes}",
        },
    ]
    array_elements -= array_elements % 8  # whole vectors for the streaming-store kernels
    # One core fills only the cache instance it shares (one CCD's L3 on AMD, one socket's on a two-socket
    # host): its arrays need be 4x that, not 4x every instance summed, which on a 96-core EPYC is 24 times more.
    one_core_elements = array_elements
    instance_bytes = topology.get("core_cache_bytes") or largest_cache_instance_bytes(topology.get("caches") or [])
    if explicit_size is None and 0 < instance_bytes < cached:
        one_core_elements, _ = rule_array_size(instance_bytes, memory)
        one_core_elements = min(array_elements, one_core_elements - one_core_elements % 8)
        rules.append({"rule": "stream.one_core_array_at_least_4x_its_llc", "passed": True,
                      "detail": f"one-core placement: {one_core_elements} elements per array = 4 x {instance_bytes} "
                                f"bytes, what one core can fill (its L2 and the largest last-level instance)"})
    binary, selection = choose_variant(variants, array_elements, topology["physical_cores"], stores)
    if len(topology["numa_nodes"]) > 1 and not numactl["usable"]:
        log("STREAM: %d NUMA nodes but %s; measuring without NUMA placements", len(topology["numa_nodes"]),
            numactl["detail"])
    measurements = []
    for placement in placements(topology, threads, numactl, scaling=scaling):
        reps = []
        for rep in range(repetitions):
            elements = one_core_elements if placement["placement"] == "one-core" else array_elements
            result = run_once(binary["path"], elements, ntimes, placement)
            log(
                "STREAM %s rep %d/%d: triad %.0f MB/s, copy %.0f MB/s, validated=%s",
                placement["placement"], rep + 1, repetitions,
                result["kernels"]["triad"]["best_rate_mb_s"], result["kernels"]["copy"]["best_rate_mb_s"],
                result["validated"],
            )
            reps.append(result)
        measurements.append({**placement, "repetitions": reps, "summary": _summary(reps)})
    min_ticks = min(
        k["min_clock_ticks"] for m in measurements for r in m["repetitions"] for k in r["kernels"].values()
    )
    rules.append(
        {
            "rule": "stream.at_least_20_clock_ticks",
            "passed": min_ticks >= MIN_CLOCK_TICKS,
            "detail": f"shortest kernel time = {min_ticks:.0f} clock ticks",
        }
    )
    all_valid = all(r["validated"] for m in measurements for r in m["repetitions"])
    rules.append(
        {
            "rule": "stream.results_validated",
            "passed": all_valid,
            "detail": "every repetition's arrays matched the expected values within 1e-13"
            if all_valid
            else "at least one repetition failed STREAM's validation",
        }
    )
    section = {
        "implementation": "instance-benchmarks STREAM (src/stream.c), OpenMP",
        "binary": binary,
        "variant_selection": selection,
        "array_elements": array_elements,
        "bytes_per_array": array_elements * BYTES_PER_ELEMENT,
        "ntimes": ntimes,
        "repetitions": repetitions,
        "numactl": numactl,
        "measurements": measurements,
    }
    if scaling and not threads:
        section["scaling"] = scaling_curve(measurements)
    return section, rules


def scaling_curve(measurements: list[dict[str, Any]], kernel: str = "triad",
                  share: float = SCALING_SHARE) -> dict[str, Any]:
    """Median `kernel` bandwidth by thread count, from one core to all (spread), and the fewest threads that reach
    `share` of the all-core figure: where adding cores stops adding bandwidth."""
    curve = sorted((m["threads"], m["placement"], m["summary"][kernel]["median_mb_s"]) for m in measurements
                   if m["placement"] in ("one-core", "all-cores") or m["placement"].startswith("threads-"))
    all_cores = next(rate for _, placement, rate in curve if placement == "all-cores")
    first = next(threads for threads, _, rate in curve if rate >= share * all_cores)
    return {"kernel": kernel, "share": share,
            "points": [{"threads": t, "placement": p, "median_mb_s": rate, "of_all_cores": round(rate / all_cores, 4)}
                       for t, p, rate in curve],
            "threads_to_share": first,
            "method": "median of the repetitions per thread count; one thread is the one-core placement (its "
                      "arrays 4x the cache one core fills), the others spread one thread per core"}


def _summary(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kernel, across repetitions: n, max, median and mean of the best rates (MB/s)."""
    out = {}
    for kernel in KERNELS:
        rates = [r["kernels"][kernel]["best_rate_mb_s"] for r in reps]
        out[kernel] = {
            "n": len(rates),
            "max_mb_s": max(rates),
            "median_mb_s": statistics.median(rates),
            "mean_mb_s": statistics.fmean(rates),
        }
    return out
