"""The simulated world the weekly plan is judged in (issue 30 item 7), kept apart from the planner: the policies
(refresh_sim.py) see only what a week would show them (stored figures, signals, requests), never the truth.

Types and their per-host cost come from the recorded catalog and price snapshot, planned with the weekly
settings (planning.plan: what the DAG would spend); every other parameter is a labelled prior, each a
command-line option of refresh_sim.py whose help names its source.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field

# Each world parameter: (default, help naming its source). refresh_sim.py makes them its options.
PARAMETERS: dict[str, tuple[float, str]] = {
    "family_change_rate": (1 / 26, "per family per week: a silicon, microcode or hypervisor change moving every size "
                                   "of a family (assumed: Duplyakin et al., arXiv 2003.04824, saw performance "
                                   "regimes shift over months on bare metal; no EC2 week-over-week figure exists)"),
    "family_change_size": (0.06, "relative std of a family-wide change (assumed; Intel's Downfall mitigation costs "
                                 "up to 50%% in gather-heavy cases, Nitro's own overhead 0.1-1.5%%: Gregg 2017)"),
    "type_change_rate": (1 / 52, "per type per week: a change to one type only (assumed)"),
    "type_change_size": (0.06, "relative std of a one-type change (assumed; Ou et al., HotCloud 2012: one type on "
                               "mixed processors differed by up to 40%%)"),
    "image_change_rate": (1 / 4, "per week: a new Amazon Linux AMI or kernel (AL2023 AMIs are released every few "
                                 "weeks)"),
    "image_change_size": (0.005, "relative std of what a new AMI or kernel moves, every type alike (assumed small: "
                                 "Nitro's overhead 0.1-1.5%%, Gregg 2017)"),
    "silent_share": (0.3, "share of family and type changes that no signal shows (assumed)"),
    "new_family_rate": (0.25, "per week: a new family appears (AWS launched about a dozen a year recently)"),
    "new_family_sizes": (8, "sizes in a new family"),
    "price_change_rate": (1 / 52, "per type per week: a price change that leaves performance alone (assumed)"),
    "host_cv": (0.037, "host-to-host spread of a type's figure, relative (Henning et al. 2025, arXiv 2504.11826: "
                       "application benchmarks on AWS, CV below 3.7%% over 3 months)"),
    "repetition_cv": (0.005, "spread of repetitions on one host, relative (this project's runs: 0.2-1%%)"),
    "zipf_exponent": (1.1, "demand: requests per type follow Zipf's law with this exponent (assumed)"),
    "requests_per_week": (500, "demand: requests a week over all types (assumed)"),
}


@dataclass
class Settings:
    family_change_rate: float = PARAMETERS["family_change_rate"][0]
    family_change_size: float = PARAMETERS["family_change_size"][0]
    type_change_rate: float = PARAMETERS["type_change_rate"][0]
    type_change_size: float = PARAMETERS["type_change_size"][0]
    image_change_rate: float = PARAMETERS["image_change_rate"][0]
    image_change_size: float = PARAMETERS["image_change_size"][0]
    silent_share: float = PARAMETERS["silent_share"][0]
    new_family_rate: float = PARAMETERS["new_family_rate"][0]
    new_family_sizes: int = int(PARAMETERS["new_family_sizes"][0])
    price_change_rate: float = PARAMETERS["price_change_rate"][0]
    host_cv: float = PARAMETERS["host_cv"][0]
    repetition_cv: float = PARAMETERS["repetition_cv"][0]
    zipf_exponent: float = PARAMETERS["zipf_exponent"][0]
    requests_per_week: float = PARAMETERS["requests_per_week"][0]


@dataclass
class Type:
    name: str
    family: str
    cost_usd: float  # one host, the weekly settings' plan at the recorded on-demand price
    born: int | None = None  # the week it appeared (None: in the catalog from the start)


@dataclass
class Change:
    """A move of one type's true figure: when, by how much, and whether a signal shows it."""

    week: int
    type_name: str
    size: float
    visible: bool
    image: bool = False  # an AMI or kernel change (every type at once), not counted among the changes to detect


@dataclass
class Week:
    changes: list[Change] = field(default_factory=list)
    new_types: list[Type] = field(default_factory=list)
    price_changes: dict[str, float] = field(default_factory=dict)  # type -> factor
    requests: dict[str, int] = field(default_factory=dict)


@dataclass
class World:
    """A year of weeks, drawn once per seed: every policy lives the same events (paired comparisons)."""

    types: list[Type]
    weeks: list[Week]
    settings: Settings
    truth0: dict[str, float]

    @classmethod
    def draw(cls, types: list[Type], settings: Settings, weeks: int, seed: int) -> World:
        rng = random.Random(seed)  # noqa: S311 - a reproducible world, not a secret
        types = [dataclasses.replace(t) for t in types]
        original = list(types)
        names = [t.name for t in types]
        families = sorted({t.family for t in types})
        # Zipf demand over a fixed random order of the types present (new types join at the tail)
        order = names[:]
        rng.shuffle(order)
        drawn_weeks = []
        family_of = {t.name: t.family for t in types}
        for week in range(weeks):
            w = Week()
            for family in families:
                if rng.random() < settings.family_change_rate:
                    size = rng.gauss(0, settings.family_change_size)
                    visible = rng.random() >= settings.silent_share
                    w.changes += [Change(week, n, size, visible) for n in names if family_of[n] == family]
            for name in names:
                if rng.random() < settings.type_change_rate:
                    w.changes.append(Change(week, name, rng.gauss(0, settings.type_change_size),
                                            rng.random() >= settings.silent_share))
                if rng.random() < settings.price_change_rate:
                    w.price_changes[name] = rng.uniform(0.8, 1.2)
            if rng.random() < settings.image_change_rate:
                size = rng.gauss(0, settings.image_change_size)
                w.changes += [Change(week, n, size, True, image=True) for n in names]
            if rng.random() < settings.new_family_rate:
                family = f"new{week}"
                costs = sorted(rng.sample([t.cost_usd for t in original], settings.new_family_sizes))
                born = [Type(f"{family}.size{i}", family, cost, born=week) for i, cost in enumerate(costs)]
                w.new_types = born
                types += born
                names += [t.name for t in born]
                order += [t.name for t in born]
                families.append(family)
                family_of.update({t.name: family for t in born})
            weights = [1 / (rank + 1) ** settings.zipf_exponent for rank in range(len(order))]
            total = sum(weights)
            counts: dict[str, int] = {}
            for name in rng.choices(order, weights=[x / total for x in weights],
                                    k=_poisson(rng, settings.requests_per_week)):
                counts[name] = counts.get(name, 0) + 1
            w.requests = counts
            drawn_weeks.append(w)
        truth0 = {t.name: 1.0 for t in types}
        return cls(types=original, weeks=drawn_weeks, settings=settings, truth0=truth0)

    def measure(self, truth: float, hosts: int, rng: random.Random) -> tuple[float, float]:
        """A stored mean of `hosts` hosts (3 repetitions each) and its 95% half-width, relative."""
        s = self.settings
        host_means = [truth * (1 + rng.gauss(0, s.host_cv)) * (1 + rng.gauss(0, s.repetition_cv / math.sqrt(3)))
                      for _ in range(hosts)]
        mean = sum(host_means) / hosts
        # the half-width at the normal quantile (1.96 standard errors), as the planner's signal reads it
        if hosts >= 2:
            spread = math.sqrt(sum((m - mean) ** 2 for m in host_means) / (hosts - 1))
            halfwidth = 1.96 * spread / math.sqrt(hosts) / mean
        else:  # one host: its 3 repetitions' standard error only
            halfwidth = 1.96 * s.repetition_cv / math.sqrt(3)
        return mean, halfwidth


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw by the normal approximation (mean in the hundreds)."""
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))
