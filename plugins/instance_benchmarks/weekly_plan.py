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
class Option:
    """One way to measure one type this week: `hosts` hosts on `market`, for `cost_usd` predicted, worth `value`.

    `forced` options (a new family's cheapest size) are bought before anything is weighed.
    """

    region: str
    instance_type: str
    hosts: int
    market: str
    cost_usd: float
    value: float
    forced: bool = False
    reasons: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return self.region, self.instance_type

    @property
    def value_per_usd(self) -> float:
        return self.value / self.cost_usd if self.cost_usd > 0 else math.inf


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
    for key in sorted(forced_keys, key=lambda k: min(o.cost_usd for o in priced if o.key == k and o.forced)):
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
