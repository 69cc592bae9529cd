"""The three x86-64 runner images side by side on this machine: three BLAS stacks, one CPU.

Builds (or reuses) generic (OpenBLAS), amd (BLIS) and intel (oneMKL) in this machine's own
engine and registry (instance_benchmarks.engine, as `make images` does), then runs
`benchrun all --profile quick` in each, pulled back by digest, `--rounds` times in an
interleaved order (generic, amd, intel, generic, ...) so that the machine's drift hits every
image alike. Prints one row per image: build time (`--cold` rebuilds without the layer cache,
otherwise it is this invocation's, cached or not, and says which), image size, the BLAS kernel
the library selected here (and whether it uses the CPU's widest vectors), and the medians of
STREAM triad (all cores, GB/s) and HPL (GFLOPS) over every repetition of every round.

    .venv/bin/python benchmarks/images_compare.py [--rounds 1] [--cold]

The last line is exactly `hpl_gflops_by_image: generic <x> amd <y> intel <z>`. Not a test: it
prints, never asserts. The figures are this machine's (a shared 2-vCPU VM): quote them with it.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

VARIANTS = ("generic", "amd", "intel")


def triad_gb_s(doc: dict) -> list[float]:
    return [rep["kernels"]["triad"]["best_rate_mb_s"] / 1000 for m in doc["stream"]["measurements"]
            if m["placement"] == "all-cores" for rep in m["repetitions"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cold", action="store_true", help="rebuild every image without the layer cache")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")

    from instance_benchmarks import containers, engine, images

    local_engine, registry = engine.Engine().start(), engine.Registry().start()
    client = local_engine.client(timeout=3600)
    builder = images.ImageBuilder(client, repository=f"{registry.address}/{images.LOCAL_REPOSITORY}",
                                  base_for=engine.local_bases(local_engine, registry, {"linux/amd64"}))
    built = {}
    for name in VARIANTS:
        built[name] = builder.push(builder.build(images.VARIANTS[name], no_cache=args.cold))
        print(f"built {name} {built[name].reference} in {built[name].built_in_s} s"
              f"{' (no cache)' if args.cold else ''}", flush=True)

    triad: dict[str, list[float]] = {n: [] for n in VARIANTS}
    hpl: dict[str, list[float]] = {n: [] for n in VARIANTS}
    blas: dict[str, dict] = {}
    for round_ in range(args.rounds):
        for name in VARIANTS:
            with tempfile.TemporaryDirectory(prefix=f"compare-{name}-") as tmp:
                code, tail = containers.run_benchrun(
                    client, built[name].reference, ["all", "--profile", "quick"], out_dir=Path(tmp), timeout_s=1800,
                    env={"BENCHRUN_CONTAINER_IMAGE": built[name].reference,
                         "BENCHRUN_CONTAINER_DIGEST": built[name].pushed_digest})
                if code != 0:
                    print(f"{name}: benchrun exited {code}: {' | '.join(tail[-5:])}", file=sys.stderr)
                    return 1
                doc = json.loads((Path(tmp) / "result.json").read_text())
            triad[name] += triad_gb_s(doc)
            hpl[name] += [run["gflops"] for run in doc["hpl"]["runs"]]
            blas[name] = doc["hpl"]["binary"]["blas"]
            print(f"round {round_ + 1}/{args.rounds} {name}: triad {statistics.median(triad_gb_s(doc)):.1f} GB/s, "
                  f"HPL {statistics.median(r['gflops'] for r in doc['hpl']['runs']):.1f} GFLOPS", flush=True)

    cpu = doc["system"]["cpu_model"]
    print(f"\nOn {cpu} ({doc['system']['logical_cpus']} vCPUs), {args.rounds} round(s), medians of every repetition:")
    header = f"{'image':8} {'build_s':>8} {'size_mb':>8}  {'blas':28} {'kernel':16} {'matches':8} " \
             f"{'triad_gb_s':>10} {'hpl_gflops':>10}"
    print(header)
    for name in VARIANTS:
        b = blas[name]
        print(f"{name:8} {built[name].built_in_s:>8.0f} {built[name].size_bytes / 2**20:>8.0f}  "
              f"{(b['name'] or '?') + ' ' + (b.get('version') or ''):28} {b.get('kernel') or '?':16} "
              f"{str(b.get('matches_cpu')):8} {statistics.median(triad[name]):>10.1f} "
              f"{statistics.median(hpl[name]):>10.1f}")
    print("hpl_gflops_by_image: " + " ".join(f"{n} {statistics.median(hpl[n]):.1f}" for n in VARIANTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
