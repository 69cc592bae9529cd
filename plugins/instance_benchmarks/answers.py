"""Answers, not only tables: compare types side by side, recommend the cheapest that meet a need, trends.

Everything here reads the summary table (one row per type, CPU, benchmark, metric, placement and
configuration; `analysis.summarize`), of which each type's `analysis.current` configuration stands for
it, or the raw table, and says how sure it is: every figure comes with its n
and 95% interval, a difference is called significant only by a stated test, and a type that
was never measured is listed as such, never estimated.

The report's page does the same compare and recommend in the browser over the same headline rows
(`report.py`); the browser test holds the two equal.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from instance_benchmarks.analysis import NEEDS, blas_fallback, current, headline, with_source

if TYPE_CHECKING:
    import pandas as pd

# The figures a need is stated in: STREAM triad on all cores (GB/s) and HPL (GFLOPS).
ALPHA = 0.05
TEST = ("Welch's two-sided t-test on each figure's mean, standard deviation and n, of its hosts where it has two "
        "or more (n = hosts), else of its one host's repetitions; not testable where either side has n < 2, or "
        "where one side's spread is across hosts and the other's within one host. Significant: the Holm-adjusted "
        "p-value (over every measure tested for that type against the baseline) below alpha 0.05")
# What a recommendation may claim, strongest first; a candidate is its weakest figure's verdict.
VERDICTS = ("surely", "likely", "likely (BLAS fallback)", "likely (one host)", "single sample")
RULE = ("surely: every figure's 95% interval, across two hosts or more, has its low end at the need (and HPL ran "
        "the BLAS kernels the CPU's vectors call for); likely: the mean meets it; likely (BLAS fallback): HPL's "
        "library ran kernels narrower than the CPU's, so its figure is the fallback's; likely (one host): one "
        "host's repetitions, no host-to-host variance in the interval; single sample: one sample, no interval")
MAX_COMPARED = 4
# A type's entry: its figures from one source (the project's own, or contributed: never standing for each other)
ENTRY = ["region", "instance_type", "cpu_model", "source"]


def measure_of(benchmark: str, metric: str, placement: str) -> str:
    """What is compared like with like across types: HPL's grid differs per type, STREAM's placement does not."""
    return f"{benchmark} {metric}" if benchmark == "hpl" else f"{benchmark} {metric} {placement}"


def welch(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Two-sided p-value of Welch's t-test from summary statistics; None where it cannot be tested."""
    from scipy import stats

    if min(a["n"], b["n"]) < 2 or a["std"] is None or b["std"] is None:
        return None
    if a["std"] == 0 and b["std"] == 0:
        return 1.0 if a["mean"] == b["mean"] else 0.0
    return float(stats.ttest_ind_from_stats(a["mean"], a["std"], a["n"], b["mean"], b["std"], b["n"],
                                            equal_var=False).pvalue)


def tested_as(row: dict[str, Any]) -> dict[str, Any]:
    """The n and std a figure is tested with: its hosts' where its interval is across hosts (the repetitions on
    one host are not independent hosts), else its samples'; `tested_on` says which. The page's copy of each row
    carries the same."""
    hosts = _clean(row.get("hosts"))
    if hosts is not None and hosts >= 2:
        return {"n": int(hosts), "std": _clean(row.get("host_std")), "tested_on": "hosts"}
    return {"n": row["n"], "std": _clean(row.get("std")), "tested_on": "repetitions"}


def not_testable(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Why Welch's test cannot put these two figures side by side, or None: one side's spread across hosts
    against the other's repetitions on one host compares two kinds of variance, not two types."""
    if a.get("tested_on") != b.get("tested_on"):
        return ("one figure's spread is across hosts, the other's within one host (its repetitions): "
                "not comparable by Welch's test")
    if min(a["n"], b["n"]) < 2:
        return "n < 2"
    return None


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment (Holm 1979): the k-th smallest p times (m - k + 1), kept monotone, at most 1.
    The family-wise error stays at alpha however many measures one compare tests."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _count(value: Any) -> int | None:
    """A count column's cell as JSON: an int, or None where unknown (NaN)."""
    value = _clean(value)
    return None if value is None or value != value else int(value)


def _clean(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def compare(summary: pd.DataFrame, types: list[str], *, region: str | None = None) -> dict[str, Any]:
    """2-4 types side by side, each measure with its interval, and each type against the first (the baseline)."""
    names = list(dict.fromkeys(types))
    if not 2 <= len(names) <= MAX_COMPARED:
        raise ValueError(f"compare takes 2 to {MAX_COMPARED} different instance types, got {names}")
    summary = with_source(summary)
    rows = current(summary[summary.instance_type.isin(names)])
    if region:
        rows = rows[rows.region == region]
    measured = set(rows.instance_type)
    rows = rows.assign(measure=[measure_of(*k) for k in zip(rows.benchmark, rows.metric, rows.placement,
                                                            strict=True)])
    order = {name: i for i, name in enumerate(names)}
    measures = []
    for measure, group in rows.groupby("measure", sort=True):
        # the asked order first; of one type, the project's entry before a contributed one
        group = group.sort_values(["instance_type", "region", "cpu_model", "source"],
                                  key=lambda c: c.map(order) if c.name == "instance_type" else
                                  c != "project" if c.name == "source" else c)
        entries = [{key: _clean(r.get(key)) for key in [*ENTRY, "contributors", "profile", "configuration", "n",
                                                        "hosts", "interval",
                                                        "mean", "std",
                                                        "ci95_low", "ci95_high", "unit", "price_per_hour_on_demand",
                                                        "price_per_hour_spot", "value_per_dollar_on_demand",
                                                        "value_per_dollar_spot"]}
                   for r in group.to_dict("records")]
        for entry, r in zip(entries, group.to_dict("records"), strict=True):
            entry.update(samples=entry["n"], blas_fallback=blas_fallback(r["benchmark"], r.get("blas_matches_cpu")),
                         **tested_as(r))  # what Welch's takes
        base = entries[0]
        for entry in entries:
            # A smoke test is not tested against a standard run: the difference could be the profile's.
            alike = entry["profile"] == base["profile"]
            why_not = None if entry is base or not alike else not_testable(base, entry)
            p = None if entry is base or not alike or why_not else welch(base, entry)
            overlap = None if entry is base or None in (entry["ci95_low"], base["ci95_low"]) else \
                not (entry["ci95_high"] < base["ci95_low"] or base["ci95_high"] < entry["ci95_low"])
            entry["vs_baseline"] = None if entry is base else {
                "ratio": entry["mean"] / base["mean"] if base["mean"] else None, "p_value": p, "p_holm": None,
                "significant": None, "not_testable": why_not if alike else "another profile",
                "intervals_overlap": overlap if alike else None, "same_profile": alike}
        measures.append({"measure": measure, "unit": base["unit"], "baseline": base["instance_type"],
                         "entries": entries})
    tests = _adjust(measures)
    return {"types": names, "region": region, "test": TEST, "measures": measures, "tests": tests,
            "not_measured": [name for name in names if name not in measured]}


def not_measured(types: list[str], *, region: str | None = None) -> dict[str, Any]:
    """compare's answer where nothing is stored yet: every type not measured."""
    names = list(dict.fromkeys(types))
    return {"types": names, "region": region, "test": TEST, "measures": [], "tests": {}, "not_measured": names}


def _adjust(measures: list[dict[str, Any]]) -> dict[str, int]:
    """Holm over every measure tested for each type against the baseline; how many that was, per type."""
    tested: dict[str, list[dict[str, Any]]] = {}
    for measure in measures:
        for entry in measure["entries"][1:]:
            if entry["vs_baseline"]["p_value"] is not None:
                tested.setdefault(entry["instance_type"], []).append(entry["vs_baseline"])
    for versus in tested.values():
        for one, adjusted in zip(versus, holm([v["p_value"] for v in versus]), strict=True):
            one.update(p_holm=adjusted, significant=adjusted < ALPHA)
    return {name: len(versus) for name, versus in tested.items()}


def recommend(summary: pd.DataFrame, *, min_triad: float | None = None, min_hpl: float | None = None,
              like: str | None = None, region: str | None = None, strict: bool = False, limit: int = 10,
              catalog: pd.DataFrame | None = None) -> dict[str, Any]:
    """The cheapest types that meet a need, on demand and on spot, with how sure each is.

    `like`: meet that type's own triad and HPL means and cost less than it, market by market.
    `strict`: only types whose whole 95% interval meets the need. `catalog` (catalog_refresh's
    rows): the benchmarkable types never measured, which might meet it too.
    """
    import pandas as pd

    summary = with_source(summary)
    table = headline(current(summary))
    if region:
        table = table[table.region == region]
    needs = {key: value for key, value in (("triad", min_triad), ("hpl", min_hpl)) if value is not None}
    reference = None
    if like:
        ref = table[table.instance_type == like]
        if (ref.source == "project").any():  # the project's own figures stand for the type where it has them
            ref = ref[ref.source == "project"]
        if ref.empty:
            raise LookupError(f"{like} has no measurement{' in ' + region if region else ''} to compare with")
        reference = {"instance_type": like, "figures": {r.need: float(r.mean) for r in ref.itertuples()},
                     "price_per_hour_on_demand": _clean(ref.price_per_hour_on_demand.min()),
                     "price_per_hour_spot": _clean(ref.price_per_hour_spot.min())}
        needs = {**reference["figures"], **needs}
        table = table[table.instance_type != like]
    if not needs:
        raise ValueError("state a need: min_triad (GB/s), min_hpl (GFLOPS), or like=<instance type>")

    wide = _entries(table)
    have = {key: wide[("mean", key)].notna() for key in needs}
    complete = pd.concat(have, axis=1).all(axis=1)
    lacking = [{"region": reg, "instance_type": name, "cpu_model": cpu, "source": source,
                "not_measured": sorted(key for key in needs if not have[key].loc[(reg, name, cpu, source)])}
               for reg, name, cpu, source in wide.index[~complete][:limit]]
    wide = wide[complete]
    passes = pd.Series(True, index=wide.index)
    # Each figure's verdict (VERDICTS, strongest first); a candidate is its weakest figure's.
    strength = pd.Series(0, index=wide.index)
    for key, need in needs.items():
        passes &= wide[("mean", key)] >= need
        figure = pd.Series(VERDICTS.index("likely"), index=wide.index)
        figure = figure.mask(wide[("ci95_low", key)].fillna(-math.inf) >= need, VERDICTS.index("surely"))
        if key == "hpl":
            fallback = wide[("blas_matches_cpu", key)].map(lambda v: blas_fallback("hpl", v)).astype(bool)
            figure = figure.mask(fallback, VERDICTS.index("likely (BLAS fallback)"))
        figure = figure.mask(wide[("hosts", key)].fillna(1) < 2, VERDICTS.index("likely (one host)"))
        figure = figure.mask(wide[("n", key)] < 2, VERDICTS.index("single sample"))
        strength = strength.combine(figure, max)
    if strict:
        passes &= strength == VERDICTS.index("surely")
    wide = wide[passes]
    meets = strength[passes].map(lambda index: VERDICTS[index])
    markets = {}
    for market in ("on_demand", "spot"):
        price = wide[("price", market)]
        cap = (reference or {}).get(f"price_per_hour_{market}")
        chosen = price.notna() & (price < cap if cap is not None else True)
        # cheapest first; of one type at one price, the project's entry before a contributed one
        order = (pd.DataFrame({"price": price[chosen], "name": wide.index[chosen].get_level_values(1),
                               "contributed": wide.index[chosen].get_level_values(3) != "project"})
                 .sort_values(["price", "name", "contributed"], kind="stable").index[:limit])
        markets[market] = [_candidate(wide.loc[k], k, meets[k]) for k in order]
    unpriced = wide.index[wide[("price", "on_demand")].isna()][:limit]
    markets["unpriced"] = [_candidate(wide.loc[k], k, meets[k]) for k in unpriced]
    measured = set(summary.instance_type)
    never = []
    if catalog is not None and not catalog.empty:
        pool = catalog[catalog.benchmarkable] if "benchmarkable" in catalog else catalog
        if region and "region" in pool:
            pool = pool[pool.region == region]
        never = sorted(set(pool.instance_type) - measured)
    return {
        "need": {key: {"at_least": value, "unit": "GB/s" if key == "triad" else "GFLOPS"} for key, value in
                 needs.items()},
        "like": reference, "region": region, "strict": strict,
        "rule": RULE,
        **markets,
        "measured_without_the_needed_benchmark": lacking[:limit],
        "never_measured": {"count": len(never), "instance_types": never[:50],
                           "note": "never benchmarked: they may meet the need; nothing is estimated for them"
                           if catalog is not None else "no catalog under results_uri: run catalog_refresh to "
                           "list the types never measured"},
    }


def _entries(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (region, type, CPU), its figures in columns (mean, triad) ...: the last row of a figure wins,
    as in the page. The entry's price is its triad row's, else its HPL row's (one document priced both)."""
    import pandas as pd

    fields = ["mean", "ci95_low", "ci95_high", "n", "hosts", "blas_matches_cpu", "unit", "profile",
              "price_per_hour_on_demand", "price_per_hour_spot", "contributors"]
    table = table.assign(**{column: table[column] if column in table else None
                            for column in ("profile", "hosts", "blas_matches_cpu", "contributors")})
    table = table.drop_duplicates([*ENTRY, "need"], keep="last")
    wide = table.set_index([*ENTRY, "need"])[fields].unstack("need")
    # Every (field, need) column, measured or not (NaN), so a need nobody measured is a column of gaps.
    wide = wide.reindex(columns=pd.MultiIndex.from_product([fields, list(NEEDS)])).sort_index()
    for market in ("on_demand", "spot"):
        column = f"price_per_hour_{market}"
        found = pd.Series(float("nan"), index=wide.index)
        for key in reversed(list(NEEDS)):  # triad's price over HPL's
            mine = wide[(column, key)].astype(float)
            found = mine.where(wide[("mean", key)].notna() & mine.notna(), found)
        wide[("price", market)] = found
    return wide


def _candidate(row: pd.Series, entry: tuple[str, str, str, str], meets: str) -> dict[str, Any]:
    region, name, cpu, source = entry
    figures = {key: {"mean": float(row[("mean", key)]), "ci95_low": _clean(float(row[("ci95_low", key)])),
                     "ci95_high": _clean(float(row[("ci95_high", key)])), "n": int(row[("n", key)]),
                     "hosts": _count(row[("hosts", key)]), "unit": row[("unit", key)],
                     "profile": _clean(row[("profile", key)]),
                     "blas_fallback": blas_fallback(key, row[("blas_matches_cpu", key)])}
               for key in NEEDS if not math.isnan(row[("mean", key)])}
    by = next((row[("contributors", key)] for key in NEEDS if isinstance(row[("contributors", key)], str)), None)
    return {"region": region, "instance_type": name, "cpu_model": cpu, "source": source, "contributors": by,
            "meets": meets, "figures": figures,
            "price_per_hour_on_demand": _clean(float(row[("price", "on_demand")])),
            "price_per_hour_spot": _clean(float(row[("price", "spot")]))}


def recommend_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per recommended type and market (the CSV form)."""
    rows = []
    for market in ("on_demand", "spot"):
        for rank, c in enumerate(answer[market], start=1):
            row = {"market": market, "rank": rank, "region": c["region"], "instance_type": c["instance_type"],
                   "cpu_model": c["cpu_model"], "source": c["source"], "contributors": c["contributors"],
                   "meets": c["meets"], "price_per_hour": c[f"price_per_hour_{market}"]}
            for key, figure in c["figures"].items():
                row.update({f"{key}_mean": figure["mean"], f"{key}_ci95_low": figure["ci95_low"],
                            f"{key}_ci95_high": figure["ci95_high"], f"{key}_n": figure["n"],
                            f"{key}_profile": figure["profile"]})
            rows.append(row)
    return rows


def compare_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per measure and type (the CSV form)."""
    return [{"measure": m["measure"], **{k: v for k, v in e.items() if k != "vs_baseline"},
             **{f"vs_{m['baseline']}_{k}": v for k, v in (e["vs_baseline"] or {}).items()}}
            for m in answer["measures"] for e in m["entries"]]
