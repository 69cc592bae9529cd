"""The report: self-contained, plotted, and every document string escaped."""

from __future__ import annotations

import json
import re

from instance_benchmarks import analysis, report
from tests.conftest import FIXTURES

VALID = FIXTURES / "documents" / "valid" / "local-amd-epyc-quick.json"


def render(docs, quarantined=()):
    summaries = analysis.summarize(analysis.rows_frame(docs))
    return report.render(title="t", run_id="run-1", generated_at="now", summaries=summaries, docs=docs,
                         quarantined=list(quarantined))


def test_report_is_self_contained_with_plots():
    page = render([json.loads(VALID.read_text())])

    assert page.count("<svg") == 2  # STREAM and HPL
    # Renders offline: nothing is fetched (SVG namespace URIs are names, not requests).
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page) and "<link" not in page
    assert "triad" in page and "GFLOPS" in page


def test_strings_from_documents_are_escaped():
    doc = json.loads(VALID.read_text())
    doc["system"]["cpu_model"] = "<script>alert(1)</script>"

    page = render([doc], [{"instance_type": "<b>x</b>", "reasons": ["<img src=x onerror=alert(1)>"]}])

    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "<b>x</b>" not in page
