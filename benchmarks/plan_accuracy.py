"""The plan against this machine: each benchmark stage's predicted seconds over its actual seconds.

For each profile (quick with the form's 1,800 s budget; standard with the weekly refresh's budget),
plans this host with planning.plan (the DAG's own planner), runs `benchrun stream` and `benchrun hpl`
with the plan's arguments, bare, and times each stage from start to document (the runner's build is
cached first, as in the runner image). Prints each stage's predicted/actual ratio; the last line is
exactly `plan_over_actual_median: <r> worst: <profile>.<stage> <r>` (the worst is the ratio farthest
from 1). For each HPL stage it also prints how close the solves came to the asymptote the runner
fitted from its two probes. The target is 0.75-1.33 for every stage. About 11 minutes on a 2-core VM; run it on an idle
machine (a concurrent test suite slows STREAM and reads as a plan that predicts too little).

    .venv/bin/python benchmarks/plan_accuracy.py [--profiles quick standard]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, RUNNER

sys.path.insert(0, str(REPO / "plugins"))

from benchmark_runner import topology  # noqa: E402
from instance_benchmarks import catalog, params, planning  # noqa: E402

BUDGETS = {"quick": 1800, "standard": params.WEEKLY_TIME_BUDGET_S}


def timed_benchrun(args: list[str]) -> tuple[float, dict]:
    """Seconds from start to document, as the pipeline times a stage on the host, and the document."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        started = time.monotonic()
        subprocess.run([sys.executable, str(RUNNER / "benchrun"), *args, "--out", str(out)], check=True,
                       stderr=subprocess.DEVNULL)
        return time.monotonic() - started, json.loads(out.read_text())


def asymptote_line(doc: dict) -> str:
    """How close the solves came to the asymptote the runner fitted from its two probes."""
    hpl = doc["hpl"]
    near = hpl.get("asymptote") or {}
    if not near.get("asymptote_gflops"):
        return f"  asymptote: not judged ({near.get('note', 'no fit')})"
    measured = hpl["summary"]["median_gflops"]
    return (f"  asymptote: fitted {near['asymptote_gflops']:.1f} GFLOPS; N={hpl['n']} predicted "
            f"{near['predicted_gflops']:.1f} ({near['predicted_share']:.0%}), measured median {measured:.1f} "
            f"({measured / near['asymptote_gflops']:.0%} of the asymptote); "
            f"within 5% from N={near['n_near_asymptote']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", nargs="+", choices=sorted(BUDGETS), default=["quick", "standard"])
    args = parser.parse_args()

    subprocess.run([sys.executable, str(RUNNER / "benchrun"), "build"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    spec = catalog.local_spec(topology.detect())
    print(f"host: {spec.cpu_model}, {spec.physical_cores} cores, LLC {spec.last_level_cache_bytes / 2**20:.0f} MiB")
    ratios: dict[str, float] = {}
    for profile in args.profiles:
        plan = planning.plan(spec, target="local", profile=profile, repetitions=None, time_budget_s=BUDGETS[profile])
        for stage, stage_args in (("stream", plan.stream_args()), ("hpl", plan.hpl_args())):
            actual, doc = timed_benchrun(stage_args)
            predicted = plan.stages_s[stage]
            ratios[f"{profile}.{stage}"] = predicted / actual
            print(f"{profile}.{stage}: predicted {predicted:.1f} s, actual {actual:.1f} s, "
                  f"predicted/actual {predicted / actual:.2f}  ({' '.join(stage_args)}; budget {BUDGETS[profile]} s)",
                  flush=True)
            if stage == "hpl":
                print(asymptote_line(doc), flush=True)
    worst = max(ratios, key=lambda name: abs(math.log(ratios[name])))
    print(f"plan_over_actual_median: {statistics.median(ratios.values()):.2f} worst: {worst} {ratios[worst]:.2f}")


if __name__ == "__main__":
    main()
