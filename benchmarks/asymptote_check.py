"""How far each profile's fitted HPL asymptote is from a solve at the size the asymptote is about (issue 29 item 7).

1. `benchrun hpl` as the quick and the standard profile run it on this machine: the plan's own arguments
   (planning.plan for this host, the budgets plan_accuracy.py uses), without the scaling curve, which the fit
   does not read. Each records its fit time(N) = a N^3 + b N^2 as hpl.asymptote.asymptote_gflops.
2. One solve at the largest N that 80% of this machine's memory allows (HPL's usual sizing, on the standard
   run's layout): the rate the asymptote claims to approach.

Prints each figure; the last line is exactly
`asymptote_extrapolation_error: quick <e> standard <e>`, each the fit's relative error against the big solve's
rate ((fit - big) / big). The big solve takes tens of minutes on a 2-core machine (N about 50,000 in 24 GiB).

    .venv/bin/python benchmarks/asymptote_check.py [--memory-share 0.8] [--save sections.json]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from _common import benchrun
from plan_accuracy import BUDGETS

from benchmark_runner import hpl, topology
from instance_benchmarks import catalog, planning


def profile_hpl_args(spec: catalog.InstanceSpec, profile: str) -> list[str]:
    args = planning.plan(spec, target="local", profile=profile, repetitions=None,
                         time_budget_s=BUDGETS[profile]).hpl_args()
    if "--scaling-budget" in args:
        at = args.index("--scaling-budget")
        del args[at:at + 2]
    return args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-share", type=float, default=hpl.MEMORY_FRACTION)
    parser.add_argument("--save", type=Path, help="write each run's hpl section here (JSON), to refit offline")
    args = parser.parse_args()

    spec = catalog.local_spec(topology.detect())
    fits, sections = {}, {}
    layout = None
    for profile in ("quick", "standard"):
        run_args = profile_hpl_args(spec, profile)
        section = sections[profile] = benchrun(*run_args)["hpl"]
        near = section.get("asymptote") or {}
        fits[profile] = near.get("asymptote_gflops")
        layout = (section["p"], section["q"], section["threads_per_rank"], section["nb"])
        print(f"{profile}: N={section['n']} {section['p']}x{section['q']} x {section['threads_per_rank']} thread(s), "
              f"median {section['summary']['median_gflops']:.2f} GFLOPS, fitted asymptote {fits[profile]} GFLOPS "
              f"(benchrun {' '.join(run_args)})")
    p, q, threads, nb = layout
    with open("/proc/meminfo") as meminfo:
        memory = topology.parse_meminfo(meminfo.read()).get("MemAvailable", 0)
    step = nb * q
    n_big = int(math.sqrt(args.memory_share * memory / 8)) // step * step
    # --time-budget sizes nothing with N given; it sets the solve's timeout (4x), which defaults to 600 s
    big = benchrun("hpl", "--n", str(n_big), "--nb", str(nb), "--p", str(p), "--q", str(q),
                   "--threads-per-rank", str(threads), "--repetitions", "1", "--time-budget", "7200")["hpl"]
    sections["big"] = big
    if args.save:
        args.save.write_text(json.dumps(sections, indent=1))
    rate = big["summary"]["median_gflops"]
    print(f"big solve: N={n_big} ({args.memory_share:.0%} of {memory / 2**30:.1f} GiB available), {rate:.2f} GFLOPS "
          f"in {big['runs'][0]['seconds']:.0f} s")
    errors = {profile: (fit - rate) / rate if fit else float("nan") for profile, fit in fits.items()}
    print(f"asymptote_extrapolation_error: quick {errors['quick']:.4f} standard {errors['standard']:.4f}")


if __name__ == "__main__":
    main()
