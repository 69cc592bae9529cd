"""How fresh each type's figures are, and why the week did or did not measure it again (issue 30 items 5 and 6).

One home for what the report, the API and the plan's page say about freshness: the dataset's facts per type
(weekly_signals.measured_facts, as the plan reads them) beside the latest weekly plan's decision for it, and the
week's plan against what its runs spent.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from instance_benchmarks.params import weekly_run_id
from instance_benchmarks.results import ResultStore
from instance_benchmarks.weekly_refresh import PLANS, plan_path

WEEK = re.compile(r"\d{4}-\d{2}-\d{2}")
# Sizes in the order a reader expects them across a family (unknown ones after, by name)
_SIZE_ORDER = ("nano", "micro", "small", "medium", "large", "xlarge")


def weeks(store: ResultStore) -> list[str]:
    """The weeks with a plan, newest first."""
    base = store.root.joinpath(*PLANS)
    if not base.exists():
        return []
    return sorted((p.stem for p in base.glob("*.json") if WEEK.fullmatch(p.stem)), reverse=True)


def plan_of(store: ResultStore, week: str = "latest") -> dict[str, Any] | None:
    """A week's plan (plans/weekly/<week>.json), the newest for 'latest'; None where there is none."""
    if week == "latest":
        found = weeks(store)
        if not found:
            return None
        week = found[0]
    if not WEEK.fullmatch(week):
        raise ValueError(f"a week is named by its date (YYYY-MM-DD) or 'latest', not {week!r}")
    path = plan_path(store, week)
    return json.loads(path.read_text()) if path.exists() else None


def size_rank(size: str) -> tuple[int, float, str]:
    """nano < micro < small < medium < large < xlarge < 2xlarge < ... < 48xlarge < metal (and metal-48xl)."""
    if size in _SIZE_ORDER:
        return 0, _SIZE_ORDER.index(size), size
    match = re.fullmatch(r"(\d+)xlarge", size)
    if match:
        return 0, len(_SIZE_ORDER) + int(match.group(1)), size
    return 1, 0, size


def rows(summary: Any, plan: dict[str, Any] | None, *, today: datetime.date) -> list[dict[str, Any]]:
    """One row per (region, type) measured or weighed by the plan: when it was last measured, how old, on how many
    hosts, its widest interval, and the week's decision with its reasons."""
    from instance_benchmarks.weekly_signals import measured_facts

    decided: dict[tuple[str, str], str] = {}
    if plan is not None:
        for option in plan.get("chosen", []):
            decided[(option["region"], option["instance_type"])] = (
                f"measured the week of {plan['week']} ({option['hosts']} host(s), {option['market']}): "
                + "; ".join(option["reasons"]))
        for entry in plan.get("not_chosen", []):
            decided[(entry["region"], entry["instance_type"])] = f"not the week of {plan['week']}: {entry['reason']}"
    regions = sorted(set(summary["region"])) if summary is not None and not summary.empty else []
    facts = {(region, name): f for region in regions for name, f in measured_facts(summary, region).items()}
    found = []
    for region, name in sorted(set(facts) | set(decided)):
        fact = facts.get((region, name))
        found.append({
            "region": region, "instance_type": name,
            "last_measured": fact["last_day"].isoformat() if fact else None,
            "age_weeks": round((today - fact["last_day"]).days / 7, 1) if fact else None,
            "hosts": fact["hosts"] if fact else None,
            "interval_halfwidth": fact["interval_halfwidth"] if fact else None,
            "this_week": decided.get((region, name),
                                     "not in a weekly plan yet" if plan is None else
                                     f"not requested by the week of {plan['week']} "
                                     "($INSTANCE_BENCHMARKS_INSTANCE_TYPES)"),
        })
    return found


def spent(store: ResultStore, plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Per run of the week: its planned dollars and what its stored documents cost (provenance.cost.usd), or None
    before the run's analyze wrote its summary. Quarantined hosts' minutes are not in a document: counted apart."""
    found = []
    for run in plan.get("runs", []):
        run_id = weekly_run_id(datetime.date.fromisoformat(plan["week"]), run["name"])
        summary_path = store.run_reports(run_id) / "summary.json"
        entry = {"run_id": run_id, "planned_usd": run.get("planned_usd"),
                 "types": len(run["conf"]["instance_types"]), "actual_usd": None, "documents": None,
                 "quarantined": None, "skipped": None}
        if summary_path.exists():
            summary = json.loads(summary_path.read_text())
            costs = []
            for uri in summary.get("documents", []):
                doc = json.loads(store.path(uri).read_text())
                costs.append(((doc.get("provenance") or {}).get("cost") or {}).get("usd") or 0.0)
            entry.update(actual_usd=round(sum(costs), 4), documents=len(costs),
                         quarantined=len(summary.get("quarantined", [])), skipped=len(summary.get("skipped", [])))
        found.append(entry)
    return found
