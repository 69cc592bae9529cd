"""How far each profile's fitted HPL asymptote is from a solve at the size the asymptote is about (issue 29 item 7).

1. `benchrun hpl` as the quick and the standard profile run it on this machine (their per-solve budgets, their
   probes, the fit time(N) = a N^3 + b N^2 they record as hpl.asymptote.asymptote_gflops).
2. One solve at the largest N that 80% of this machine's memory allows (HPL's usual sizing, on the standard
   run's layout): the rate the asymptote claims to approach.

Prints each figure; the last line is exactly
`asymptote_extrapolation_error: quick <e> standard <e>`, each the fit's relative error against the big solve's
rate ((fit - big) / big). The big solve takes tens of minutes on a 2-core machine (N about 50,000 in 24 GiB).

    .venv/bin/python benchmarks/asymptote_check.py [--quick-budget 40] [--standard-budget 270] [--memory-share 0.8]
"""

from __future__ import annotations

import argparse
import math

from _common import benchrun

from benchmark_runner import hpl, topology


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # The profiles' own HPL budgets (profiles.json): quick's capped at 40 s, standard's half of a 540 s host budget.
    parser.add_argument("--quick-budget", type=float, default=40, help="seconds for quick's three solves")
    parser.add_argument("--standard-budget", type=float, default=270, help="seconds for standard's three solves")
    parser.add_argument("--memory-share", type=float, default=hpl.MEMORY_FRACTION)
    args = parser.parse_args()

    fits = {}
    layout = None
    for profile, budget in (("quick", args.quick_budget), ("standard", args.standard_budget)):
        section = benchrun("hpl", "--time-budget", f"{budget:g}", "--repetitions", "3")["hpl"]
        near = section.get("asymptote") or {}
        fits[profile] = near.get("asymptote_gflops")
        layout = (section["p"], section["q"], section["threads_per_rank"], section["nb"])
        print(f"{profile}: N={section['n']} {section['p']}x{section['q']} x {section['threads_per_rank']} thread(s), "
              f"median {section['summary']['median_gflops']:.2f} GFLOPS, fitted asymptote {fits[profile]} GFLOPS")
    p, q, threads, nb = layout
    with open("/proc/meminfo") as meminfo:
        memory = topology.parse_meminfo(meminfo.read()).get("MemAvailable", 0)
    step = nb * q
    n_big = int(math.sqrt(args.memory_share * memory / 8)) // step * step
    # --time-budget sizes nothing with N given; it sets the solve's timeout (4x), which defaults to 600 s
    big = benchrun("hpl", "--n", str(n_big), "--nb", str(nb), "--p", str(p), "--q", str(q),
                   "--threads-per-rank", str(threads), "--repetitions", "1", "--time-budget", "7200")["hpl"]
    rate = big["summary"]["median_gflops"]
    print(f"big solve: N={n_big} ({args.memory_share:.0%} of {memory / 2**30:.1f} GiB available), {rate:.2f} GFLOPS "
          f"in {big['runs'][0]['seconds']:.0f} s")
    errors = {profile: (fit - rate) / rate if fit else float("nan") for profile, fit in fits.items()}
    print(f"asymptote_extrapolation_error: quick {errors['quick']:.4f} standard {errors['standard']:.4f}")


if __name__ == "__main__":
    main()
