"""The week's budget solver (issue 30 items 3 and 8): never over budget, exact, forced first, unpriced never."""

from __future__ import annotations

import itertools
import random

import pytest

from instance_benchmarks.weekly_plan import (
    Option,
    Signals,
    greedy,
    measurement_value,
    sibling_check_value,
    solve,
    week_budget,
)


def option(name: str, cost: float, value: float, *, hosts: int = 1, market: str = "on_demand",
           forced: bool = False, region: str = "us-east-1") -> Option:
    return Option(region=region, instance_type=name, hosts=hosts, market=market, cost_usd=cost, value=value,
                  forced=forced)


def brute_force(options: list[Option], budget: float) -> float:
    """The best total value over every way to take at most one option per type."""
    groups: dict[str, list[Option | None]] = {}
    for o in options:
        groups.setdefault(o.instance_type, [None]).append(o)
    best = 0.0
    for combination in itertools.product(*groups.values()):
        taken = [o for o in combination if o is not None]
        if sum(round(o.cost_usd, 2) for o in taken) <= budget + 1e-9:
            best = max(best, sum(o.value for o in taken))
    return best


@pytest.mark.parametrize("seed", range(40))
def test_the_exact_solver_matches_brute_force_and_never_spends_more_than_the_budget(seed):
    rng = random.Random(seed)  # noqa: S311 - reproducible cases, not secrets
    options = [option(f"t{t}.large", round(rng.uniform(0.05, 4.0), 2), rng.uniform(0, 10), hosts=hosts,
                      market=market)
               for t in range(rng.randint(1, 6))
               for hosts, market in rng.sample([(1, "on_demand"), (2, "on_demand"), (1, "spot"), (2, "spot")],
                                               rng.randint(1, 3))]
    budget = round(rng.uniform(0.5, 10.0), 2)

    solution = solve(options, budget)

    assert solution.spent_usd <= budget + 1e-9
    assert len({o.key for o in solution.chosen}) == len(solution.chosen)  # one option per type at most
    assert solution.value == pytest.approx(brute_force(options, budget))
    greedy_chosen, _ = greedy(options, budget)
    assert sum(o.value for o in greedy_chosen) <= solution.value + 1e-9  # the cross-check never beats it


def test_the_solver_beats_greedy_where_value_per_dollar_misleads():
    """Greedy takes the best ratio (a $1 type worth 2) and then cannot afford the $10 one worth 15."""
    options = [option("small.large", 1.0, 2.0), option("big.large", 10.0, 15.0)]

    assert [o.instance_type for o in greedy(options, 10.0)[0]] == ["small.large"]
    assert [o.instance_type for o in solve(options, 10.0).chosen] == ["big.large"]


def test_forced_items_are_bought_first_even_where_their_value_is_low():
    options = [option("c9new.large", 3.0, 0.1, forced=True), option("m7i.large", 3.0, 50.0),
               option("c7i.large", 3.0, 40.0)]

    solution = solve(options, 6.0)

    assert sorted(o.instance_type for o in solution.chosen) == ["c9new.large", "m7i.large"]
    (left,) = solution.left
    assert left.instance_type == "c7i.large" and "cut-off" in left.reason


def test_a_forced_item_past_the_budget_is_named_not_bought():
    solution = solve([option("u-24tb1.112xlarge", 300.0, 1.0, forced=True)], 100.0)

    assert solution.chosen == [] and "forced, but $300.00" in solution.left[0].reason


def test_unpriced_types_are_listed_and_never_planned():
    options = [option("m7i.large", 1.0, 5.0), option("p6-b200.48xlarge", float("nan"), 100.0),
               option("x9.large", 0.0, 100.0)]

    solution = solve(options, 100.0)

    assert [o.instance_type for o in solution.chosen] == ["m7i.large"]
    reasons = {entry.instance_type: entry.reason for entry in solution.left}
    assert set(reasons) == {"p6-b200.48xlarge", "x9.large"}
    assert all("no price" in reason for reason in reasons.values())


def test_a_type_with_nothing_to_gain_is_left_saying_so():
    solution = solve([option("m7i.large", 1.0, 0.0)], 100.0)

    assert solution.chosen == [] and "nothing to gain" in solution.left[0].reason


def test_the_same_type_in_two_regions_is_two_choices_under_one_budget():
    options = [option("m7i.large", 1.0, 5.0, region="us-east-1"), option("m7i.large", 1.0, 4.0, region="eu-west-1")]

    assert {o.region for o in solve(options, 2.0).chosen} == {"us-east-1", "eu-west-1"}


def test_a_budget_too_large_for_cents_is_solved_in_coarser_steps_and_still_never_overspends():
    rng = random.Random(7)  # noqa: S311 - reproducible cases, not secrets
    options = [option(f"t{t}.large", round(rng.uniform(0.1, 30.0), 2), rng.uniform(1, 10)) for t in range(1200)]
    budget = sum(o.cost_usd for o in options) - 0.01  # everything but a cent: one type must go

    solution = solve(options, budget)

    step = budget / 20_000  # weekly_plan.MAX_STEPS: each chosen cost rounded up to a step of about $0.87
    assert solution.spent_usd <= budget
    assert solution.spent_usd >= budget - len(options) * step - max(o.cost_usd for o in options)
    assert len(solve(options, budget + 0.01).chosen) == 1200  # a budget that buys everything buys everything


def test_unspent_budget_is_carried_for_one_week_at_most():
    assert week_budget(100.0) == 100.0
    assert week_budget(100.0, 30.0) == 130.0
    assert week_budget(100.0, 250.0) == 200.0  # at most one week's worth carried
    assert week_budget(100.0, -5.0) == 100.0
    with pytest.raises(ValueError, match="at least 0"):
        week_budget(-1.0)


MEASURED = Signals(age_weeks=4, interval_halfwidth=0.02, hosts=2)


def test_an_older_measurement_a_wider_interval_and_a_drifted_sibling_each_raise_a_type_s_value():
    from dataclasses import replace

    base = measurement_value(MEASURED, 2)
    assert measurement_value(replace(MEASURED, age_weeks=40), 2) > base
    assert measurement_value(replace(MEASURED, interval_halfwidth=0.08), 2) > base
    assert measurement_value(replace(MEASURED, sibling_drift=-0.06), 2) > base
    assert measurement_value(replace(MEASURED, aws_changed=True), 2) > base
    assert measurement_value(replace(MEASURED, image_changed=True), 2) > base
    assert measurement_value(replace(MEASURED, hosts=1), 2) > base  # one host's interval misses the host spread
    assert measurement_value(MEASURED, 2) > measurement_value(MEASURED, 1)  # two hosts replace it with less error
    assert measurement_value(replace(MEASURED, demand=14), 2) == pytest.approx(15 * base)


def test_a_type_never_measured_is_worth_more_than_any_measured_one_and_two_hosts_more_than_one():
    never = Signals()
    worst_measured = Signals(age_weeks=520, interval_halfwidth=0.5, hosts=1, sibling_drift=0.3, aws_changed=True)

    assert measurement_value(never, 1) > measurement_value(worst_measured, 1)
    assert measurement_value(never, 2) > measurement_value(never, 1)
    # just measured on four hosts: a fresh figure of one or two hosts would be worse, so it is worth less than nothing
    assert measurement_value(Signals(age_weeks=0, interval_halfwidth=0.001, hosts=4), 2) < 0


def test_a_family_s_cheap_size_is_worth_its_siblings_drift_check():
    fresh, stale = Signals(age_weeks=0, hosts=2), Signals(age_weeks=30, hosts=2, demand=3)

    assert sibling_check_value([fresh]) == 0
    assert sibling_check_value([stale]) > 0
    assert sibling_check_value([stale, stale]) == pytest.approx(2 * sibling_check_value([stale]))
    assert sibling_check_value([Signals()]) == 0  # a never-measured sibling has no figure to check
