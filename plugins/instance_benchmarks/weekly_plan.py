"""The week's plan: which (region, type) to measure, on which market, with how many hosts, within a dollar budget.

One module for the whole decision (docs/catalog.md): options priced by the per-type planner, each with a value,
then `solve`, a multiple-choice knapsack: at most one option per (region, type), the most value within the
budget. Exact, by dynamic programming over the budget in cents (about 1,200 types x 4 options x 10,000 cents
is a few numpy passes, 24 MB of choices at most); costs are rounded up to the cent, so a plan can never spend
more than its budget. `greedy` is the cross-check a reader can follow: options by value per dollar, and the
cut-off where the money ran out, which is what `solve` gives as the reason a type was left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The budget is solved in steps of a cent up to this many steps; a larger one in coarser steps, costs still
# rounded up: never over, at worst a step per chosen type left unspent (a budget that buys everything is exact).
MAX_STEPS = 20_000


# Labelled priors of the value model (docs/catalog.md), each to be refitted from the dataset once weeks exist.
# A type's figure changes with probability 1 - exp(-CHANGE_RATE_PER_WEEK x age): no published week-over-week
# figure for STREAM or HPL on Nitro exists (../shared/data/cloud-variability); one change a year is assumed.
CHANGE_RATE_PER_WEEK = 1 / 52
# How large a change is when it happens, relative: Henning et al. 2025 saw CVs below 3.7% over 3 months on
# AWS; mitigations and silicon swaps are larger (Downfall up to 50%, mixed processors up to 40%): 5% assumed.
CHANGE_SIZE = 0.05
# Host-to-host spread of one type's figure, relative (the two-host runs replace it): 3.7% (Henning et al. 2025).
HOST_CV = 0.037
# A type never measured has no figure: its error is the whole figure.
NEVER_MEASURED_ERROR = 1.0
# What a sibling's drift says about this type: the chance it moved too, given a sibling did.
SIBLING_DRIFT_SHARE = 0.5
# A spot host's chance of being interrupted before its documents are stored, where the project has seen none of its
# own: AWS's Spot Instance Advisor puts most types in its lowest bucket, "<5%" a month; 5% assumed per host-run.
SPOT_INTERRUPTION_PRIOR = 0.05
MARKETS = ("on-demand", "spot")


@dataclass(frozen=True)
class Signals:
    """What is known of one (region, type) when the week is planned; each comes from a named source
    (docs/catalog.md): the dataset (age, interval, hosts), the siblings' drift, catalog_refresh's fingerprint
    diff, the AMI parameter, and the requests counted by the API and the page (decayed)."""

    age_weeks: float | None = None  # of the latest measurement of the current configuration; None: never
    # the stored headline figures' largest 95% half-width over the mean, at the normal quantile (1.96 standard
    # errors: two hosts' t-interval would read 6.5 times wider for the same spread)
    interval_halfwidth: float | None = None
    hosts: int = 0  # hosts behind the stored figures
    sibling_drift: float = 0.0  # largest relative change seen in the family's or CPU model's types lately
    aws_changed: bool = False  # DescribeInstanceTypes' processor, clock, features, ... differ from last time
    image_changed: bool = False  # a newer AMI, kernel or microcode than the stored documents ran on
    demand: float = 0.0  # requests for the type, decayed
    spot_risk: float = SPOT_INTERRUPTION_PRIOR  # the chance a spot host is interrupted (the project's own record)

    def reasons(self) -> tuple[str, ...]:
        """The signals in words, as the plan and its page show them: 'stale 11 weeks', 'interval ±4.2%'."""
        if self.age_weeks is None:
            found = ["never measured"]
        else:
            found = [f"stale {self.age_weeks:.0f} weeks" if self.age_weeks >= 1 else "measured this week"]
            if self.interval_halfwidth is not None:
                found.append(f"interval ±{100 * self.interval_halfwidth:.1f}%")
            if self.hosts < 2:
                found.append("one host")
        if self.sibling_drift:
            found.append(f"sibling drifted {100 * self.sibling_drift:+.0f}%")
        if self.aws_changed:
            found.append("AWS reports it differently since")
        if self.image_changed:
            found.append("newer AMI or microcode since")
        if self.demand >= 0.5:
            found.append(f"asked {self.demand:.0f} times")
        return tuple(found)


def change_probability(signals: Signals) -> float:
    """The chance the type's true figure is no longer the stored one."""
    if signals.age_weeks is None or signals.aws_changed:
        return 1.0
    chance = 1.0 - math.exp(-CHANGE_RATE_PER_WEEK * max(signals.age_weeks, 0.0))
    if signals.image_changed:
        chance = max(chance, 0.5)
    if signals.sibling_drift > CHANGE_SIZE / 2:
        chance = max(chance, SIBLING_DRIFT_SHARE)
    return chance


def _change_and_sampling(signals: Signals) -> tuple[float, float]:
    """The stored figure's expected squared relative error, in two parts: a change since (its chance times its
    size squared), and the stored mean's own uncertainty (the interval's half-width over 1.96, squared, plus the
    host spread where one host's interval cannot hold it)."""
    if signals.age_weeks is None:
        return 0.0, NEVER_MEASURED_ERROR**2
    size = max(CHANGE_SIZE, abs(signals.sibling_drift))
    standard_error = (signals.interval_halfwidth or 2 * HOST_CV) / 1.96
    one_host = HOST_CV**2 if signals.hosts < 2 else 0.0
    return change_probability(signals) * size**2, standard_error**2 + one_host


def measurement_value(signals: Signals, hosts: int) -> float:
    """The expected reduction of the squared relative error (in %^2) that measuring with `hosts` hosts brings,
    weighted by demand (1 + requests): the fresh figure replaces the stored one, settling any change but bringing
    its own uncertainty (HOST_CV^2 / hosts). Negative where the stored figure is the better bet: never bought."""
    change, sampling = _change_and_sampling(signals)
    fresh = HOST_CV**2 / max(1, hosts)
    return (1.0 + max(signals.demand, 0.0)) * (change + sampling - fresh) * 1e4


def sibling_check_value(siblings: Iterable[Signals]) -> float:
    """What measuring a family's cheapest size is worth to its siblings as a drift check (in %^2, as
    measurement_value): each sibling's expected change, weighted by its demand, times the share of a change
    the sibling would show too."""
    return sum((1.0 + max(s.demand, 0.0)) * change_probability(s) * CHANGE_SIZE**2 * SIBLING_DRIFT_SHARE * 1e4
               for s in siblings if s.age_weeks is not None)


@dataclass(frozen=True)
class Candidate:
    """One (region, type) the week may measure: its instance family, a host's predicted cost on each market (None:
    no price) and its signals."""

    region: str
    instance_type: str
    instance_family: str
    cost_per_host: dict[str, float | None]
    signals: Signals


def options(candidates: Iterable[Candidate], *, hosts: Sequence[int] = (1, 2),
            markets: Sequence[str] = ("on-demand",)) -> list[Option]:
    """Every way to measure each candidate: `hosts` x `markets`, each valued by measurement_value; a family's
    cheapest size carries its siblings' drift check (sibling_check_value); a family never measured has its
    cheapest size forced, on one on-demand host (a first figure, not one a spot interruption can take away).
    A spot option is worth its value times the chance it is not interrupted. A candidate with no price on a market
    still gets its option, unpriced, so the plan lists it."""
    by_family: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in candidates:
        by_family.setdefault((candidate.region, candidate.instance_family), []).append(candidate)
    found = []
    for members in by_family.values():
        priced = [c for c in members if c.cost_per_host.get("on-demand")]
        cheapest = min(priced, key=lambda c: (c.cost_per_host["on-demand"], c.instance_type)) if priced else None
        never = all(c.signals.age_weeks is None for c in members)
        bonus = sibling_check_value(c.signals for c in members if c is not cheapest)
        for candidate in members:
            for count in hosts:
                for market in markets:
                    per_host = candidate.cost_per_host.get(market)
                    value = measurement_value(candidate.signals, count) + (bonus if candidate is cheapest else 0.0)
                    if market == "spot":
                        value *= 1.0 - candidate.signals.spot_risk
                    forced = never and candidate is cheapest and count == 1 and market == "on-demand"
                    reasons = candidate.signals.reasons()
                    if candidate is cheapest and bonus > 0:
                        reasons += (f"the family's cheapest size: a drift check for {len(members) - 1} siblings",)
                    if forced:
                        reasons = ("a new family: its cheapest size first",) + reasons
                    found.append(Option(region=candidate.region, instance_type=candidate.instance_type, hosts=count,
                                        market=market, cost_usd=per_host * count if per_host else None,
                                        value=value, forced=forced, reasons=reasons))
    return found


@dataclass(frozen=True)
class Option:
    """One way to measure one type this week: `hosts` hosts on `market`, for `cost_usd` predicted, worth `value`.

    `forced` options (a new family's cheapest size) are bought before anything is weighed.
    """

    region: str
    instance_type: str
    hosts: int
    market: str
    cost_usd: float | None  # None: no price on this market (never planned)
    value: float
    forced: bool = False
    reasons: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return self.region, self.instance_type

    @property
    def value_per_usd(self) -> float:
        return self.value / self.cost_usd if self.cost_usd else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "instance_type": self.instance_type, "hosts": self.hosts,
                "market": self.market, "cost_usd": self.cost_usd, "value": round(self.value, 4),
                "value_per_usd": round(self.value_per_usd, 4) if self.cost_usd else None, "forced": self.forced,
                "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Left:
    """A (region, type) the plan does not measure, with its best option (None if it had none) and why."""

    region: str
    instance_type: str
    best: Option | None
    reason: str


@dataclass(frozen=True)
class Solution:
    budget_usd: float
    chosen: list[Option]
    left: list[Left] = field(default_factory=list)
    cut_off_value_per_usd: float | None = None  # the greedy's: the best value per dollar that no longer fit

    @property
    def spent_usd(self) -> float:
        return sum(o.cost_usd for o in self.chosen)

    @property
    def value(self) -> float:
        return sum(o.value for o in self.chosen)


def week_budget(weekly_usd: float, unspent_last_week_usd: float = 0.0) -> float:
    """This week's budget: the weekly amount and what last week left, carried once (at most one more week's)."""
    if weekly_usd < 0:
        raise ValueError(f"the weekly budget must be at least 0, got {weekly_usd}")
    return weekly_usd + min(max(unspent_last_week_usd, 0.0), weekly_usd)


def _priced(options: Iterable[Option]) -> tuple[list[Option], list[Option]]:
    """Options with a finite, positive cost; and the others (unpriced: never planned)."""
    priced, unpriced = [], []
    for option in options:
        good = option.cost_usd is not None and math.isfinite(option.cost_usd) and option.cost_usd > 0
        (priced if good else unpriced).append(option)
    return priced, unpriced


def _by_key(options: Iterable[Option]) -> dict[tuple[str, str], list[Option]]:
    grouped: dict[tuple[str, str], list[Option]] = {}
    for option in options:
        grouped.setdefault(option.key, []).append(option)
    return grouped


def _knapsack(groups: Sequence[Sequence[Option]], budget_usd: float, step_usd: float = 0.01) -> list[Option]:
    """The most value with at most one option of each group, costs rounded up to the step: exact at that step."""
    if not groups or budget_usd <= 0:
        return []
    most = [max(group, key=lambda o: (o.value, -o.cost_usd)) for group in groups]
    if sum(o.cost_usd for o in most) <= budget_usd:  # everything fits (an unlimited budget): the most of each
        return most
    step = max(step_usd, budget_usd / MAX_STEPS)
    capacity = int(math.floor(budget_usd / step + 1e-9))
    # best[c]: the most value spending at most c steps on the groups so far
    best = np.zeros(capacity + 1)
    picks = np.full((len(groups), capacity + 1), -1, dtype=np.int8)
    costs = [[math.ceil(o.cost_usd / step - 1e-9) for o in group] for group in groups]
    for g, group in enumerate(groups):
        improved = best.copy()
        for k, option in enumerate(group):
            cost = costs[g][k]
            if cost > capacity:
                continue
            candidate = np.full(capacity + 1, -np.inf)
            candidate[cost:] = best[:capacity + 1 - cost] + option.value
            better = candidate > improved
            improved[better] = candidate[better]
            picks[g][better] = k
        best = improved
    chosen, c = [], capacity
    for g in range(len(groups) - 1, -1, -1):
        k = int(picks[g][c])
        if k >= 0:
            chosen.append(groups[g][k])
            c -= costs[g][k]
    return chosen[::-1]


def greedy(options: Iterable[Option], budget_usd: float) -> tuple[list[Option], float | None]:
    """Options by value per dollar, one per (region, type), while the money lasts; and the cut-off: the value
    per dollar of the best option that did not fit (None if everything fitted)."""
    chosen, spent, taken, cut_off = [], 0.0, set(), None
    for option in sorted(options, key=lambda o: (-o.value_per_usd, o.cost_usd, o.key)):
        if option.key in taken or option.value <= 0:
            continue
        if spent + option.cost_usd > budget_usd + 1e-9:
            cut_off = option.value_per_usd if cut_off is None else cut_off
            continue
        chosen.append(option)
        spent += option.cost_usd
        taken.add(option.key)
    return chosen, cut_off


def solve(options: Iterable[Option], budget_usd: float, *, step_usd: float = 0.01) -> Solution:
    """The week's choice: forced options first (cheapest first, while they fit), then the most value within what
    is left; every (region, type) not chosen is listed with its best option and why. `step_usd`: the budget's
    step (a cent; the simulator's year of weeks takes 5 cents, exact at that step)."""
    priced, unpriced = _priced(options)
    chosen: list[Option] = []
    left: list[Left] = []
    remaining = budget_usd
    forced_keys = {o.key for o in priced if o.forced}
    # cheapest first; equal costs by name (never the set's order, which differs between processes)
    for key in sorted(forced_keys, key=lambda k: (min(o.cost_usd for o in priced if o.key == k and o.forced), k)):
        option = min((o for o in priced if o.key == key and o.forced), key=lambda o: o.cost_usd)
        if option.cost_usd <= remaining + 1e-9:
            chosen.append(option)
            remaining -= option.cost_usd
        else:
            left.append(Left(*key, option, f"forced, but ${option.cost_usd:.2f} is more than the "
                                           f"${remaining:.2f} left of the ${budget_usd:.2f} budget"))
    weighed = [o for o in priced if o.key not in forced_keys and o.value > 0]
    groups = list(_by_key(weighed).values())
    chosen += _knapsack(groups, remaining, step_usd)
    _, cut_off = greedy(weighed, remaining)
    chosen_keys = {o.key for o in chosen}
    for key, group in _by_key(o for o in priced if o.key not in forced_keys).items():
        if key in chosen_keys:
            continue
        best = max(group, key=lambda o: (o.value_per_usd, -o.cost_usd))
        if best.value <= 0:
            reason = "nothing to gain: every signal says its stored figures are current"
        elif cut_off is not None and best.value_per_usd <= cut_off:
            reason = (f"{best.value_per_usd:.3g} of value per dollar at best, no better than the week's cut-off of "
                      f"{cut_off:.3g} (${best.cost_usd:.2f} for {best.hosts} host(s), {best.market})")
        else:
            reason = "left out by the exact solver for a better combination within the budget"
        left.append(Left(*key, best, reason))
    for key in _by_key(unpriced):
        if key not in chosen_keys and key not in {(entry.region, entry.instance_type) for entry in left}:
            left.append(Left(*key, None, "no price for it in the snapshot: its cost cannot be bounded, never planned"))
    return Solution(budget_usd=budget_usd, chosen=chosen, left=left, cut_off_value_per_usd=cut_off)
