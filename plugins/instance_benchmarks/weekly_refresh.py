"""The weekly_refresh tasks: the week planned from its signals, written for review, and split into runs.

`plan_week` reads every signal (weekly_signals), prices each candidate's hosts with the weekly settings (the same
planning.plan a run sizes itself with, at the latest prices: re-priced without launching), solves the week
(weekly_plan.solve) and writes `plans/weekly/<week>.json` with a readable `<week>.md`: the budget, what was chosen
and why, what was not and why, every signal with its source. `runs_of` splits the chosen into one
instance_benchmarks run per region, market and host count, each with its share of the budget.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
from collections import Counter
from typing import Any

from instance_benchmarks import weekly_plan, weekly_signals
from instance_benchmarks.results import ResultStore, safe_segment

log = logging.getLogger(__name__)

PLANS = ("plans", "weekly")
NEXT_NOT_CHOSEN = 20  # how many of the best types left out the summary names


def plan_path(store: ResultStore, week: str, suffix: str = "json") -> Any:
    return store.root.joinpath(*PLANS) / f"{safe_segment(week)}.{suffix}"


def previous_unspent(store: ResultStore, week: datetime.date) -> tuple[float, str | None]:
    """What last week's plan left of its budget (carried once: weekly_plan.week_budget), and its file."""
    last = plan_path(store, (week - datetime.timedelta(weeks=1)).isoformat())
    if not last.exists():
        return 0.0, None
    plan = json.loads(last.read_text())
    budget = plan["budget"]
    if budget.get("weekly_usd") is None:
        return 0.0, last.as_uri()
    return max(0.0, budget["week_usd"] - budget["planned_usd"]), last.as_uri()


def _catalog_rows(store: ResultStore, region: str, aws_conn_id: str | None) -> tuple[list[dict[str, Any]], str]:
    """The region's catalog: catalog_refresh's latest, else DescribeInstanceTypes now (no history: nothing to
    diff a fingerprint against)."""
    import pyarrow.parquet as pq

    from instance_benchmarks import catalog

    latest = store.root / "catalog" / f"region={region}" / "latest.parquet"
    if latest.exists():
        with latest.open("rb") as handle:
            return pq.read_table(handle).to_pandas().to_dict("records"), f"catalog_refresh's {latest.as_uri()}"
    from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook

    client = EC2Hook(aws_conn_id=aws_conn_id, region_name=region, api_type="client_type").conn
    described = catalog.describe_instance_types(client)
    specs = sorted((catalog.spec_from_description(d) for d in described), key=lambda s: s.instance_type)
    rows = catalog.catalog_rows(specs, {}, region=region,
                                fingerprints={d["InstanceType"]: catalog.fingerprint(d) for d in described})
    return rows, "DescribeInstanceTypes, read now (catalog_refresh has not published this region)"


def known_in(store: ResultStore, region: str, *, aws_conn_id: str | None, today: datetime.date, summary: Any,
             raw: Any, demand: dict[str, float]) -> weekly_signals.Known:
    """Every signal's source for one region, read once."""
    from botocore.exceptions import BotoCoreError, ClientError

    from instance_benchmarks.analysis import DATASET_POINTER
    from instance_benchmarks.demand import DECAY_PER_WEEK

    known = weekly_signals.Known(demand=demand)
    known.measured = weekly_signals.measured_facts(summary, region)
    known.drift = weekly_signals.recent_drift(raw, region, today=today)
    known.newest_microcode = weekly_signals.newest_microcode(raw, region)
    known.fingerprint_then = weekly_signals.fingerprints_then(
        store, region, {name: facts["last_day"] for name, facts in known.measured.items()})
    known.spot_hosts, known.spot_interrupted = weekly_signals.spot_record(store, raw)
    dataset = f"the dataset's current version ({DATASET_POINTER}): {len(known.measured)} types measured here"
    known.sources = {
        "age_weeks, interval_halfwidth, hosts": dataset,
        "sibling_drift": f"analysis.drift over the dataset's raw table, the last {weekly_signals.DRIFT_WEEKS} weeks: "
                         f"{len(known.drift)} types changed",
        "aws_changed": f"catalog_refresh's dated catalogs' fingerprints: {len(known.fingerprint_then)} types "
                       "with a catalog from their last measured day",
        "demand": f"demand/ (the API's and the page's requests), weighted x{DECAY_PER_WEEK} a week",
        "spot_risk": f"the project's interrupted quarantines over its spot documents, prior "
                     f"{weekly_plan.SPOT_INTERRUPTION_PRIOR:.0%} (AWS Spot Instance Advisor's lowest bucket)",
    }
    try:
        known.latest_ami = weekly_signals.latest_amis(aws_conn_id=aws_conn_id, region=region)
        known.sources["image_changed"] = (f"AL2023's public SSM parameters ({', '.join(known.latest_ami.values())})"
                                          " and the latest microcode seen per CPU model")
    except (BotoCoreError, ClientError) as exc:
        log.warning("%s: the AMI parameters could not be read (%s): only microcode tells a newer image", region, exc)
        known.sources["image_changed"] = f"microcode only: the AMI parameters could not be read ({exc})"
    return known


def candidates_in(rows: list[dict[str, Any]], specs: list[Any], known: weekly_signals.Known, *, region: str,
                  settings: dict[str, Any], snapshot: dict[str, Any], today: datetime.date
                  ) -> list[weekly_plan.Candidate]:
    """The requested types (`specs`, resolved from the region's catalog `rows`) as candidates, each host priced by
    its weekly plan."""
    from instance_benchmarks import planning
    from instance_benchmarks.params import default_image_repository

    by_name = {r["instance_type"]: r for r in rows}
    family_of = {r["instance_type"]: r["instance_family"] for r in rows}
    found = []
    for spec in specs:
        plan = planning.plan(spec, target="aws", profile=settings["profile"], repetitions=None,
                             time_budget_s=settings["time_budget_s"], image_registry=default_image_repository() or "",
                             host_time_budget_s=settings.get("host_time_budget_s"),
                             prices=snapshot["prices"].get(spec.instance_type))
        found.append(weekly_plan.Candidate(
            region=region, instance_type=spec.instance_type, instance_family=spec.instance_family,
            cost_per_host={"on-demand": plan.cost_on_demand, "spot": plan.cost_spot},
            signals=weekly_signals.signals_for(by_name[spec.instance_type], family_of, known, today=today)))
    return found


def plan_week(*, store: ResultStore, regions: list[str], requested: list[str], aws_conn_id: str | None,
              week: datetime.date, settings: dict[str, Any], markets: list[str], hosts: list[int]) -> dict[str, Any]:
    """Plan the week, write it (json and md) and return it."""
    from instance_benchmarks import catalog, demand, prices
    from instance_benchmarks.analysis import read_current

    summary, raw = read_current(store, "summary"), read_current(store, "raw")
    asked = demand.read(store, today=week)
    weekly_usd = settings.get("budget_usd")
    unspent, last_plan = previous_unspent(store, week)
    budget = math.inf if weekly_usd is None else weekly_plan.week_budget(weekly_usd, unspent)
    candidates: list[weekly_plan.Candidate] = []
    sources: dict[str, Any] = {}
    left_out: dict[str, str] = {}
    for region in regions:
        rows, catalog_source = _catalog_rows(store, region, aws_conn_id)
        known = known_in(store, region, aws_conn_id=aws_conn_id, today=week, summary=summary, raw=raw,
                         demand=asked)
        specs, dropped = catalog.resolve(requested, [catalog.spec_from_row(r) for r in rows])
        snapshot = prices.aws_snapshot(aws_conn_id=aws_conn_id, region=region,
                                       instance_types=[s.instance_type for s in specs])
        found = candidates_in(rows, specs, known, region=region, settings=settings, snapshot=snapshot, today=week)
        candidates += found
        left_out.update({f"{region}/{name}": reason for name, reason in dropped.items()})
        sources[region] = {"catalog": catalog_source, "prices": snapshot["source"],
                           "price_errors": snapshot["errors"][:5], **known.sources}
        log.info("%s: %d candidates of %d catalog types (%s)", region, len(found), len(rows), catalog_source)
    if weekly_usd is None:
        solution = weekly_plan.Solution(budget_usd=math.inf, chosen=[
            _every(c, settings.get("instances_per_type") or 1) for c in candidates])
    else:
        solution = weekly_plan.solve(weekly_plan.options(candidates, hosts=hosts, markets=markets), budget)
    document = _document(solution, candidates, week=week, weekly_usd=weekly_usd, unspent=unspent,
                         last_plan=last_plan, settings=settings, sources=sources, left_out=left_out,
                         markets=markets, hosts=hosts)
    path = plan_path(store, week.isoformat())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")
    plan_path(store, week.isoformat(), "md").write_text(summary_text(document))
    document["uri"] = path.as_uri()
    log.info("The week of %s: %d types chosen for $%.2f of $%s; plan at %s", week, len(solution.chosen),
             document["budget"]["planned_usd"], document["budget"]["week_usd"], path.as_uri())
    return document


def _every(candidate: weekly_plan.Candidate, hosts: int) -> weekly_plan.Option:
    """No weekly budget: every requested type is measured with the weekly hosts on demand (the refresh as it was
    before the plan chose), its value and reasons still shown."""
    per_host = candidate.cost_per_host.get("on-demand")
    return weekly_plan.Option(region=candidate.region, instance_type=candidate.instance_type, hosts=hosts,
                              market="on-demand", cost_usd=per_host * hosts if per_host else None,
                              value=weekly_plan.measurement_value(candidate.signals, hosts),
                              reasons=("no weekly budget: every requested type", *candidate.signals.reasons()))


def _document(solution: weekly_plan.Solution, candidates: list[weekly_plan.Candidate], *, week: datetime.date,
              weekly_usd: float | None, unspent: float, last_plan: str | None, settings: dict[str, Any],
              sources: dict[str, Any], left_out: dict[str, str], markets: list[str], hosts: list[int]
              ) -> dict[str, Any]:
    signals = {f"{c.region}/{c.instance_type}": {**c.signals.__dict__, "reasons": list(c.signals.reasons())}
               for c in candidates}
    planned = sum(o.cost_usd or 0.0 for o in solution.chosen)
    ranked = sorted(solution.left, key=lambda e: -(e.best.value_per_usd if e.best and e.best.cost_usd else -1))
    return {
        "week": week.isoformat(),
        "made_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "budget": {"weekly_usd": weekly_usd, "carried_usd": round(unspent, 2) if weekly_usd is not None else 0.0,
                   "carried_from": last_plan, "week_usd": None if weekly_usd is None else solution.budget_usd,
                   "planned_usd": round(planned, 2),
                   "cut_off_value_per_usd": solution.cut_off_value_per_usd},
        "settings": {**settings, "markets": markets, "hosts": hosts},
        "chosen": [o.to_dict() for o in solution.chosen],
        "not_chosen": [{"region": e.region, "instance_type": e.instance_type, "reason": e.reason,
                        "best": e.best.to_dict() if e.best else None} for e in ranked],
        "left_out_by_the_request": left_out,
        "runs": runs_of(solution.chosen, settings=settings),
        "signals": signals,
        "sources": sources,
        "value_model": "docs/catalog.md, 'The week's plan'",
    }


def runs_of(chosen: list[weekly_plan.Option], *, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """One instance_benchmarks conf per (region, market, hosts), its budget the sum of its types' planned costs
    rounded up to the cent (None when no weekly budget is set); `planned_usd` keeps that sum for the plan's page."""
    groups: dict[tuple[str, str, int], list[weekly_plan.Option]] = {}
    for option in chosen:
        groups.setdefault((option.region, option.market, option.hosts), []).append(option)
    runs = []
    for (region, market, count), options in sorted(groups.items()):
        cost = sum(o.cost_usd or 0.0 for o in options)
        runs.append({"name": f"{region}__{market}__{count}h", "planned_usd": round(cost, 4), "conf": {
            "target": "aws", "region": region, "market": market,
            "instance_types": sorted(o.instance_type for o in options),
            "profile": settings["profile"], "time_budget_s": settings["time_budget_s"],
            "host_time_budget_s": settings.get("host_time_budget_s"), "instances_per_type": count,
            "budget_usd": None if settings.get("budget_usd") is None else math.ceil(cost * 100 - 1e-9) / 100}})
    return runs


def summary_text(plan: dict[str, Any]) -> str:
    """The plan in words (Markdown): what the review shows and `plans/weekly/<week>.md` keeps."""
    budget = plan["budget"]
    lines = [f"# The week of {plan['week']}", ""]
    if budget["weekly_usd"] is None:
        lines.append(f"No weekly budget set: every requested type is measured (${budget['planned_usd']:.2f} "
                     "predicted). Set INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD to let the plan choose.")
    else:
        lines.append(f"Budget ${budget['week_usd']:.2f} (${budget['weekly_usd']:.2f} a week, "
                     f"${budget['carried_usd']:.2f} carried from last week); planned ${budget['planned_usd']:.2f}.")
    counts = Counter((c["market"], c["hosts"]) for c in plan["chosen"])
    lines += ["", f"{len(plan['chosen'])} types to measure in {len(plan['runs'])} run(s): "
              + ", ".join(f"{n} on {market} x {hosts} host(s)" for (market, hosts), n in sorted(counts.items())), "",
              "| type | hosts | market | $ | why |", "| --- | --- | --- | --- | --- |"]
    for option in sorted(plan["chosen"], key=lambda o: (-(o["value_per_usd"] or 0), o["instance_type"])):
        cost = f"{option['cost_usd']:.2f}" if option["cost_usd"] else "unpriced"
        lines.append(f"| {option['region']}/{option['instance_type']} | {option['hosts']} | {option['market']} | "
                     f"{cost} | {'; '.join(option['reasons'])} |")
    if plan["not_chosen"]:
        lines += ["", f"Next {min(NEXT_NOT_CHOSEN, len(plan['not_chosen']))} not chosen "
                  f"(of {len(plan['not_chosen'])}):", "", "| type | why not |", "| --- | --- |"]
        lines += [f"| {e['region']}/{e['instance_type']} | {e['reason']} |"
                  for e in plan["not_chosen"][:NEXT_NOT_CHOSEN]]
    return "\n".join(lines) + "\n"
