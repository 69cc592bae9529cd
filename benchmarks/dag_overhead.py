"""What the DAG costs on top of the benchmarks it runs (target=local).

Pairs, K times: `benchrun stream` + `benchrun hpl` run directly with the plan's
arguments, then the same plan through `dag.test()`. Prints each pair, the medians,
and the ratio of medians. Run from the repo with the project's environment:

    .venv/bin/python benchmarks/dag_overhead.py [--pairs 3]

Not a test: this machine is shared and noisy, so it prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".airflow"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("BENCHRUN_BUILD_DIR", str(REPO / ".build" / "local"))

CONF = {"target": "local", "profile": "quick", "repetitions": 2, "time_budget_s": 60}


def direct_seconds() -> float:
    from instance_benchmarks import BENCHRUN
    from instance_benchmarks.catalog import local_spec
    from instance_benchmarks.hosts.local import LocalHost
    from instance_benchmarks.planning import plan

    p = plan(local_spec(LocalHost().topology()), target="local", profile=CONF["profile"],
             repetitions=CONF["repetitions"], time_budget_s=CONF["time_budget_s"])
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for args in (p.stream_args(), p.hpl_args()):
            subprocess.run([sys.executable, str(BENCHRUN), *args, "--out", f"{tmp}/{args[0]}.json"], check=True,
                           capture_output=True)
    return time.monotonic() - started


def dag_seconds(dag) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        run = dag.test(run_conf={**CONF, "results_uri": Path(tmp).as_uri()})
        elapsed = time.monotonic() - started
        if "success" not in str(run.state):
            raise SystemExit(f"DAG run ended {run.state}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()

    import logging

    logging.disable(logging.INFO)
    from instance_benchmarks.cli import load_dag

    dag = load_dag()
    dag_seconds(dag)  # warm-up: first dag.test() pays imports and DB set-up
    direct, through_dag = [], []
    for pair in range(1, args.pairs + 1):
        direct.append(direct_seconds())
        through_dag.append(dag_seconds(dag))
        print(f"pair {pair}: direct {direct[-1]:.1f} s, dag.test {through_dag[-1]:.1f} s", flush=True)
    d, g = statistics.median(direct), statistics.median(through_dag)
    print(f"median direct benchrun: {d:.1f} s")
    print(f"median through the DAG: {g:.1f} s")
    print(f"DAG overhead: {g - d:.1f} s per host ({g / d:.2f}x of the benchmarks alone)")


if __name__ == "__main__":
    main()
