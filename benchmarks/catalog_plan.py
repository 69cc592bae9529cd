"""Plan the whole catalog: how many current-generation, non-accelerated types fit 10 minutes and $5 each.

Reads moto's catalog (in-process, nothing reaches AWS), resolves `all` as the DAG does, and plans
every type with the production settings (the weekly refresh's: params.weekly_settings(), the standard
profile with 540 s per type, each host within 600 s, and a prebuilt image in a registry), then prints the
predicted stage times and costs and why each miss misses.

Prices, by default: the recorded us-east-1 on-demand table (include/prices/, 2026-07-20, with its
provenance); a type it lacks is unpriced and counts as not within $5 (its cost cannot be bounded): the script
never invents a price. Or a snapshot in the format the DAG records at prices/<run_id>.json (`--prices FILE`),
recorded on a machine with AWS credentials (read-only Price List and spot history):

    .venv/bin/python benchmarks/catalog_plan.py --record-prices us-east-1 --prices prices-us-east-1.json
    .venv/bin/python benchmarks/catalog_plan.py --prices prices-us-east-1.json

The last line is exactly `within_10min_and_5usd: <k> of <n>`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(REPO))


def moto_catalog():
    from moto import mock_aws

    from instance_benchmarks import catalog

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(name, value)
    import boto3

    with mock_aws():
        client = boto3.client("ec2", region_name="us-east-1")
        return [catalog.spec_from_description(d) for d in catalog.describe_instance_types(client)]


def kind_of(reason: str, metal_launch_s: int) -> str:
    """One of the reasons a plan misses the targets (planning.misses_targets' wording)."""
    if reason.startswith("no on-demand price"):
        return "unpriced"
    if reason.startswith("predicted $"):
        return "price"
    return "metal boot" if f"launch {metal_launch_s} s" in reason else "time"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prices", type=Path, help="a price snapshot (prices/<run_id>.json format); default: "
                        "the recorded us-east-1 on-demand table (include/prices/)")
    parser.add_argument("--record-prices", metavar="REGION",
                        help="fetch a snapshot from the real Price List and spot history into --prices first")
    parser.add_argument("--show", type=int, default=25, help="misses to list")
    args = parser.parse_args()

    from instance_benchmarks import catalog, launch_timings, params, planning, prices

    selected, left_out = catalog.resolve(["all"], moto_catalog())
    names = [s.instance_type for s in selected]
    if args.record_prices:
        if not args.prices:
            parser.error("--record-prices needs --prices FILE to write to")
        snapshot = prices.aws_snapshot(aws_conn_id=None, region=args.record_prices, instance_types=names)
        args.prices.write_text(json.dumps(snapshot, indent=2) + "\n")
        print(f"recorded {sum(p['on_demand'] is not None for p in snapshot['prices'].values())} prices "
              f"to {args.prices}")
    if args.prices:
        snapshot, source = json.loads(args.prices.read_text()), str(args.prices)
    else:
        snapshot = prices.recorded_snapshot("us-east-1", names)
        source = snapshot["source"]

    weekly = params.weekly_settings()

    def plan_all(**kwargs):
        return [planning.plan(spec, target="aws", profile=weekly["profile"], repetitions=None,
                              time_budget_s=weekly["time_budget_s"], prices=snapshot["prices"].get(spec.instance_type),
                              image_registry="registry", host_time_budget_s=weekly["host_time_budget_s"], **kwargs)
                for spec in selected]

    plans = plan_all()
    summary = planning.summarize_plans(plans)
    graviton_metal = launch_timings.recorded_median("graviton metal")
    if_recorded = planning.summarize_plans(plan_all(x86_metal_launch_s=graviton_metal))
    within_time = sum(p.predicted_s <= planning.TARGET_SECONDS for p in plans)
    print(f"catalog: {len(selected) + len(left_out)} types in moto's catalog; `all` selects {len(selected)} "
          f"({dict(collections.Counter(s.family for s in selected))}); left out {len(left_out)}")
    print(f"settings: the weekly refresh's, profile {weekly['profile']}, {weekly['time_budget_s']} s per type "
          f"(HPL up to {weekly['time_budget_s'] // 2} s), each host within {weekly['host_time_budget_s']} s: HPL's "
          f"solves and curve get what its other stages leave; STREAM arrays from each family's recorded cache")
    print(f"prices: {source}; {len(plans) - summary['unpriced']} of {len(plans)} types priced")
    print(f"predicted: {summary['instance_hours']} instance-hours, ${summary['usd']} on-demand for the priced types")
    print(f"within 10 minutes: {within_time} of {len(plans)} (the time model: planning.py's stated assumptions)")
    kinds = collections.Counter(kind_of(reason, launch_timings.X86_METAL_ASSUMED_S)
                                for reasons in summary["not_within"].values() for reason in reasons)
    for kind in ("unpriced", "metal boot", "time", "price"):
        print(f"not within, {kind}: {kinds.get(kind, 0)}")
    for name, reasons in list(summary["not_within"].items())[:args.show]:
        print(f"  {name}: {'; '.join(reasons)}")
    print(f"launch: virtualised and Graviton metal from {launch_timings.SOURCE}; Intel and AMD metal assumed "
          f"{launch_timings.X86_METAL_ASSUMED_S} s. Had they launched like the recorded Graviton metal "
          f"({graviton_metal:g} s): {if_recorded['within_targets']} of {len(plans)}")
    print(f"within_10min_and_5usd: {summary['within_targets']} of {len(plans)}")


if __name__ == "__main__":
    main()
