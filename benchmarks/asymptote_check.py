"""How far each profile's fitted HPL asymptote is from a solve at the size the asymptote is about (issue 29 item 7).

1. `benchrun hpl` as the quick and the standard profile run it on this machine: the plan's own arguments
   (planning.plan for this host, the budgets plan_accuracy.py uses), without the scaling curve, which the fit
   does not read. Each records its fit time(N) = a N^3 + b N^2 as hpl.asymptote.asymptote_gflops.
2. One solve at the largest N that 80% of this machine's memory allows (HPL's usual sizing, on the standard
   run's layout): the rate the asymptote claims to approach.

A shared VM's speed drifts: here the same solve (N=17,408) ran at 60.4 GFLOPS and, 25 minutes later, at 74 to
76. So a reference solve (N_REF, one rank per core, REF_REPETITIONS) brackets each of the three, and each fit
is compared with the big solve at the host's speed of its own time: fit x (speed at the big solve / speed at
the profile's run), each speed the mean of the two references around it. Both errors are printed, and how far
the references moved.

Prints each figure; the last line is exactly
`asymptote_extrapolation_error: quick <e> standard <e>`, each the drift-corrected fit's relative error against
the big solve's rate ((fit - big) / big); the raw errors are on the line above. The big solve takes tens of
minutes on a 2-core machine (N about 50,000 in 24 GiB).

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

N_REF, REF_REPETITIONS = 12288, 2  # about 20 s a solve here


def reference_gflops(nb: int, cores: int) -> float:
    """The host's speed now: the median of REF_REPETITIONS solves at N_REF, one rank per core."""
    p, q = hpl.process_grid(cores)
    section = benchrun("hpl", "--n", str(N_REF // (nb * q) * (nb * q)), "--nb", str(nb), "--p", str(p), "--q",
                       str(q), "--threads-per-rank", "1", "--repetitions", str(REF_REPETITIONS),
                       "--time-budget", "600")["hpl"]
    rate = section["summary"]["median_gflops"]
    print(f"reference: {rate:.2f} GFLOPS at N={section['n']}")
    return rate


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
    nb, _ = hpl.default_nb()
    cores = max(1, spec.physical_cores)
    fits, sections = {}, {}
    references = [reference_gflops(nb, cores)]
    layout = None
    for profile in ("quick", "standard"):
        if profile != "quick":
            references.append(reference_gflops(nb, cores))
        run_args = profile_hpl_args(spec, profile)
        section = sections[profile] = benchrun(*run_args)["hpl"]
        near = section.get("asymptote") or {}
        fits[profile] = near.get("asymptote_gflops")
        layout = (section["p"], section["q"], section["threads_per_rank"], section["nb"])
        print(f"{profile}: N={section['n']} {section['p']}x{section['q']} x {section['threads_per_rank']} thread(s), "
              f"median {section['summary']['median_gflops']:.2f} GFLOPS, fitted asymptote {fits[profile]} GFLOPS "
              f"(benchrun {' '.join(run_args)})")
    references.append(reference_gflops(nb, cores))
    p, q, threads, nb = layout
    with open("/proc/meminfo") as meminfo:
        memory = topology.parse_meminfo(meminfo.read()).get("MemAvailable", 0)
    step = nb * q
    n_big = int(math.sqrt(args.memory_share * memory / 8)) // step * step
    # --time-budget sizes nothing with N given; it sets the solve's timeout (4x), which defaults to 600 s
    big = benchrun("hpl", "--n", str(n_big), "--nb", str(nb), "--p", str(p), "--q", str(q),
                   "--threads-per-rank", str(threads), "--repetitions", "1", "--time-budget", "7200")["hpl"]
    sections["big"] = big
    references.append(reference_gflops(nb, cores))
    sections["references_gflops"] = references
    if args.save:
        args.save.write_text(json.dumps(sections, indent=1))
    rate = big["summary"]["median_gflops"]
    print(f"big solve: N={n_big} ({args.memory_share:.0%} of {memory / 2**30:.1f} GiB available), {rate:.2f} GFLOPS "
          f"in {big['runs'][0]['seconds']:.0f} s")
    # references: before quick, between quick and standard, between standard and the big solve, after it
    speed = {"quick": (references[0] + references[1]) / 2, "standard": (references[1] + references[2]) / 2,
             "big": (references[2] + references[3]) / 2}
    print(f"host speed: references {', '.join(f'{r:.2f}' for r in references)} GFLOPS, from "
          f"{min(references) / max(references) - 1:+.1%} to the fastest; big solve's over quick's "
          f"{speed['big'] / speed['quick'] - 1:+.1%}, over standard's {speed['big'] / speed['standard'] - 1:+.1%}")
    raw = {profile: (fit - rate) / rate if fit else float("nan") for profile, fit in fits.items()}
    corrected = {profile: (fit * speed["big"] / speed[profile] - rate) / rate if fit else float("nan")
                 for profile, fit in fits.items()}
    print(f"raw (uncorrected for the host's drift): quick {raw['quick']:.4f} standard {raw['standard']:.4f}")
    print(f"asymptote_extrapolation_error: quick {corrected['quick']:.4f} standard {corrected['standard']:.4f}")


if __name__ == "__main__":
    main()
