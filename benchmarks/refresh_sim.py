"""A year of weekly refreshes under a dollar budget, by four policies, in a simulated world (issue 30 item 7).

The world (refresh_world.py: true figures that change by events, noise, new families, prices, demand) is drawn
once per seed and lived by every policy, so each comparison is paired. Types and their per-host cost: moto's
catalog resolved as `all`, planned with the weekly settings (planning.plan, as the DAG plans) at the recorded
us-east-1 on-demand prices; unpriced types are never planned, as in the DAG. The policies:

- name_order: today's `apply_budget`: the configured list in name order, each type on the weekly refresh's two
  hosts, until the budget is spent (the same slice every week);
- round_robin: the same, starting each week where the last one stopped;
- oldest_first: never measured first, then the oldest measurement, two hosts each;
- adaptive: weekly_plan's value per option (1 or 2 hosts) from the signals a week shows (age, interval, hosts,
  drift seen in siblings, AWS-visible changes, new images, requests), solved by weekly_plan.solve; a new family's
  cheapest size is forced.

Metrics over the weeks and seeds: freshness (share of priced types present whose stored mean is within 5% of
the truth; a type never measured is not fresh), demand-weighted freshness, the share of real changes (family
and type changes of 3% or more to a type measured before) re-measured within two weeks, false alarms a week (a
re-measurement outside both figures' uncertainty, one host's counted with the planner's host spread, with no
change since), the largest weekly spend (a week's budget holds
last week's unspent money, once), the weeks over budget, and the weeks each policy takes to measure every type
once. The last line is exactly:

    refresh_sim: freshness adaptive <f> round_robin <f> oldest_first <f> detected_2wk adaptive <d> round_robin <d>
    max_weekly_usd <m>

(on one line). Controls: `--silent-share 1` (every change silent: adaptive must stay within 0.02 of
oldest_first) and `--budget 1e9` (every policy near 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from refresh_world import PARAMETERS, Settings, Type, World  # noqa: E402

from instance_benchmarks import weekly_plan  # noqa: E402

POLICIES = ("name_order", "round_robin", "oldest_first", "adaptive")
FRESH_WITHIN = 0.05
REAL_CHANGE = 0.03
WEEKLY_HOSTS = 2  # params.WEEKLY_INSTANCES_PER_TYPE: what today's policies measure each type with
DRIFT_MEMORY_WEEKS = 4  # how long a sibling's drift raises a type's value


def catalog_types() -> list[Type]:
    """moto's catalog as `all` selects it, each type's one-host cost by the weekly settings' plan."""
    from catalog_plan import moto_catalog

    from instance_benchmarks import catalog, params, planning, prices

    selected, _ = catalog.resolve(["all"], moto_catalog())
    snapshot = prices.recorded_snapshot("us-east-1", [s.instance_type for s in selected])
    weekly = params.weekly_settings()
    types = []
    for spec in selected:
        plan = planning.plan(spec, target="aws", profile=weekly["profile"], repetitions=None,
                             time_budget_s=weekly["time_budget_s"], image_registry="registry",
                             host_time_budget_s=weekly["host_time_budget_s"],
                             prices=snapshot["prices"].get(spec.instance_type))
        if plan.cost_on_demand:
            types.append(Type(spec.instance_type, spec.instance_type.split(".")[0], plan.cost_on_demand))
    return types


@dataclasses.dataclass
class Stored:
    mean: float
    halfwidth: float
    hosts: int
    week: int
    changed_since: bool = False  # the world changed the type since (what a false alarm is judged by)


def _variance(stored: Stored) -> float:
    """A stored mean's squared standard error, relative, with the planner's host spread where one host's interval
    cannot hold it (weekly_plan.HOST_CV: the policies know the prior, never the world's spread)."""
    return (stored.halfwidth / 1.96) ** 2 + (weekly_plan.HOST_CV**2 if stored.hosts < 2 else 0.0)


class Run:
    """One policy living one world: what is stored, what it spent, what it detected."""

    def __init__(self, world: World, policy: str, budget: float, seed: int) -> None:
        self.world, self.policy, self.budget = world, policy, budget
        self.rng = random.Random(f"{seed}:{policy}")  # noqa: S311 - measurement noise, reproducible
        self.truth = dict(world.truth0)
        self.present = {t.name: dataclasses.replace(t) for t in world.types}  # prices change per run
        self.stored: dict[str, Stored] = {}
        self.cursor = 0
        self.unspent = 0.0
        self.drift: dict[str, tuple[int, float]] = {}  # family -> (week seen, relative change)
        self.visible: set[str] = set()  # types with an AWS-visible change not yet measured
        self.imaged: set[str] = set()  # types measured before the latest new image
        self.demand: dict[str, float] = {}
        self.pending: list[tuple[int, str]] = []  # (week, type) of real changes to detect
        self.detected = self.changes = 0
        self.false_alarms = 0
        self.spent: list[float] = []
        self.over_budget = 0  # weeks that spent more than their budget (with its carry): must stay 0
        self.covered: int | None = None  # weeks until every type of the original catalog was measured once
        self.freshness: list[float] = []
        self.weighted: list[float] = []

    def live(self) -> None:
        original = {t.name for t in self.world.types}
        for week, events in enumerate(self.world.weeks):
            self._apply(week, events)
            budget = weekly_plan.week_budget(self.budget, self.unspent)
            chosen = self._choose(week, budget)
            cost = sum(self.present[name].cost_usd * hosts for name, hosts in chosen)
            self.over_budget += cost > budget + 1e-6
            self.unspent = max(0.0, budget - cost)
            self.spent.append(cost)
            for name, hosts in chosen:
                self._measure(week, name, hosts)
            self._score(week)
            if self.covered is None and original <= set(self.stored):
                self.covered = week + 1

    def _apply(self, week: int, events) -> None:
        for t in events.new_types:
            self.present[t.name] = dataclasses.replace(t)
            self.truth[t.name] = 1.0
        for name, factor in events.price_changes.items():
            if name in self.present:
                self.present[name].cost_usd *= factor
        for change in events.changes:
            if change.type_name not in self.present:
                continue
            self.truth[change.type_name] *= 1 + change.size
            if change.image:
                continue
            if change.type_name in self.stored:
                self.stored[change.type_name].changed_since = True
                if abs(change.size) >= REAL_CHANGE:
                    self.pending.append((week, change.type_name))
                    self.changes += 1
            if change.visible:
                self.visible.add(change.type_name)
        if any(change.image for change in events.changes):  # every stored figure ran on an older image
            self.imaged.update(self.stored)
        for name, count in events.requests.items():
            self.demand[name] = self.demand.get(name, 0.0) + count
        self.demand = {name: value * 0.8 for name, value in self.demand.items()}  # a few weeks' memory

    def _choose(self, week: int, budget: float) -> list[tuple[str, int]]:
        names = sorted(self.present)
        if self.policy == "adaptive":
            return self._adaptive(week, budget, names)
        if self.policy == "oldest_first":
            names.sort(key=lambda n: (self.stored[n].week if n in self.stored else -1, n))
        elif self.policy == "round_robin":
            self.cursor %= max(1, len(names))
            names = names[self.cursor:] + names[:self.cursor]
        chosen, spent = [], 0.0
        for name in names:
            cost = self.present[name].cost_usd * WEEKLY_HOSTS
            if spent + cost > budget:
                if self.policy == "round_robin":
                    break  # next week starts here
                continue  # as apply_budget: a type that does not fit is skipped, the rest go on
            chosen.append((name, WEEKLY_HOSTS))
            spent += cost
        if self.policy == "round_robin":
            self.cursor += len(chosen)
        return chosen

    def _signals(self, week: int, name: str) -> weekly_plan.Signals:
        stored = self.stored.get(name)
        family = self.present[name].family
        seen = self.drift.get(family)
        drift = seen[1] if seen and week - seen[0] <= DRIFT_MEMORY_WEEKS else 0.0
        if stored is None:
            return weekly_plan.Signals(demand=self.demand.get(name, 0.0))
        return weekly_plan.Signals(age_weeks=week - stored.week, interval_halfwidth=stored.halfwidth,
                                   hosts=stored.hosts, sibling_drift=drift, aws_changed=name in self.visible,
                                   image_changed=name in self.imaged, demand=self.demand.get(name, 0.0))

    def _adaptive(self, week: int, budget: float, names: list[str]) -> list[tuple[str, int]]:
        candidates = [weekly_plan.Candidate(region="us-east-1", instance_type=name,
                                            instance_family=self.present[name].family,
                                            cost_per_host={"on-demand": self.present[name].cost_usd},
                                            signals=self._signals(week, name))
                      for name in names]
        solution = weekly_plan.solve(weekly_plan.options(candidates), budget, step_usd=0.05)
        return [(o.instance_type, o.hosts) for o in solution.chosen]

    def _measure(self, week: int, name: str, hosts: int) -> None:
        mean, halfwidth = self.world.measure(self.truth[name], hosts, self.rng)
        before = self.stored.get(name)
        now = Stored(mean, halfwidth, hosts, week)
        if before is not None:
            moved = mean / before.mean - 1
            # a drift alarm, as a reader of the two figures would raise one: outside both figures' uncertainty
            if abs(moved) > 1.96 * math.sqrt(_variance(before) + _variance(now)):
                self.drift[self.present[name].family] = (week, moved)
                self.false_alarms += not before.changed_since
        self.stored[name] = now
        self.visible.discard(name)
        self.imaged.discard(name)
        still = []
        for changed_week, changed in self.pending:
            if changed == name:
                self.detected += week - changed_week <= 1
            else:
                still.append((changed_week, changed))
        self.pending = still

    def _score(self, week: int) -> None:
        # changes older than two weeks that were not re-measured are missed
        self.pending = [(w, n) for w, n in self.pending if week - w < 1]
        names = list(self.present)
        fresh = {n: n in self.stored and abs(self.stored[n].mean / self.truth[n] - 1) <= FRESH_WITHIN for n in names}
        self.freshness.append(sum(fresh.values()) / len(names))
        weights = {n: 1.0 + self.demand.get(n, 0.0) for n in names}
        self.weighted.append(sum(weights[n] for n in names if fresh[n]) / sum(weights.values()))



def paired_interval(differences: list[float]) -> tuple[float, float, float]:
    """Mean of the paired differences and its 95% t-interval."""
    from scipy import stats

    mean = statistics.fmean(differences)
    if len(differences) < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.975, len(differences) - 1) * statistics.stdev(differences) / math.sqrt(len(differences))
    return mean, mean - half, mean + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--budget", type=float, default=100.0, help="dollars a week (the issue's $100)")
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--seeds", type=int, default=5, help="worlds drawn; each lived by every policy")
    for name, (default, source) in PARAMETERS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default, help=source)
    args = parser.parse_args()
    settings = Settings(**{name: getattr(args, name) for name in PARAMETERS})

    started = time.monotonic()
    types = catalog_types()
    print(f"catalog: {len(types)} priced types, ${sum(t.cost_usd for t in types):.2f} for one host each "
          f"(weekly settings' plans, recorded us-east-1 on-demand prices); budget ${args.budget:g} a week")
    results = {policy: [] for policy in POLICIES}
    for seed in range(args.seeds):
        world = World.draw(types, settings, args.weeks, seed)
        for policy in POLICIES:
            run = Run(world, policy, args.budget, seed)
            run.live()
            results[policy].append({
                "freshness": statistics.fmean(run.freshness), "weighted": statistics.fmean(run.weighted),
                "detected": run.detected / run.changes if run.changes else math.nan,
                "false_alarms": run.false_alarms / args.weeks, "max_spent": max(run.spent),
                "over_budget": run.over_budget, "covered": run.covered})
    for policy in POLICIES:
        rows = results[policy]
        print(f"{policy:13s} freshness {statistics.fmean(r['freshness'] for r in rows):.3f} "
              f"demand-weighted {statistics.fmean(r['weighted'] for r in rows):.3f} "
              f"detected within 2 weeks {statistics.fmean(r['detected'] for r in rows):.3f} "
              f"false alarms/week {statistics.fmean(r['false_alarms'] for r in rows):.2f} "
              f"max weekly ${max(r['max_spent'] for r in rows):.2f}, weeks over budget "
              f"{sum(r['over_budget'] for r in rows)}, weeks to measure every type once "
              f"{[r['covered'] for r in rows]}")
    fresh = paired_interval([a["freshness"] - b["freshness"]
                             for a, b in zip(results["adaptive"], results["round_robin"], strict=True)])
    detect = paired_interval([a["detected"] - 2 * b["detected"]
                              for a, b in zip(results["adaptive"], results["round_robin"], strict=True)])
    silent = paired_interval([a["freshness"] - b["freshness"]
                              for a, b in zip(results["adaptive"], results["oldest_first"], strict=True)])
    print(f"paired over {args.seeds} seeds: freshness adaptive - round_robin {fresh[0]:+.3f} "
          f"[{fresh[1]:+.3f}, {fresh[2]:+.3f}]; detected adaptive - 2 x round_robin {detect[0]:+.3f} "
          f"[{detect[1]:+.3f}, {detect[2]:+.3f}]; freshness adaptive - oldest_first {silent[0]:+.3f} "
          f"[{silent[1]:+.3f}, {silent[2]:+.3f}]")
    print(f"({time.monotonic() - started:.0f} s)")
    mean = {policy: {k: statistics.fmean(r[k] for r in results[policy]) for k in ("freshness", "detected")}
            for policy in POLICIES}
    most = max(r["max_spent"] for policy in POLICIES for r in results[policy])
    print(f"refresh_sim: freshness adaptive {mean['adaptive']['freshness']:.3f} "
          f"round_robin {mean['round_robin']['freshness']:.3f} oldest_first {mean['oldest_first']['freshness']:.3f} "
          f"detected_2wk adaptive {mean['adaptive']['detected']:.3f} round_robin {mean['round_robin']['detected']:.3f} "
          f"max_weekly_usd {most:.2f}")


if __name__ == "__main__":
    main()
