"""A self-contained HTML report: plots inline as SVG, no CDN, every string escaped."""

from __future__ import annotations

import html
import io
from typing import Any

STREAM_KERNELS = ("copy", "scale", "add", "triad")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2rem; } .meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
.bad { color: #a00; } .plot svg { max-width: 100%; height: auto; }
"""


def _fmt(value: Any, digits: int = 2) -> str:
    """Text for a cell (escaped where it is written, not here)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _row(cells: list[Any], css: str = "") -> str:
    attr = f' class="{css}"' if css else ""
    return "<tr>" + "".join(f"<td{attr}>{html.escape(_fmt(c))}</td>" for c in cells) + "</tr>"


def _table(head: tuple[str, ...], rows: list[str]) -> str:
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: inline SVG


METRIC_ORDER = {m: i for i, m in enumerate((*STREAM_KERNELS, "gflops"))}
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#e45756")


def _bar_chart(summaries: list[dict[str, Any]], title: str, ylabel: str) -> str:
    """Grouped bars: one group per (instance type, metric), one colour per placement; 95% CI error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({(s["instance_type"], s["metric"]) for s in summaries},
                    key=lambda g: (g[0], METRIC_ORDER.get(g[1], 99), g[1]))
    placements = sorted({s["placement"] for s in summaries}, key=lambda p: (p != "all-cores", p))
    width = 0.8 / len(placements)
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(groups) * len(placements) + 2), 3.6))
    for index, placement in enumerate(placements):
        by_group = {(s["instance_type"], s["metric"]): s for s in summaries if s["placement"] == placement}
        xs = [i + (index - (len(placements) - 1) / 2) * width for i, g in enumerate(groups) if g in by_group]
        bars = [by_group[g] for g in groups if g in by_group]
        low = [0 if b["ci95_low"] is None else b["mean"] - b["ci95_low"] for b in bars]
        high = [0 if b["ci95_high"] is None else b["ci95_high"] - b["mean"] for b in bars]
        ax.bar(xs, [b["mean"] for b in bars], width, yerr=[low, high], capsize=3, label=placement,
               color=PALETTE[index % len(PALETTE)])
    ax.set_xticks(range(len(groups)), [f"{metric}\n{instance}" for instance, metric in groups], fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title} (mean, 95% CI)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _svg(fig)


def _summary_table(summaries: list[dict[str, Any]]) -> str:
    head = ("instance type", "benchmark", "metric", "placement", "threads", "n", "mean", "95% CI",
            "median", "std", "CV", "unit")
    rows = []
    for s in summaries:
        ci = f"{_fmt(s['ci95_low'])} – {_fmt(s['ci95_high'])}"
        cv = "–" if s["cv"] is None else f"{100 * s['cv']:.1f}%"
        cells = [s["instance_type"], s["benchmark"], s["metric"], s["placement"], s["threads"], s["n"],
                 _fmt(s["mean"]), ci, _fmt(s["median"]), _fmt(s["std"]), cv, s["unit"]]
        rows.append(_row(cells))
    return _table(head, rows)


def _hosts_table(docs: list[dict[str, Any]]) -> str:
    head = ("instance type", "CPU", "cores", "LLC", "memory", "kernel", "STREAM binary", "HPL", "BLAS")
    rows = []
    for d in docs:
        system, hpl = d["system"], d.get("hpl") or {}
        cells = [
            d["provenance"]["instance_type"], system["cpu_model"], system["physical_cores"],
            f"{system['last_level_cache_bytes'] / 2**20:.0f} MiB", f"{system['memory_total_bytes'] / 2**30:.1f} GiB",
            system["kernel"], (d.get("stream") or {}).get("binary", {}).get("cflags", "–"),
            f"N={hpl.get('n')} NB={hpl.get('nb')} {hpl.get('p')}x{hpl.get('q')}" if hpl else "–",
            (hpl.get("binary") or {}).get("blas_config") or "–",
        ]
        rows.append(_row(cells, "text"))
    return _table(head, rows)


def _quarantine_list(quarantined: list[dict[str, Any]]) -> str:
    if not quarantined:
        return "<p>None.</p>"
    items = []
    for q in quarantined:
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in q["reasons"])
        items.append(f'<li class="bad">{html.escape(q["instance_type"])}: <ul>{reasons}</ul></li>')
    return "<ul>" + "".join(items) + "</ul>"


def _skipped_list(skipped: list[dict[str, Any]]) -> str:
    if not skipped:
        return "<p>None.</p>"
    items = [f'<li>{html.escape(s["instance_type"])} at {html.escape(s["stage"])}: {html.escape(s["reason"])}</li>'
             for s in skipped]
    return "<ul>" + "".join(items) + "</ul>"


def render(*, title: str, run_id: str, generated_at: str, summaries: list[dict[str, Any]],
           docs: list[dict[str, Any]], quarantined: list[dict[str, Any]],
           skipped: list[dict[str, Any]] | None = None) -> str:
    skipped = skipped or []
    stream = [s for s in summaries if s["benchmark"] == "stream"]
    hpl = [s for s in summaries if s["benchmark"] == "hpl"]
    plots = []
    if stream:
        plots.append(_bar_chart(stream, "STREAM bandwidth", "GB/s"))
    if hpl:
        plots.append(_bar_chart(hpl, "HPL", "GFLOPS"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="meta">Run {html.escape(run_id)} · generated {html.escape(generated_at)} ·
{len(docs)} document(s) stored, {len(quarantined)} quarantined, {len(skipped)} skipped</p>
<h2>Plots</h2>
{''.join(f'<div class="plot">{p}</div>' for p in plots) or '<p>No valid results in this run.</p>'}
<h2>Summary (mean with 95% confidence interval from the t-distribution)</h2>
{_summary_table(summaries)}
<h2>Hosts and toolchains</h2>
{_hosts_table(docs)}
<h2>Quarantined results</h2>
{_quarantine_list(quarantined)}
<h2>Skipped (quota, capacity)</h2>
{_skipped_list(skipped)}
</body></html>
"""
