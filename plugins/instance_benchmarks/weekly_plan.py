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


def _knapsack(groups: Sequence[Sequence[Option]], budget_usd: float) -> list[Option]:
    """The most value with at most one option of each group, costs rounded up to the step: exact at that step."""
    if not groups or budget_usd <= 0:
        return []
    most = [max(group, key=lambda o: (o.value, -o.cost_usd)) for group in groups]
    if sum(o.cost_usd for o in most) <= budget_usd:  # everything fits (an unlimited budget): the most of each
        return most
    step = max(0.01, budget_usd / MAX_STEPS)
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


def solve(options: Iterable[Option], budget_usd: float) -> Solution:
    """The week's choice: forced options first (cheapest first, while they fit), then the most value within what
    is left; every (region, type) not chosen is listed with its best option and why."""
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
    chosen += _knapsack(groups, remaining)
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
