"""benchrun's STREAM against Debian hpcc's STREAM, one thread, the same array size.

Paired runs (A B A B ...): `benchrun stream --threads 1 --array-size A` and
`hpcc` on one MPI process with HPL's N chosen so that hpcc's STREAM arrays hold
N^2/3 = A doubles (hpcc sizes STREAM from HPL's memory). hpcc always runs its whole
suite, so each pair takes a minute or two. Prints each pair and the median triad
ratio; the last line is exactly `triad_ratio_median: <float>`.

By default one pair, with arrays of STREAM's rule size capped at 512 MiB each (the three arrays,
1.5 GiB, are three times this VM's 480 MiB L3): hpcc's whole suite is sized from the arrays, and at
the rule's 1,920 MiB here it took 27 min for one pair, at 1,024 MiB over 10 min before it reached
PTRANS (2026-12-01). `--rule-sized` compares at the rule's size.

    .venv/bin/python benchmarks/stream_vs_hpcc.py [--pairs 1] [--rule-sized]
"""

from __future__ import annotations

import argparse
import math
import statistics

from _common import benchrun, require_hpcc, run_hpcc

from benchmark_runner import stream, topology

DEFAULT_CAP_BYTES = 512 * 2**20  # per array


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--rule-sized", action="store_true", help="arrays at STREAM's rule size (4x the LLC), "
                        "not capped at DEFAULT_CAP_BYTES: hpcc's whole suite then runs for far longer")
    args = parser.parse_args()
    require_hpcc()

    host = topology.detect()
    elements, _ = stream.rule_array_size(host["last_level_cache_bytes"], host["memory_available_bytes"])
    if not args.rule_sized:
        elements = min(elements, DEFAULT_CAP_BYTES // 8)
    n = math.isqrt(3 * elements)
    elements = n * n // 3 - (n * n // 3) % 8  # what hpcc will allocate, in whole vectors
    print(f"array: {elements} doubles per array ({elements * 8 / 2**20:.0f} MiB), hpcc HPL N={n}, 1 thread")

    def triad(stores: str) -> tuple[float, str]:
        doc = benchrun("stream", "--threads", "1", "--array-size", str(elements), "--repetitions", "1",
                       "--stores", stores)
        rep = doc["stream"]["measurements"][0]["repetitions"][0]
        return rep["kernels"]["triad"]["best_rate_mb_s"] / 1000, doc["stream"]["binary"]["variant"]

    ratios, plain_ratios = [], []
    for pair in range(1, args.pairs + 1):
        ours, variant = triad("auto")  # what the product reports: the faster store variant, measured
        plain, _ = triad("regular")
        theirs = run_hpcc(n=n, nb=128, p=1, q=1)["SingleSTREAM_Triad"]
        ratios.append(ours / theirs)
        plain_ratios.append(plain / theirs)
        print(f"pair {pair}: benchrun triad {ours:.2f} GB/s ({variant} stores), plain stores {plain:.2f} GB/s, "
              f"hpcc SingleSTREAM triad {theirs:.2f} GB/s, ratio {ratios[-1]:.3f} (plain {plain_ratios[-1]:.3f})",
              flush=True)
    print(f"plain_store_triad_ratio_median: {statistics.median(plain_ratios):.3f}")
    print(f"triad_ratio_median: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
