"""The report: self-contained, plotted, sortable, and every document string escaped."""

from __future__ import annotations

import re

from instance_benchmarks import analysis, report
from tests.fakes.documents import real_document, variant

SPR = "Intel(R) Xeon(R) Platinum 8488C"


def render(docs, *, prices=None, quarantined=(), numa=None, unaccounted=None):
    rows = analysis.rows_frame(docs)
    summary = analysis.summarize(rows, prices)
    return report.render(title="t", run_id="run-1", generated_at="now", summaries=analysis.records(summary),
                         docs=docs, rankings=analysis.rankings(summary), drift=analysis.drift(rows, prices),
                         numa=numa if numa is not None else analysis.numa_matrices(rows),
                         quarantined=list(quarantined), skipped=[], unaccounted=unaccounted)


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", page, flags=re.S)


def test_report_is_self_contained_with_plots():
    page = render([real_document()])

    svgs = _svgs(page)
    assert len(svgs) == 3  # STREAM triad, HPL, scaling (one core and all); no efficiency, price or NUMA data here
    assert all("<path" in svg for svg in svgs)
    # Renders offline: nothing is fetched (SVG namespace URIs are names, not requests).
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page) and "<link" not in page
    assert "triad" in page and "GFLOPS" in page
    assert "is not in the peak table" in page  # the hypervisor hides the model: said, not guessed
    assert "price_per_hour" in page  # how to get price metrics for a local run


def test_efficiency_price_and_numa_plots_appear_when_there_is_data():
    docs = [variant(instance_type="m7i.large", cpu_model=SPR, sustained_ghz=3.2),
            variant(instance_type="c7i.large", cpu_model=SPR, sustained_ghz=3.2, scale=0.9)]
    prices = {"run-1": {"prices": {"m7i.large": {"on_demand": 0.1008, "spot": 0.04},
                                   "c7i.large": {"on_demand": 0.0893, "spot": 0.035}}}}
    numa = [{"region": "us-east-1", "instance_type": "m7i.48xlarge", "nodes": [0, 1], "run_id": "run-1",
             "gb_s": [[120.0, 60.0], [61.0, 119.0]]}]

    page = render(docs, prices=prices, numa=numa)

    titles = ("STREAM triad bandwidth", "HPL (mean", "Efficiency against theoretical peak",
              "up and left is better value", "m7i.48xlarge: STREAM triad GB/s")
    assert len(_svgs(page)) == 6  # and the scaling curve
    for title in titles:
        assert title in page or title.replace(" ", "") in page.replace(" ", ""), title
    assert "per dollar" in page and "class=\"sortable\"" in page and "addEventListener" in page


def test_strings_from_documents_are_escaped():
    doc = real_document()
    doc["system"]["cpu_model"] = "<script>alert(1)</script>"

    page = render([doc], quarantined=[{"instance_type": "<b>x</b>", "reasons": ["<img src=x onerror=alert(1)>"]}],
                  unaccounted=[{"instance_type": "<i>y</i>", "reason": "run_stream ended failed"}])

    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "<b>x</b>" not in page
    assert "<i>y</i>" not in page and "&lt;i&gt;y&lt;/i&gt;: run_stream ended failed" in page
    assert "Stopped without a record" in page and "Stopped without a record" not in render([doc])


def test_the_hosts_table_shows_each_type_s_latest_document_only():
    docs = [variant(run_id="run-1", started_at="2026-11-01T00:00:00Z", microcode="0xold"),
            variant(run_id="run-2", started_at="2026-11-08T00:00:00Z", microcode="0xnew")]

    hosts = render(docs).split("Hosts and toolchains")[1].split("</table>")[0]

    assert "0xnew" in hosts and "0xold" not in hosts and hosts.count("<tr>") == 2  # header + one host


def test_a_type_with_one_run_has_no_trend_even_with_two_figures():
    one_run = [{"region": "r", "instance_type": "a.large", "need": need, "run_id": "run-1", "unit": "GB/s",
                "started_at": "2026-11-01T00:00:00Z", "n": 2, "mean": 1.0, "ci95_low": 0.5, "ci95_high": 1.5}
               for need in ("triad", "hpl")]

    assert report._trend_chart(one_run) == ""
    assert report._trend_chart([*one_run, {**one_run[0], "run_id": "run-2"}]).count("<svg") == 1


def test_each_run_shows_its_planned_and_actual_minutes_dollars_and_stages():
    """Issue 16 item 5: the cost side of the report, per run, with the stages plotted against the plan."""
    doc = variant(instance_type="m7i.large", cpu_model=SPR, sustained_ghz=3.2)
    doc["provenance"].update(
        run_id="week-48", plan={**doc["provenance"].get("plan", {}), "predicted_s": 540.0},
        cost={"market": "on-demand", "price_per_hour": 0.1008, "instance_seconds": 600.0, "usd": 0.0168,
              "predicted_usd": 0.01512},
        stages=[{"stage": "launch and agent online", "predicted_s": 91, "actual_s": 70.0, "predicted_over_actual": 1.3},
                {"stage": "stream", "predicted_s": 40, "actual_s": 50.0, "predicted_over_actual": 0.8},
                {"stage": "terminate", "predicted_s": 60, "actual_s": None, "predicted_over_actual": None}])
    older = real_document()  # stored before stage times were recorded: not in the section

    page = render([doc, older])

    section = page.split("<h2>Plan against actual", 1)[1].split("<h2>", 1)[0]
    assert "week-48: planned 9.0 instance-minutes ($0.02), actual 10.0 ($0.02)" in section
    assert "launch and agent online 91 / 70; stream 40 / 50; terminate 60 / –" in section
    assert section.count("<tr>") == 2 and len(_svgs(section)) == 1


def test_an_unpriced_run_says_so_rather_than_zero_dollars():
    doc = variant(instance_type="local", cpu_model=SPR, sustained_ghz=None)
    doc["provenance"].update(run_id="r", stages=[{"stage": "hpl", "predicted_s": 45, "actual_s": 48.0}],
                             cost={"usd": None, "predicted_usd": None, "instance_seconds": None})

    assert "r: planned 0.0 instance-minutes (unpriced), actual 0.8 (unpriced)" in render([doc])


def test_without_stage_times_the_plan_section_says_so():
    page = render([real_document()])

    assert "No stored document records its stage times yet." in page


def test_a_type_whose_hpl_stopped_short_of_its_asymptote_is_marked_in_the_rankings():
    """Issue 15 item 1: the rankings and report say which HPL figures understate their host."""
    short = variant(instance_type="m7i.48xlarge", cpu_model=SPR, sustained_ghz=3.2, scale=2.0)
    short["hpl"]["asymptote"] = {"near_asymptote": False, "predicted_share": 0.7}
    near = variant(instance_type="m7i.large", cpu_model=SPR, sustained_ghz=3.2)
    near["hpl"]["asymptote"] = {"near_asymptote": True, "predicted_share": 0.97}
    old = variant(instance_type="c7i.large", cpu_model=SPR, sustained_ghz=3.2)  # recorded before: not judged

    rows = analysis.rows_frame([short, near, old])
    ranked = analysis.rankings(analysis.summarize(rows))
    page = render([short, near, old])

    (hpl,) = [r for r in ranked if r["benchmark"] == "hpl" and r["by"] == "performance"]
    assert {e["instance_type"]: e["near_asymptote"] for e in hpl["entries"]} == {
        "m7i.48xlarge": False, "m7i.large": True, "c7i.large": None}
    rankings = page.split("<h2>Rankings</h2>", 1)[1].split("<h2>", 1)[0]
    assert "m7i.48xlarge †" in rankings and "m7i.large †" not in rankings and "c7i.large †" not in rankings
    assert "ran short of its fitted asymptote" in rankings


def test_hpl_efficiency_is_shown_against_both_clocks_labelled():
    page = render([variant(cpu_model=SPR, sustained_ghz=3.2, counted_mhz=2900.0)])

    assert "efficiency at counted clock" in page  # the summary table's column
    assert "HPL against two clocks" in page and "AWS's sustained all-core clock" in page
    counted = re.search(r"(\d+\.\d)% at 2\.90 GHz", page)
    assert counted and "counted" in page
    plain = render([variant(cpu_model=SPR, sustained_ghz=3.2)])
    assert "HPL against two clocks" not in plain and "at 2.90 GHz" not in plain


def test_a_type_s_second_host_is_named_as_such_in_the_run_section():
    page = render([real_document()], quarantined=[
        {"instance_type": "m7i.large", "replica": 2, "reasons": ["stream: no results in the document"]},
        {"instance_type": "c7i.large", "reasons": ["hpl: residual FAILED"]}])  # a record from before replicas

    assert "m7i.large (host 2)" in page and "c7i.large: <ul>" in page and "c7i.large (host" not in page


def test_contributed_results_have_their_section_with_the_contributors_escaped_and_stay_out_of_the_plots(tmp_path):
    from instance_benchmarks import pipeline
    from instance_benchmarks.results import ResultStore
    from tests.fakes.imds import Signer, accept_contribution

    store = ResultStore(tmp_path.as_uri())
    doc = variant(instance_type="m7i.large")
    store.store(doc, [], run_id="run-1", instance_type="m7i.large")
    without = pipeline.analyze(params={"results_uri": tmp_path.as_uri()}, run_id=None)
    plain = (tmp_path / "reports" / "latest" / "index.html").read_text()
    accept_contribution(store, Signer.make(), instance_type="r7i.large", contributor='<script>alert("x")</script>',
                        instance_id="i-000000000000000a2")

    pipeline.analyze(params={"results_uri": tmp_path.as_uri()}, run_id=None)
    page = (tmp_path / "reports" / "latest" / "index.html").read_text()

    assert "No contributed results yet" in plain and 'id="include-contributed"' not in plain
    section = page.split("<h2>Contributed results")[1].split("<h2>")[0]
    assert '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;' in section and "<script>alert" not in page
    people = section.split("<h3>Contributors")[1].split("<h3>")[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", people)[1:4] == ["1", "r7i.large", "r7i.large"]  # new to the project
    assert section.count("<tr>") == 1 + 1 + 1 + 2  # two headers, one contributor, r7i.large's triad and HPL
    assert 'id="include-contributed"' in page  # the answers add them only when the reader asks
    # the plots (drawn from the summary) and the summary are the project's alone, as before
    assert len(_svgs(page)) == len(_svgs(plain))
    assert without["dataset"]["summary_rows"] > 0
    assert page.split("<h2>Summary")[1].split("<h2>")[0] == plain.split("<h2>Summary")[1].split("<h2>")[0]
