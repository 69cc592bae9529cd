"""The report's answers in a real browser: the page's compare and recommend (static/answers.js) agree with the
API's (answers.py) on the same data, its filters and sorting work, and the trends plot is drawn.

The data: five types scaled from one real document over three weekly runs, priced with test inputs
(not recorded prices), and two accepted contributions (one of a type the project measured, one of a type it did
not), analysed by the pipeline's own `analyze`.
"""

from __future__ import annotations

import json

import pytest

from instance_benchmarks import analysis, answers, api_reads, pipeline
from instance_benchmarks.results import ResultStore
from tests.conftest import SCREENSHOTS
from tests.fakes.documents import variant
from tests.fakes.imds import Signer, accept_contribution
from tests.ui.browser import chromium_page

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HOSTS = {"m7i.large": ("intel", 1.0, 0.1008, 0.04), "m7g.large": ("graviton", 1.3, 0.0816, 0.03),
         "c7a.large": ("amd", 2.0, 0.1027, None), "r7i.large": ("intel", 1.1, 0.1323, 0.05),
         "c7i.large": ("intel", 1.2, 0.0893, 0.035)}
# The real document is a quick run; c7i.large's are relabelled standard, so a smoke test meets a standard run.
STANDARD = {"c7i.large"}
RUNS = (("run-1", "2026-11-02", 1.0), ("run-2", "2026-11-09", 1.05), ("run-3", "2026-11-16", 0.97))
# Accepted contributions (type, scale): m7i.large, faster than the project measured it, and r8i.large, never
# measured by the project (priced by the runs' snapshots, as the project prices it)
CONTRIBUTED = (("m7i.large", 1.4, "i-000000000000000a1"), ("r8i.large", 1.6, "i-000000000000000a2"))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("answers")
    store = ResultStore(root.as_uri())
    for run, day, bump in RUNS:
        for name, (family, scale, _, _) in HOSTS.items():
            doc = variant(instance_type=name, family=family, scale=scale * bump, run_id=run,
                          started_at=f"{day}T10:00:00Z", profile="standard" if name in STANDARD else None)
            store.store(doc, [], run_id=run, instance_type=name)
        store.record_prices(run, {"region": "us-east-1", "prices": {
            **{t: {"on_demand": v[2], "spot": v[3]} for t, v in HOSTS.items()},
            "r8i.large": {"on_demand": 0.1411, "spot": 0.052}}})
    signer = Signer.make()
    for name, scale, instance_id in CONTRIBUTED:
        accept_contribution(store, signer, instance_type=name, contributor="erin", instance_id=instance_id,
                            scale=scale)
    pipeline.analyze(params={"results_uri": root.as_uri()}, run_id=None)
    summary = analysis.summarize(analysis.rows_frame([d for _, d in store.stored_documents()]),
                                 store.price_snapshots())
    with_contributed = api_reads.table(store, "summary", {}, contributed=True)
    return root / "reports" / "latest" / "index.html", summary, with_contributed


@pytest.fixture(scope="module")
def page(report):
    with chromium_page(1300, 1000) as page:
        page.goto(report[0].as_uri())
        yield page


def _types(candidates):
    return [(c["region"], c["instance_type"], c["meets"]) for c in candidates]


@pytest.mark.parametrize("ask", [{"min_triad": 80}, {"min_hpl": 100}, {"min_triad": 70, "min_hpl": 80},
                                 {"min_triad": 70, "strict": True}, {"like": "m7i.large"}, {"like": "c7a.large"},
                                 {"min_triad": 1e9}])
def test_the_page_recommends_what_the_api_recommends(report, page, ask):
    expected = answers.recommend(report[1], **ask)

    found = page.evaluate(f"IB.recommend({json.dumps(ask)})")

    for market in ("on_demand", "spot"):
        assert _types(found[market]) == _types(expected[market]), market
        for mine, theirs in zip(found[market], expected[market], strict=True):
            assert mine[f"price_per_hour_{market}"] == pytest.approx(theirs[f"price_per_hour_{market}"])


@pytest.mark.parametrize("ask", [{"min_triad": 80}, {"min_hpl": 100, "strict": True}, {"like": "m7i.large"}])
def test_with_contributed_results_the_page_recommends_what_the_api_recommends(report, page, ask):
    expected = answers.recommend(report[2], **ask)

    found = page.evaluate(f"IB.recommend({json.dumps({**ask, 'contributed': True})})")

    for market in ("on_demand", "spot"):
        assert [(*t, c["source"], c["contributors"]) for t, c in zip(_types(found[market]), found[market],
                                                                     strict=True)] == \
            [(*t, c["source"], c["contributors"]) for t, c in zip(_types(expected[market]), expected[market],
                                                                  strict=True)], market
    if ask == {"min_triad": 80}:  # (one host's figure is never "surely"; like m7i.large: r8i.large costs more)
        assert "r8i.large" in {c["instance_type"] for c in expected["on_demand"]}  # contributed answers are in it
    assert "r8i.large" not in {c["instance_type"] for c in page.evaluate(f"IB.recommend({json.dumps(ask)})")[
        "on_demand"]}  # and only when asked


def test_with_contributed_results_the_page_compares_each_source_apart_as_the_api_does(report, page):
    types = ["m7i.large", "r8i.large", "c7a.large"]
    expected = {m["measure"]: m for m in answers.compare(report[2], types)["measures"]}

    found = page.evaluate(f"IB.compare({json.dumps(types)}, null, true)")

    assert [m["need"] for m in found["measures"]] == ["triad", "hpl"]
    for mine in found["measures"]:
        theirs = expected["stream triad all-cores" if mine["need"] == "triad" else "hpl gflops"]
        assert [(e["row"]["instance_type"], e["row"]["source"]) for e in mine["entries"]] == \
            [(e["instance_type"], e["source"]) for e in theirs["entries"]] == [
                ("m7i.large", "project"), ("m7i.large", "contributed"), ("r8i.large", "contributed"),
                ("c7a.large", "project")]
        for one, other in zip(mine["entries"][1:], theirs["entries"][1:], strict=True):
            assert one["vs_baseline"]["ratio"] == pytest.approx(other["vs_baseline"]["ratio"])
    page.check("#include-contributed")
    for index, name in enumerate(types):
        page.locator("#compare select").nth(index).select_option(name)
    page.click("#compare-go")
    assert "m7i.large (contributed by erin)" in page.inner_text("#compare-result")
    page.uncheck("#include-contributed")


@pytest.mark.parametrize("types", [["m7i.large", "m7g.large"], ["c7a.large", "m7i.large", "r7i.large", "m7g.large"],
                                   ["c7i.large", "m7i.large", "r7i.large"]])
def test_the_page_compares_as_the_api_does_with_the_same_welch_p_values(report, page, types):
    api = answers.compare(report[1], types)
    expected = {m["measure"]: m for m in api["measures"]}

    found = page.evaluate(f"IB.compare({json.dumps(types)}, null)")

    shown = {}  # type -> the API's raw p-values of the measures the page shows, for Holm over those
    for measure in found["measures"]:
        theirs = expected["stream triad all-cores" if measure["need"] == "triad" else "hpl gflops"]
        assert [e["row"]["instance_type"] for e in measure["entries"]] == \
            [e["instance_type"] for e in theirs["entries"]]
        for mine, other in zip(measure["entries"][1:], theirs["entries"][1:], strict=True):
            expected_p = other["vs_baseline"]["p_value"]
            assert mine["vs_baseline"]["p_value"] == (None if expected_p is None else
                                                      pytest.approx(expected_p, rel=1e-6, abs=1e-12))
            assert mine["vs_baseline"]["not_testable"] == other["vs_baseline"]["not_testable"]
            assert mine["vs_baseline"]["same_profile"] == other["vs_baseline"]["same_profile"] == \
                ((mine["row"]["instance_type"] in STANDARD) == (types[0] in STANDARD))
            if expected_p is not None:
                shown.setdefault(other["instance_type"], []).append((mine["vs_baseline"], expected_p))
    # The page adjusts over the measures it shows; the API over all of its own (more: it says how many).
    for name, pairs in shown.items():
        adjusted = answers.holm([p for _, p in pairs])
        for (mine, _), expected_holm in zip(pairs, adjusted, strict=True):
            assert mine["p_holm"] == pytest.approx(expected_holm, rel=1e-6, abs=1e-12)
            assert mine["significant"] == (expected_holm < answers.ALPHA)
        assert found["tests"][name] == len(pairs) <= api["tests"][name]


@pytest.mark.parametrize(("a", "b"), [((10.0, 1.0, 3), (10.5, 2.0, 5)), ((100.0, 3.0, 2), (101.0, 0.5, 2)),
                                      ((1.0, 0.1, 30), (1.02, 0.1, 30)), ((5.0, 1e-3, 4), (5.0, 1e-3, 4))])
def test_the_page_s_welch_test_is_scipy_s(page, a, b):
    from scipy import stats

    left, right = ({"mean": m, "std": s, "n": n} for m, s, n in (a, b))
    expected = stats.ttest_ind_from_stats(*a, *b, equal_var=False).pvalue

    assert page.evaluate(f"IB.welch({json.dumps(left)}, {json.dumps(right)})") == pytest.approx(expected, rel=1e-7)


def test_the_forms_answer_on_the_page(page):
    page.fill("#need-triad", "80")
    page.click("#recommend-go")
    selects = page.locator("#compare select")
    for index, name in enumerate(("m7i.large", "m7g.large", "c7a.large")):
        selects.nth(index).select_option(name)
    page.click("#compare-go")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".answers").screenshot(path=str(SCREENSHOTS / "report-answers.png"))

    recommended = page.inner_text("#recommend-result")
    assert recommended.index("m7g.large") < recommended.index("c7a.large")  # cheapest first
    assert "m7i.large" not in recommended.split("Spot")[0]  # 62 GB/s: does not meet 80
    compared = page.inner_text("#compare-result")
    assert "baseline" in compared and "different" in compared and "×2" in compared


def test_any_column_filters_and_sorts(page):
    # the summary table (the freshness table above it filters too)
    table = page.locator("table.filterable", has=page.locator("th", has_text="architecture"))
    assert table.count() == 1
    rows = table.locator("tr:not(.filters)")
    total = rows.count() - 1
    filters = table.locator("tr.filters input")
    heads = [h.strip() for h in table.locator("tr").first.locator("th").all_inner_texts()]

    filters.nth(heads.index("architecture")).fill("graviton")
    graviton = [r for r in rows.all()[1:] if r.is_visible()]
    filters.nth(heads.index("metric")).fill("triad")
    filters.nth(heads.index("mean")).fill(">100")
    none_left = [r for r in rows.all()[1:] if r.is_visible()]  # m7g.large's triad is about 81 GB/s

    assert 0 < len(graviton) < total
    assert all("graviton" in r.inner_text() for r in graviton)
    assert none_left == []
    for box in filters.all():
        box.fill("")
    table.locator("th", has_text="per $/h on-demand").click()  # descending first
    column = heads.index("per $/h on-demand") + 1
    values = [v for v in table.locator(f"tr:not(.filters) td:nth-child({column})")
              .evaluate_all("cells => cells.map(c => parseFloat(c.dataset.v))") if v == v]  # NaN: unpriced
    assert values == sorted(values, reverse=True) and len(values) == total


def test_the_trends_plot_draws_each_type_run_by_run(page):
    section = page.inner_html("body").split("Trends (each type")[1].split("<h2>")[0]

    assert section.count("<svg") == 1 and all(name in section for name in HOSTS)
