"""Compare, recommend and trends on small summaries whose answers can be checked by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from instance_benchmarks import analysis, answers


def _rows(figures: dict[str, dict[str, list[float]]], run_id: str = "run-1", started: str = "2026-11-01",
          one_host: bool = False) -> list:
    """{type: {"triad": samples, "hpl": samples}} as raw rows: each sample a host of its own (a weekly run each),
    or all of a type's samples one host's repetitions (`one_host`)."""
    rows = []
    for name, samples in figures.items():
        for need, values in samples.items():
            benchmark, metric, placement = answers.NEEDS[need]
            for index, value in enumerate(values):
                rows.append({"region": "us-east-1", "family": "intel", "instance_family": name.split(".")[0],
                             "instance_type": name, "cpu_model": "Xeon", "benchmark": benchmark, "metric": metric,
                             "placement": placement or "1x2 ranks", "threads": 2,
                             "unit": "GB/s" if need == "triad" else "GFLOPS", "value": float(value),
                             "run_id": run_id, "started_at": f"{started}T00:00:00Z", "physical_cores": 2,
                             "sockets": 1, "sustained_ghz": 3.0, "repetition": index,
                             "document_id": f"{run_id}-{name}" if one_host else f"{run_id}-{name}-{index}"})
    return rows


# Test inputs, not recorded prices.
PRICES = {"run-1": {"prices": {"a.large": {"on_demand": 0.10, "spot": 0.04},
                               "b.large": {"on_demand": 0.20, "spot": 0.03},
                               "c.large": {"on_demand": 0.05, "spot": None}, "d.large": {"on_demand": 0.01}}}}


@pytest.fixture
def summary() -> pd.DataFrame:
    return analysis.summarize(pd.DataFrame(_rows({
        "a.large": {"triad": [100, 101, 102], "hpl": [50, 51, 52]},
        "b.large": {"triad": [200, 201, 202], "hpl": [90, 91, 92]},
        "c.large": {"triad": [150, 170, 190], "hpl": [80, 81, 82]},   # triad's interval reaches below 160
        "d.large": {"triad": [400]},                                 # no HPL, one sample
    })), PRICES)


def test_compare_gives_each_figure_with_its_interval_and_welch_against_the_first(summary):
    answer = answers.compare(summary, ["a.large", "b.large", "c.large"])

    triad = next(m for m in answer["measures"] if m["measure"] == "stream triad all-cores")
    a, b, c = triad["entries"]
    assert [a["instance_type"], b["instance_type"], c["instance_type"]] == ["a.large", "b.large", "c.large"]
    assert a["vs_baseline"] is None and a["ci95_low"] < 101 < a["ci95_high"]
    expected = stats.ttest_ind([100, 101, 102], [200, 201, 202], equal_var=False).pvalue
    assert b["vs_baseline"]["p_value"] == pytest.approx(expected) and b["vs_baseline"]["significant"]
    assert b["vs_baseline"]["ratio"] == pytest.approx(201 / 101) and b["vs_baseline"]["intervals_overlap"] is False
    assert "Welch" in answer["test"] and answer["not_measured"] == []


def test_compare_says_what_cannot_be_tested_and_what_was_never_measured(summary):
    answer = answers.compare(summary, ["d.large", "a.large", "z.large"])

    triad = next(m for m in answer["measures"] if m["measure"] == "stream triad all-cores")
    assert triad["entries"][1]["vs_baseline"]["p_value"] is None  # d.large has n=1
    assert answer["not_measured"] == ["z.large"]
    with pytest.raises(ValueError, match="2 to 4"):
        answers.compare(summary, ["a.large"])
    with pytest.raises(ValueError, match="2 to 4"):
        answers.compare(summary, ["a.large", "b.large", "c.large", "d.large", "e.large"])


def test_compare_takes_each_types_standard_figures_and_never_tests_a_smoke_test_against_them():
    later = _rows({"a.large": {"hpl": [10, 11, 12]}, "b.large": {"hpl": [80, 81, 82]}}, run_id="run-2",
                  started="2026-11-09")
    quick = [{**r, "profile": "quick"} for r in later]
    standard = [{**r, "profile": "standard"} for r in _rows({"a.large": {"hpl": [50, 51, 52]}})]
    summary = analysis.summarize(pd.DataFrame(quick + standard))

    hpl = answers.compare(summary, ["a.large", "b.large"])["measures"][0]["entries"]

    # a.large's later quick run does not replace its standard figure; b.large has only a quick one.
    assert [(e["instance_type"], e["profile"], e["mean"]) for e in hpl] == [("a.large", "standard", 51.0),
                                                                           ("b.large", "quick", 81.0)]
    assert hpl[1]["vs_baseline"]["same_profile"] is False
    assert hpl[1]["vs_baseline"]["p_value"] is None and hpl[1]["vs_baseline"]["intervals_overlap"] is None


def test_recommend_lists_the_cheapest_that_meet_the_need_per_market_and_how_sure(summary):
    answer = answers.recommend(summary, min_triad=160)

    assert [c["instance_type"] for c in answer["on_demand"]] == ["d.large", "c.large", "b.large"]
    assert [c["instance_type"] for c in answer["spot"]] == ["b.large"]  # c has no spot price, d none given
    meets = {c["instance_type"]: c["meets"] for c in answer["on_demand"]}
    assert meets == {"d.large": "single sample", "c.large": "likely", "b.large": "surely"}
    strict = answers.recommend(summary, min_triad=160, strict=True)
    assert [c["instance_type"] for c in strict["on_demand"]] == ["b.large"]


def test_recommend_names_types_measured_without_the_needed_benchmark_and_never_measured(summary):
    catalog = pd.DataFrame({"instance_type": ["a.large", "e.large", "f.large"], "benchmarkable": [True, True, False],
                            "region": "us-east-1"})

    answer = answers.recommend(summary, min_triad=160, min_hpl=85, catalog=catalog)

    assert [c["instance_type"] for c in answer["on_demand"]] == ["b.large"]
    assert [x["instance_type"] for x in answer["measured_without_the_needed_benchmark"]] == ["d.large"]
    assert answer["never_measured"]["instance_types"] == ["e.large"]


def test_recommend_with_nothing_to_answer_from_answers_nothing_and_says_what_lacks(summary):
    assert answers.recommend(summary, min_triad=1, region="eu-west-1")["on_demand"] == []
    triad_only = summary[summary.benchmark == "stream"]
    answer = answers.recommend(triad_only, min_hpl=1)  # nobody ran HPL here
    assert answer["on_demand"] == [] and len(answer["measured_without_the_needed_benchmark"]) == 4


def test_recommend_like_a_type_but_cheaper(summary):
    answer = answers.recommend(summary, like="c.large")  # triad 170, HPL 81, $0.05 on demand

    assert answer["like"]["figures"] == {"triad": pytest.approx(170.0), "hpl": pytest.approx(81.0)}
    assert answer["on_demand"] == []  # b.large meets it but costs more on demand
    assert [c["instance_type"] for c in answer["spot"]] == ["b.large"]  # c.large has no spot price to beat
    with pytest.raises(LookupError, match="no measurement"):
        answers.recommend(summary, like="z.large")
    with pytest.raises(ValueError, match="state a need"):
        answers.recommend(summary)


def test_csv_rows_are_flat(summary):
    rows = answers.recommend_rows(answers.recommend(summary, min_triad=160))
    assert {r["market"] for r in rows} == {"on_demand", "spot"} and "triad_ci95_low" in rows[0]
    rows = answers.compare_rows(answers.compare(summary, ["a.large", "b.large"]))
    assert {"measure", "instance_type", "mean", "vs_a.large_p_value"} <= set(rows[-1])


def test_trends_give_one_point_per_run_with_its_interval():
    rows = pd.DataFrame(_rows({"a.large": {"triad": [100, 102]}}, "run-1", "2026-11-01")
                        + _rows({"a.large": {"triad": [110, 112, 114]}}, "run-2", "2026-11-08"))

    points = analysis.trends(rows)  # analysis.py: the drift data over time, which the answers page plots

    assert list(points.run_id) == ["run-1", "run-2"] and list(points.n) == [2, 3]
    assert points["mean"].tolist() == [101.0, 112.0]
    assert points.ci95_low.iloc[1] == pytest.approx(112 - stats.t.ppf(0.975, 2) * 2 / 3 ** 0.5)


def test_one_host_is_at_best_likely_however_thin_its_interval_and_a_blas_fallback_never_surely():
    """A 0.2% CV on one host gives a razor-thin interval with no host-to-host variance in it; an HPL figure
    measured with a fallback kernel measures the library. Neither is "surely", and strict leaves both out."""
    one = analysis.summarize(pd.DataFrame(_rows({"a.large": {"triad": [200, 200.4, 199.6], "hpl": [90, 90.2, 89.8]}},
                                                one_host=True)), PRICES)
    hosts = analysis.summarize(pd.DataFrame(_rows({"a.large": {"triad": [200, 200.4, 199.6],
                                                               "hpl": [90, 90.2, 89.8]}})), PRICES)
    fallback = hosts.assign(blas_matches_cpu=[False if b == "hpl" else None for b in hosts.benchmark])

    def meets(summary, **ask):
        return [c["meets"] for c in answers.recommend(summary, **ask)["on_demand"]]

    assert meets(one, min_triad=150) == ["likely (one host)"] and meets(one, min_triad=150, strict=True) == []
    assert meets(hosts, min_triad=150) == ["surely"]
    assert meets(fallback, min_hpl=50) == ["likely (BLAS fallback)"] and meets(fallback, min_triad=150) == ["surely"]
    assert meets(fallback, min_hpl=50, strict=True) == []
    (candidate,) = answers.recommend(fallback, min_hpl=50)["on_demand"]
    assert candidate["figures"]["hpl"]["blas_fallback"] is True


def test_welch_never_sets_one_side_s_host_spread_against_the_other_s_repetitions():
    rows = _rows({"a.large": {"triad": [100, 101, 102]}}) + _rows({"b.large": {"triad": [200, 201, 202]}},
                                                                   one_host=True)
    triad = answers.compare(analysis.summarize(pd.DataFrame(rows)), ["a.large", "b.large"])["measures"][0]

    versus = triad["entries"][1]["vs_baseline"]
    assert versus["p_value"] is None and versus["significant"] is None
    assert "across hosts" in versus["not_testable"] and "within one host" in versus["not_testable"]


def test_compare_adjusts_its_p_values_by_holm_over_every_measure_it_tested():
    """Three measures at raw p of about 0.02, 0.03 and 0.6 against the baseline: each under 0.05 alone, but
    Holm's 3 x 0.02 = 0.06 and 2 x 0.03 -> 0.06 are not; the answer says 3 measures were tested."""
    assert answers.holm([0.02, 0.6, 0.03]) == pytest.approx([0.06, 0.6, 0.06])
    assert answers.holm([0.01, 0.04]) == pytest.approx([0.02, 0.04])
    rows = []
    for placement, shift in (("all-cores", 4.6), ("one-core", 4.0), ("numa-0", 0.7)):
        for name, base in (("a.large", 100.0), ("b.large", 100.0 + shift)):
            rows += [{**r, "placement": placement}
                     for r in _rows({name: {"triad": [base - 1.5, base, base + 1.5]}})]
    answer = answers.compare(analysis.summarize(pd.DataFrame(rows)), ["a.large", "b.large"])

    versus = {m["measure"]: m["entries"][1]["vs_baseline"] for m in answer["measures"]}
    raw = sorted(v["p_value"] for v in versus.values())
    assert raw[0] < 0.05 and answer["tests"] == {"b.large": 3}
    raw_in_order = [v["p_value"] for v in versus.values()]
    assert [v["p_holm"] for v in versus.values()] == pytest.approx(answers.holm(raw_in_order))
    assert all(v["significant"] == (v["p_holm"] < 0.05) for v in versus.values())
    assert any(v["p_value"] < 0.05 and not v["significant"] for v in versus.values())
    assert "Holm" in answer["test"]
