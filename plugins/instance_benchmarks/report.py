"""A self-contained HTML report: plots inline as SVG, sortable tables, no CDN, every string escaped.

What a reader looks at first comes first: bandwidth and GFLOPS per instance type with their
95% confidence intervals, efficiency against the theoretical peak, price-performance, the NUMA
matrix; then rankings, drift, the full summary table, the hosts, and this run's outcome.
"""

from __future__ import annotations

import datetime
import html
import io
import json
import math
from pathlib import Path
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.5rem; text-align: right; white-space: nowrap; }
.wide { overflow-x: auto; max-height: 80vh; }
th { background: #f6f6f6; cursor: pointer; user-select: none; position: sticky; top: 0; }
th:first-child, td:first-child, td.text { text-align: left; }
.bad { color: #a00; } .warn { color: #a60; } .note { color: #666; font-size: 0.85rem; }
.plot svg { max-width: 100%; height: auto; } .plots { display: flex; flex-wrap: wrap; gap: 1rem; }
tr.filters input { width: 6em; font-size: 0.75rem; } tr.filters td { position: sticky; top: 1.6rem; background: #fff; }
.answers label { margin-right: 1rem; white-space: nowrap; } .answers { background: #f8f9fb; padding: 0.2rem 1rem; }
"""

# Click a column header to sort by it (numbers by their data-v value); no library, works offline.
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.title = "sort";
    th.addEventListener("click", function () {
      var rows = Array.prototype.slice.call(table.querySelectorAll("tr")).filter(function (tr, i) {
        return i > 0 && tr.className !== "filters";
      });
      var descending = th.dataset.order !== "desc";
      th.dataset.order = descending ? "desc" : "asc";
      function key(row) {
        var cell = row.children[column];
        var v = cell.dataset.v;
        return v === undefined ? cell.textContent : (v === "" ? -Infinity : parseFloat(v));
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return descending ? -order : order;
      });
      rows.forEach(function (row) { table.appendChild(row); });
    });
  });
});
"""

# A filter box under every header of a filterable table: text matches anywhere (case-insensitive);
# a number column also takes a comparison: >200, >=0.5, <1, =2.
FILTER_SCRIPT = """
document.querySelectorAll("table.filterable").forEach(function (table) {
  var head = table.querySelector("tr"), row = document.createElement("tr");
  row.className = "filters";
  Array.prototype.forEach.call(head.children, function (th, column) {
    var cell = document.createElement("td"), box = document.createElement("input");
    box.placeholder = "filter"; box.title = "text, or >200, >=0.5, <1, =2 on numbers"; box.dataset.column = column;
    box.addEventListener("input", apply); cell.appendChild(box); row.appendChild(cell);
  });
  head.insertAdjacentElement("afterend", row);
  function matches(cell, query) {
    var m = query.match(/^(>=|<=|>|<|=)\\s*(-?[0-9.]+)$/), v = cell.dataset.v;
    if (m && v !== undefined && v !== "") {
      var x = parseFloat(v), y = parseFloat(m[2]);
      return {">": x > y, ">=": x >= y, "<": x < y, "<=": x <= y, "=": x === y}[m[1]];
    }
    if (m) return false;
    return cell.textContent.toLowerCase().indexOf(query.toLowerCase()) >= 0;
  }
  function apply() {
    var queries = Array.prototype.map.call(row.querySelectorAll("input"), function (b) { return b.value.trim(); });
    Array.prototype.slice.call(table.querySelectorAll("tr")).slice(2).forEach(function (tr) {
      var keep = queries.every(function (q, i) { return !q || matches(tr.children[i], q); });
      tr.style.display = keep ? "" : "none";
    });
  }
});
"""

ANSWERS_SCRIPT = (Path(__file__).parent / "static" / "answers.js").read_text()

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#e45756")


def _fmt(value: Any, digits: int = 2) -> str:
    """Text for a cell (escaped where it is written, not here)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _cell(value: Any, *, text: str | None = None, css: str = "") -> str:
    """A table cell; numbers carry their value in data-v so the table sorts them as numbers."""
    attr = f' class="{css}"' if css else ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = "" if isinstance(value, float) and math.isnan(value) else repr(value)
        attr += f' data-v="{number}"'
    return f"<td{attr}>{html.escape(text if text is not None else _fmt(value))}</td>"


def _table(head: tuple[str, ...], rows: list[str], *, sortable: bool = True, filterable: bool = False) -> str:
    classes = " ".join(c for c, on in (("sortable", sortable), ("filterable", filterable)) if on)
    css = f' class="{classes}"' if classes else ""
    return (f"<table{css}><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
            + "".join(rows) + "</table>")


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return f'<div class="plot">{text[text.index("<svg"):]}</div>'  # inline: no XML prolog or doctype


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(s: dict[str, Any], many_models: set[str]) -> str:
    """The instance type, with its CPU where the same type ran on more than one processor, and 'quick' where its
    figures are a smoke test's."""
    label = f"{s['instance_type']} ({s['cpu_model']})" if s["instance_type"] in many_models else s["instance_type"]
    return label + (" · quick" if s.get("profile") == "quick" else "")


def _interval_chart(rows: list[dict[str, Any]], *, title: str, unit: str, series: str) -> str:
    """Horizontal bars per instance type, one colour per `series` value, 95% CI whiskers."""
    plt = _pyplot()
    many = _types_with_several_models(rows)
    labels = sorted({_label(r, many) for r in rows})
    kinds = sorted({r[series] for r in rows}, key=lambda k: (k != "all-cores", str(k)))
    height = 0.8 / len(kinds)
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.32 * len(labels) * len(kinds)))
    for index, kind in enumerate(kinds):
        by_label = {_label(r, many): r for r in rows if r[series] == kind}
        ys = [i + (index - (len(kinds) - 1) / 2) * height for i, label in enumerate(labels) if label in by_label]
        bars = [by_label[label] for label in labels if label in by_label]
        low = [0 if b["ci95_low"] is None else b["mean"] - b["ci95_low"] for b in bars]
        high = [0 if b["ci95_high"] is None else b["ci95_high"] - b["mean"] for b in bars]
        ax.barh(ys, [b["mean"] for b in bars], height, xerr=[low, high], capsize=3, label=str(kind),
                color=PALETTE[index % len(PALETTE)])
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title(f"{title} (mean, 95% CI)")
    ax.grid(axis="x", alpha=0.3)
    if len(kinds) > 1:
        ax.legend(fontsize=8, loc="lower right")
    return _svg(fig)


def _types_with_several_models(rows: list[dict[str, Any]]) -> set[str]:
    models: dict[str, set[str]] = {}
    for r in rows:
        models.setdefault(r["instance_type"], set()).add(r["cpu_model"])
    return {name for name, found in models.items() if len(found) > 1}


def _efficiency_chart(headline: list[dict[str, Any]]) -> str:
    plt = _pyplot()
    known = [r for r in headline if r["efficiency"] is not None]
    if not known:
        return ""
    many = _types_with_several_models(known)
    labels = sorted({_label(r, many) for r in known})
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.45 * len(labels)))
    for index, benchmark in enumerate(("stream", "hpl")):
        by_label = {_label(r, many): r for r in known if r["benchmark"] == benchmark}
        ys = [i + (index - 0.5) * 0.4 for i, label in enumerate(labels) if label in by_label]
        bars = [by_label[label] for label in labels if label in by_label]
        ax.barh(ys, [100 * r["efficiency"] for r in bars], 0.4,
                color=PALETTE[index], label="STREAM triad / peak bandwidth of its sockets" if benchmark == "stream"
                else "HPL / peak FLOPS at AWS's sustained clock")
        for y, r in zip(ys, bars, strict=True):  # never a bare sub-socket figure: its share of the socket beside it
            share = r.get("socket_share")
            if benchmark == "stream" and (share is None or share < 1):
                ax.text(100 * r["efficiency"], y, " on " + ("an unknown share" if share is None else f"{share:.0%}")
                        + " of the sockets' cores", va="center", fontsize=7)
            elif benchmark == "hpl" and _at_counted_clock(r):
                ax.text(100 * r["efficiency"], y, f" {_at_counted_clock(r)} counted", va="center", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("% of theoretical peak")
    ax.set_title("Efficiency against theoretical peak")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _svg(fig)


def _price_chart(headline: list[dict[str, Any]]) -> str:
    plt = _pyplot()
    priced = [r for r in headline if r["price_per_hour_on_demand"] is not None]
    if not priced:
        return ""
    benchmarks = [b for b in ("stream", "hpl") if any(r["benchmark"] == b for r in priced)]
    fig, axes = plt.subplots(1, len(benchmarks), figsize=(6 * len(benchmarks), 4.2), squeeze=False)
    for ax, benchmark in zip(axes[0], benchmarks, strict=True):
        points = [r for r in priced if r["benchmark"] == benchmark]
        colours = [PALETTE[("intel", "amd", "graviton").index(r["family"]) if r["family"] in
                           ("intel", "amd", "graviton") else 4] for r in points]
        ax.scatter([r["price_per_hour_on_demand"] for r in points], [r["mean"] for r in points], c=colours)
        for r in points:
            ax.annotate(r["instance_type"], (r["price_per_hour_on_demand"], r["mean"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("on-demand USD per hour")
        ax.set_ylabel(points[0]["unit"])
        ax.set_title(("STREAM triad" if benchmark == "stream" else "HPL") + ": up and left is better value")
        ax.grid(alpha=0.3)
    return _svg(fig)


def _numa_chart(matrix: dict[str, Any]) -> str:
    plt = _pyplot()
    import numpy as np

    nodes = matrix["nodes"]
    data = np.array([[np.nan if v is None else v for v in row] for row in matrix["gb_s"]])
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * len(nodes), 1.2 + 0.8 * len(nodes)))
    image = ax.imshow(data, cmap="viridis")
    for i in range(len(nodes)):
        for j in range(len(nodes)):
            if not np.isnan(data[i, j]):
                ax.text(j, i, f"{data[i, j]:.0f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(len(nodes)), [f"mem {n}" for n in nodes])
    ax.set_yticks(range(len(nodes)), [f"cpu {n}" for n in nodes])
    ax.set_title(f"{matrix['instance_type']}: STREAM triad GB/s")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _svg(fig)


def _trend_chart(points: list[dict[str, Any]], *, most: int = 10) -> str:
    """Each type's headline figures run by run (mean, 95% CI): the drift data as a picture."""
    if not points:
        return ""
    plt = _pyplot()
    run_ids: dict[tuple[str, str], set[str]] = {}
    for p in points:  # a run has a point per figure: count runs, not points
        run_ids.setdefault((p["region"], p["instance_type"]), set()).add(p["run_id"])
    runs = {key: len(ids) for key, ids in run_ids.items()}
    shown = sorted((k for k, n in runs.items() if n > 1), key=lambda k: (-runs[k], k))[:most]
    if not shown:
        return ""
    needs = [n for n in ("triad", "hpl") if any(p["need"] == n for p in points)]
    fig, axes = plt.subplots(1, len(needs), figsize=(6.5 * len(needs), 4.2), squeeze=False)
    for ax, need in zip(axes[0], needs, strict=True):
        for index, (region, name) in enumerate(shown):
            line = [p for p in points if (p["region"], p["instance_type"], p["need"]) == (region, name, need)]
            if not line:
                continue
            dates = [datetime.datetime.fromisoformat(p["started_at"].replace("Z", "+00:00")) for p in line]
            low = [0 if p["ci95_low"] is None else p["mean"] - p["ci95_low"] for p in line]
            high = [0 if p["ci95_high"] is None else p["ci95_high"] - p["mean"] for p in line]
            ax.errorbar(dates, [p["mean"] for p in line], yerr=[low, high], marker="o", capsize=3,
                        color=PALETTE[index % len(PALETTE)], label=name if len({r for r, _ in shown}) == 1
                        else f"{name} ({region})")
        ax.set_title(("STREAM triad, all cores" if need == "triad" else "HPL") + " per run (mean, 95% CI)")
        ax.set_ylabel(line[0]["unit"] if line else "")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.autofmt_xdate()
    note = "" if len(shown) == sum(1 for n in runs.values() if n > 1) else \
        f'<p class="note">The {most} types with the most runs; the drift table lists every type.</p>'
    return _svg(fig) + note


def _scaling_section(curves: list[dict[str, Any]], *, most: int = 10) -> str:
    """STREAM triad by thread count and HPL's parallel efficiency by cores, per type, and where each stops
    scaling: the picture, then the figures."""
    if not curves:
        return ""
    plt = _pyplot()
    shown = curves[:most]
    fig, (bandwidth, flops) = plt.subplots(1, 2, figsize=(13, 4.2))
    ticks: set[int] = set()
    for index, curve in enumerate(shown):
        color = PALETTE[index % len(PALETTE)]
        if len(curve["stream_triad"]) >= 2:
            bandwidth.plot([p["threads"] for p in curve["stream_triad"]], [p["gb_s"] for p in curve["stream_triad"]],
                           marker="o", color=color, label=curve["instance_type"])
            # ringed: the fewest threads that reach the share of the all-core bandwidth
            reach = next(p for p in curve["stream_triad"] if p["threads"] == curve["stream_threads_to_share"])
            bandwidth.plot([reach["threads"]], [reach["gb_s"]], marker="o", markersize=13, fillstyle="none",
                           color=color)
            ticks |= {p["threads"] for p in curve["stream_triad"]}
        points = [p for p in curve["hpl"] if p["parallel_efficiency"] is not None]
        if len(points) >= 2:
            flops.plot([p["cores"] for p in points], [100 * p["parallel_efficiency"] for p in points], marker="o",
                       color=color, label=curve["instance_type"])
            ticks |= {p["cores"] for p in points}
    share = curves[0]["share"]
    for ax, title, unit in ((bandwidth, f"STREAM triad by threads (spread; ringed: {share:.0%} of all cores)",
                             "GB/s"),
                            (flops, "HPL parallel efficiency (GFLOPS per core over one core's)", "%")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)], fontsize=8)
        ax.minorticks_off()
        ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], 105 if ax is flops else 0))
        ax.set_xlabel("threads" if ax is bandwidth else "cores")
        ax.set_ylabel(unit)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    rows = []
    for curve in curves:
        all_cores = curve["stream_triad"][-1] if curve["stream_triad"] else None
        widest = curve["hpl"][-1] if curve["hpl"] else None
        rows.append("<tr>" + "".join([
            _cell(curve["instance_type"], css="text"),
            _cell(curve["stream_threads_to_share"],
                  text="–" if curve["stream_threads_to_share"] is None else
                  f"{curve['stream_threads_to_share']} of {all_cores['threads']}"),
            _cell(None if all_cores is None else all_cores["gb_s"]),
            _cell(None if widest is None else widest["parallel_efficiency"],
                  text="–" if widest is None or widest["parallel_efficiency"] is None else
                  f"{100 * widest['parallel_efficiency']:.0f}% on {widest['cores']} cores"),
        ]) + "</tr>")
    table = _table(("instance type", f"threads to {share:.0%} of all-core triad", "all-core triad GB/s",
                    "HPL parallel efficiency"), rows)
    note = "" if len(curves) <= most else f'<p class="note">The plot shows the first {most} types; the table all.</p>'
    return _svg(fig) + table + note


def _answers(headline: list[dict[str, Any]]) -> str:
    """Recommend and compare, computed in the page (static/answers.js) over the headline rows embedded here."""
    if not headline:
        return "<p>No results yet to answer from.</p>"
    keep = ("region", "instance_type", "cpu_model", "need", "unit", "profile", "n", "hosts", "mean", "std",
            "ci95_low", "ci95_high", "price_per_hour_on_demand", "price_per_hour_spot", "contributors")
    from instance_benchmarks.analysis import blas_fallback
    from instance_benchmarks.answers import tested_as

    data = [{**{k: r.get(k) for k in keep}, "source": r.get("source") or "project",
             "blas_fallback": blas_fallback(r["benchmark"], r.get("blas_matches_cpu")), **tested_as(r)}
            for r in headline]
    include = ('<p><label><input id="include-contributed" type="checkbox"> include contributed results (each named '
               "with its contributor; see Contributed results below)</label></p>"
               if any(r["source"] == "contributed" for r in data) else "")
    types = sorted({r["instance_type"] for r in headline})
    regions = sorted({r["region"] for r in headline})
    type_options = "".join(f"<option>{html.escape(t)}</option>" for t in types)
    region_options = '<option value="">any</option>' + "".join(f"<option>{html.escape(r)}</option>"
                                                                for r in regions)
    selects = "".join(f'<select aria-label="type {i + 1}"><option value="">–</option>{type_options}</select> '
                      for i in range(4))
    # No markup can start inside the script element: <, > and & as JSON escapes (JSON.parse reads them back).
    payload = json.dumps(data, allow_nan=False).replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("&", "\\u0026")
    return f"""
<div class="answers">{include}
<div id="recommend"><h3>Find the cheapest type that meets a need</h3>
<p><label>STREAM triad at least <input id="need-triad" type="number" min="0" step="any" size="7"> GB/s</label>
<label>HPL at least <input id="need-hpl" type="number" min="0" step="any" size="7"> GFLOPS</label>
<label>or like <select id="need-like"><option value="">–</option>{type_options}</select> but cheaper</label>
<label>region <select id="need-region">{region_options}</select></label>
<label><input id="need-strict" type="checkbox"> only where the whole 95% interval meets it</label>
<button id="recommend-go">Recommend</button></p>
<p class="note">Surely: every figure's 95% interval, across two hosts or more, has its low end at the need;
likely: the mean meets it, the interval reaches below; likely (BLAS fallback): HPL ran kernels narrower than the
CPU's (‡), so it measured the library; likely (one host): one host's repetitions, no host-to-host variance in the
interval; single sample: one sample, no interval. Only measured types are listed: a type never benchmarked is not
estimated (the API, <code>/benchmarks/api/recommend</code>, lists the catalog's unmeasured types).</p>
<div id="recommend-result"></div></div>
<div id="compare"><h3>Compare 2 to 4 types</h3>
<p>{selects}<label>region <select id="compare-region">{region_options}</select></label>
<button id="compare-go">Compare</button></p>
<p class="note">Each figure with its 95% interval; against the first type, Welch's two-sided t-test on the mean,
standard deviation and n of its hosts where it has two or more (n = hosts), else of its one host's repetitions;
not testable where either side has n &lt; 2 or one side's spread is across hosts and the other's within one host.
Different: the Holm-adjusted p-value, over the measures shown for that type, below 0.05. Every measure, not only
these two (adjusted over all of them): <code>/benchmarks/api/compare?types=a,b</code>.</p>
<div id="compare-result"></div></div>
</div>
<script type="application/json" id="headline-data">{payload}</script>"""


def _contributed_section(headline: list[dict[str, Any]], contributors: list[dict[str, Any]]) -> str:
    """Who contributed what (issue 32 items 5 and 6): the contributors, and each contributed headline figure with
    whose it is. Every name is the submitter's, escaped like every other text on the page."""
    if not contributors:
        return ('<p>No contributed results yet. Anyone can run the published runner image on their own EC2 '
                "instance and submit what it measured (docs/contributing-results.md).</p>")
    people = ["<tr>" + _cell(c["contributor"], css="text") + _cell(c["accepted"])
              + _cell(", ".join(c["instance_types"]), css="text")
              + _cell(", ".join(c["added"]) or "–", css="text") + _cell(c["last_contributed"][:10], css="text")
              + "</tr>" for c in contributors]
    figures = ["<tr>" + _cell(r["instance_type"], css="text") + _cell(r["region"], css="text")
               + _cell(r["cpu_model"], css="text")
               + _cell("STREAM triad, all cores" if r["need"] == "triad" else "HPL", css="text")
               + _cell(r["mean"]) + f"<td>{html.escape(_ci_text(r))}</td>" + _cell(r["unit"], css="text")
               + _cell(r["n"]) + _cell(r.get("hosts"))
               + _cell(r["efficiency"], text="–" if r["efficiency"] is None else f"{100 * r['efficiency']:.1f}%")
               + _cell(r.get("contributors"), css="text") + _cell(r.get("submissions"))
               + _cell(r["last_seen"][:10], css="text") + "</tr>" for r in headline]
    return ('<h3>Contributors</h3><p class="note">Accepted: submissions a person accepted after every check '
            "(EC2's signature over the instance's identity, the published runner image, the run rules, the physical "
            "bounds). New types: ones the project had not measured itself in that region.</p>"
            + _table(("contributor", "accepted", "instance types", "new types", "last run"), people)
            + "<h3>Contributed figures (the figures the answers above add when asked)</h3>"
            + _table(("instance type", "region", "CPU", "figure", "mean", "95% CI", "unit", "n", "hosts",
                      "efficiency", "contributed by", "submissions", "last seen"), figures))


def _is_headline(r: dict[str, Any]) -> bool:
    return (r["benchmark"] == "stream" and r["metric"] == "triad" and r["placement"] == "all-cores") \
        or r["benchmark"] == "hpl"


def _ci_text(r: dict[str, Any]) -> str:
    return "–" if r["ci95_low"] is None else f"{_fmt(r['ci95_low'])} – {_fmt(r['ci95_high'])}"


def _summary_table(summaries: list[dict[str, Any]]) -> str:
    head = ("instance type", "family", "architecture", "region", "CPU", "benchmark", "metric", "placement",
            "threads", "configuration", "n", "hosts", "mean", "95% CI", "median", "std", "CV", "outliers", "efficiency",
            "efficiency at counted clock", "$/h on-demand", "$/h spot", "per $/h on-demand", "per $/h spot",
            "first seen", "last seen")
    rows = []
    for s in summaries:
        rows.append("<tr>" + "".join([
            _cell(s["instance_type"], css="text"), _cell(s["instance_family"], css="text"),
            _cell(s["family"], css="text"), _cell(s["region"], css="text"), _cell(s["cpu_model"], css="text"),
            _cell(s["benchmark"], css="text"), _cell(s["metric"], css="text"), _cell(s["placement"], css="text"),
            _cell(s["threads"]), _cell(s.get("configuration"), css="text"), _cell(s["n"]), _cell(s.get("hosts")),
            _cell(s["mean"]),
            f'<td data-v="{s["ci95_low"] if s["ci95_low"] is not None else ""}" '
            f'title="{html.escape(s.get("interval") or "")}">{html.escape(_ci_text(s))}</td>',
            _cell(s["median"]), _cell(s["std"]),
            _cell(s["cv"], text="–" if s["cv"] is None else f"{100 * s['cv']:.1f}%"), _cell(s["outliers"]),
            _cell(s["efficiency"], text="–" if s["efficiency"] is None else f"{100 * s['efficiency']:.1f}%"),
            _cell(s.get("efficiency_at_measured_clock"), text=_at_counted_clock(s) or "–"),
            _cell(s["price_per_hour_on_demand"], text=_fmt(s["price_per_hour_on_demand"], 4)),
            _cell(s["price_per_hour_spot"], text=_fmt(s["price_per_hour_spot"], 4)),
            _cell(s["value_per_dollar_on_demand"]), _cell(s["value_per_dollar_spot"]),
            _cell(s["first_seen"][:10], css="text"), _cell(s["last_seen"][:10], css="text"),
        ]) + "</tr>")
    return _table(head, rows, filterable=True)


def _at_counted_clock(r: dict[str, Any]) -> str | None:
    """'88.0% at 3.72 GHz': HPL against its peak at the clock counted under vector load during HPL."""
    efficiency = r.get("efficiency_at_measured_clock")
    if efficiency is None:
        return None
    return f"{100 * efficiency:.1f}% at {r['measured_clock_ghz']:.2f} GHz"


def _efficiency_notes(headline: list[dict[str, Any]]) -> str:
    shares = sorted({(r["instance_type"], r["efficiency"], r["efficiency_note"]) for r in headline
                     if r["benchmark"] == "stream" and r["efficiency"] is not None and r["efficiency_note"]})
    shared = "".join(f"<li>{html.escape(name)}: {100 * eff:.1f}% of the peak; {html.escape(note)}</li>"
                     for name, eff, note in shares)
    shared = f'<p class="note">STREAM against whole sockets:</p><ul class="note">{shared}</ul>' if shared else ""
    clocks = "".join(f"<li>{html.escape(r['instance_type'])}: {100 * r['efficiency']:.1f}% at AWS's sustained "
                     f"all-core clock, {html.escape(_at_counted_clock(r) or '')} counted</li>"
                     for r in headline if r["benchmark"] == "hpl" and r["efficiency"] is not None
                     and _at_counted_clock(r))
    clocks = (f'<p class="note">HPL against two clocks: AWS\'s sustained all-core clock (the bar) and the clock the '
              f'runner counted under vector FMA load during HPL (src/clockloop.c; the text beside the bar). Where '
              f'they differ, the clock explains that much of the gap to the peak:</p><ul class="note">{clocks}</ul>'
              if clocks else "")
    return shared + clocks + _missing_efficiency(headline)


def _missing_efficiency(headline: list[dict[str, Any]]) -> str:
    notes = sorted({(r["instance_type"], r["benchmark"], r["efficiency_note"]) for r in headline
                    if r["efficiency"] is None and r["efficiency_note"]})
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(t)} ({html.escape(b)}): {html.escape(n)}</li>" for t, b, n in notes)
    return f'<p class="note">No efficiency for:</p><ul class="note">{items}</ul>'


def _blas_fallbacks(headline: list[dict[str, Any]]) -> str:
    """HPL figures whose BLAS ran kernels narrower than the CPU's vectors: they measure the library."""
    flagged = sorted({(r["instance_type"], r.get("blas") or "BLAS", r.get("blas_kernel") or "?")
                      for r in headline if r["benchmark"] == "hpl" and r.get("blas_matches_cpu") is False})
    if not flagged:
        return ""
    items = "".join(f"<li>{html.escape(t)}: {html.escape(b)} selected <code>{html.escape(k)}</code></li>"
                    for t, b, k in flagged)
    return ('<p class="note warn">BLAS fallback: on these types the library chose kernels narrower than the '
            "CPU's vector units, so the HPL figure measures the library, not the CPU:</p>"
            f'<ul class="note">{items}</ul>')


def _short_mark(entry: dict[str, Any]) -> str:
    """The type, marked † where HPL stopped short of its asymptote, ‡ where its BLAS ran a fallback kernel."""
    return (entry["instance_type"] + (" †" if entry.get("near_asymptote") is False else "")
            + (" ‡" if entry.get("blas_fallback") else ""))


def _rankings(rankings: list[dict[str, Any]]) -> str:
    if not rankings:
        return "<p>No results yet.</p>"
    blocks = []
    for r in rankings:
        rows = ["<tr>" + _cell(e["rank"]) + _cell(_short_mark(e), css="text") + _cell(e["cpu_model"], css="text")
                + _cell(e["value"]) + "</tr>" for e in r["entries"]]
        name = "STREAM triad" if r["benchmark"] == "stream" else "HPL"
        profile = r.get("profile") or "profile unrecorded"
        title = (f"{r['region']}, {profile}{' (smoke test)' if r.get('smoke_test') else ''}: {name} "
                 f"{'by performance' if r['by'] == 'performance' else 'per dollar'} ({r['unit']})")
        blocks.append(f"<div><h3>{html.escape(title)}</h3>"
                      + _table(("rank", "instance type", "CPU", r["unit"]), rows) + "</div>")
    short = any(e.get("near_asymptote") is False for r in rankings for e in r["entries"])
    if any(r.get("smoke_test") for r in rankings):
        smoke_note = ('<p class="note">A profile\'s types are ranked among themselves only: the quick profile is a '
                      "smoke test (a 40 s HPL, fewer STREAM repetitions), never ranked against standard runs.</p>")
    else:
        smoke_note = ""
    note = ('<p class="note">† HPL ran short of its fitted asymptote (the time budget or memory capped N; the '
            "document's hpl.asymptote says by how much): its GFLOPS understate the host.</p>") if short else ""
    if any(e.get("blas_fallback") for r in rankings for e in r["entries"]):
        note += ('<p class="note warn">‡ BLAS fallback: the library ran kernels narrower than the CPU\'s vector '
                 "units, so this HPL figure measures the library's fallback, not the type.</p>")
    return '<div class="plots">' + "".join(blocks) + "</div>" + note + smoke_note


def _drift(drift: list[dict[str, Any]]) -> str:
    if not drift:
        return "<p>No instance type has two runs yet.</p>"
    rows = []
    for item in drift:
        flags = "; ".join(f"{f['kind']}: {_fmt(f['before'], 4 if 'price' in f['kind'] else 2)} → "
                          f"{_fmt(f['after'], 4 if 'price' in f['kind'] else 2)}"
                          + (f" ({f['detail']})" if "detail" in f else "")
                          for f in item["flags"]) or "no change beyond the noise"
        rows.append("<tr>" + _cell(item["instance_type"], css="text") + _cell(item["region"], css="text")
                    + _cell(item.get("profile"), css="text")
                    + _cell(item["previous"]["started_at"][:10], css="text")
                    + _cell(item["latest"]["started_at"][:10], css="text")
                    + _cell(flags, css="text warn" if item["flags"] else "text") + "</tr>")
    return _table(("instance type", "region", "profile", "previous run", "latest run", "changes"), rows)


def _hosts_table(docs: list[dict[str, Any]]) -> str:
    """The latest document of each instance type and region (the dataset keeps every one)."""
    head = ("instance type", "region", "date", "CPU", "microcode", "cores", "sockets", "LLC", "memory", "kernel",
            "HPL", "BLAS", "image")
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for d in sorted(docs, key=lambda d: d["started_at"]):
        latest[(d["provenance"].get("region") or "local", d["provenance"]["instance_type"])] = d
    rows = []
    for _, d in sorted(latest.items()):
        system, hpl, prov = d["system"], d.get("hpl") or {}, d["provenance"]
        cells = [
            prov["instance_type"], prov.get("region") or "local", d["started_at"][:10], system["cpu_model"],
            system.get("microcode") or "–", system["physical_cores"], system.get("sockets"),
            f"{system['last_level_cache_bytes'] / 2**20:.0f} MiB", f"{system['memory_total_bytes'] / 2**30:.1f} GiB",
            system["kernel"], f"N={hpl.get('n')} NB={hpl.get('nb')} {hpl.get('p')}x{hpl.get('q')}" if hpl else "–",
            (hpl.get("binary") or {}).get("blas_config") or "–",
            ((prov.get("container") or {}).get("source")) or "bare host",
        ]
        rows.append("<tr>" + "".join(_cell(c, css="text") for c in cells) + "</tr>")
    return _table(head, rows)


def _plan_rows(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per run and type: planned against actual instance-minutes and dollars, and each stage's seconds."""
    rows = []
    for d in docs:
        prov = d["provenance"]
        plan, cost = prov.get("plan") or {}, prov.get("cost") or {}
        stages = prov.get("stages") or []
        measured = [s for s in stages if s["actual_s"] is not None]
        if not stages:
            continue
        # Instance time: from launch on EC2 (the cost's own count); the stages' sum on this machine.
        actual_s = cost.get("instance_seconds") or sum(s["actual_s"] for s in measured)
        rows.append({"run_id": prov["run_id"], "instance_type": prov["instance_type"],
                     "region": prov.get("region") or "local", "planned_min": (plan.get("predicted_s") or 0) / 60,
                     "actual_min": actual_s / 60, "planned_usd": cost.get("predicted_usd"),
                     "actual_usd": cost.get("usd"),
                     "stages": stages})
    return sorted(rows, key=lambda r: (r["run_id"], r["region"], r["instance_type"]))


def _plan_chart(rows: list[dict[str, Any]]) -> str:
    """Each stage's predicted against actual seconds, log-log, with the 0.75-1.33 band around y = x."""
    points = [(s["stage"], s["actual_s"], s["predicted_s"]) for r in rows for s in r["stages"]
              if s["actual_s"] and s["predicted_s"]]
    if not points:
        return ""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    stages = sorted({p[0] for p in points})
    for i, stage in enumerate(stages):
        mine = [p for p in points if p[0] == stage]
        ax.scatter([p[1] for p in mine], [p[2] for p in mine], label=stage, color=PALETTE[i % len(PALETTE)])
    low, high = min(min(p[1], p[2]) for p in points) / 1.5, max(max(p[1], p[2]) for p in points) * 1.5
    line = [low, high]
    ax.plot(line, line, color="#888", linewidth=1)
    ax.fill_between(line, [v * 0.75 for v in line], [v * 1.33 for v in line], color="#888", alpha=0.12,
                    label="within 0.75-1.33")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("actual seconds")
    ax.set_ylabel("predicted seconds")
    ax.set_title("The plan against the run, per stage")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3, which="both")
    return _svg(fig)


def _plan_section(docs: list[dict[str, Any]]) -> str:
    rows = _plan_rows(docs)
    if not rows:
        return "<p>No stored document records its stage times yet.</p>"
    head = ("run", "instance type", "region", "planned min", "actual min", "planned $", "actual $",
            "stages: predicted / actual s")
    cells = []
    for r in rows:
        stages = "; ".join(f"{s['stage']} {_fmt(s['predicted_s'], 0)} / {_fmt(s['actual_s'], 0)}"
                           for s in r["stages"])
        cells.append("<tr>" + "".join([
            _cell(r["run_id"], css="text"), _cell(r["instance_type"], css="text"), _cell(r["region"], css="text"),
            _cell(round(r["planned_min"], 2)), _cell(round(r["actual_min"], 2)),
            _cell(r["planned_usd"], text=_fmt(r["planned_usd"], 4)),
            _cell(r["actual_usd"], text=_fmt(r["actual_usd"], 4)),
            _cell(stages, css="text")]) + "</tr>")
    runs: dict[str, list[float | None]] = {}
    for r in rows:
        totals = runs.setdefault(r["run_id"], [0.0, 0.0, None, None])
        totals[0] += r["planned_min"]
        totals[1] += r["actual_min"]
        for i, usd in ((2, r["planned_usd"]), (3, r["actual_usd"])):
            if usd is not None:
                totals[i] = (totals[i] or 0.0) + usd

    def dollars(usd: float | None) -> str:
        return "unpriced" if usd is None else f"${usd:.2f}"

    per_run = "".join(f"<li>{html.escape(run)}: planned {p_min:.1f} instance-minutes ({dollars(p_usd)}), actual "
                      f"{a_min:.1f} ({dollars(a_usd)})</li>" for run, (p_min, a_min, p_usd, a_usd) in runs.items())
    return (f'<p class="note">Planned: planning.py\'s model (launch from public recordings, the rest stated '
            f"assumptions) at the run's price snapshot. Actual: instance time from launch to the document on EC2 "
            f"(terminate follows it), the stages' sum on this machine; dollars only where the run had a price."
            f"</p><ul>{per_run}</ul>{_plan_chart(rows)}<div class=\"wide\">{_table(head, cells)}</div>")


def _host_name(item: dict[str, Any]) -> str:
    """'m7i.large', or 'm7i.large (host 2)' for a type's second host on (instances_per_type)."""
    replica = item.get("replica") or 1
    return item["instance_type"] if replica <= 1 else f"{item['instance_type']} (host {replica})"


def _run_section(run_id: str | None, documents: list[str], quarantined: list[dict[str, Any]],
                 skipped: list[dict[str, Any]], unaccounted: list[dict[str, Any]],
                 stopped: dict[str, Any] | None = None) -> str:
    if not run_id:
        return "<p>Rebuilt from the stored results (no run of its own).</p>"
    if stopped:
        return (f'<p>Run {html.escape(run_id)}</p><p class="bad">Stopped at {html.escape(stopped["stage"])}, '
                f'before any host: {html.escape(stopped["reason"])}</p>')
    stored = "".join(f"<li>{html.escape(uri)}</li>" for uri in documents) or "<li>none</li>"
    quarantine = "".join(
        f'<li class="bad">{html.escape(_host_name(q))}: <ul>'
        + "".join(f"<li>{html.escape(r)}</li>" for r in q["reasons"]) + "</ul></li>" for q in quarantined
    ) or "<li>none</li>"
    skips = "".join(f'<li>{html.escape(_host_name(s))} at {html.escape(s["stage"])}: '
                    f'{html.escape(s["reason"])}</li>' for s in skipped) or "<li>none</li>"
    stopped = "".join(f'<li class="bad">{html.escape(_host_name(s))}: {html.escape(s["reason"])}</li>'
                      for s in unaccounted)
    return (f"<p>Run {html.escape(run_id)}</p><h3>Stored</h3><ul>{stored}</ul>"
            f"<h3>Quarantined results</h3><ul>{quarantine}</ul><h3>Skipped (quota, capacity, budget, "
            f"provision)</h3><ul>{skips}</ul>"
            + (f"<h3>Stopped without a record (killed, marked failed, worker lost)</h3><ul>{stopped}</ul>"
               if unaccounted else ""))


def _test_profile_note(count: int) -> str:
    if not count:
        return ""
    return (f'<p class="note bad">{count} stored document(s) come from the test profile: plumbing checks with small '
            "STREAM arrays and HPL capped at seconds, not rule-sized. They are never shown as figures.</p>")


def render(*, title: str, generated_at: str, summaries: list[dict[str, Any]], docs: list[dict[str, Any]],
           run_id: str | None = None, rankings: list[dict[str, Any]] | None = None,
           drift: list[dict[str, Any]] | None = None, numa: list[dict[str, Any]] | None = None,
           run_documents: list[str] | None = None, quarantined: list[dict[str, Any]] | None = None,
           skipped: list[dict[str, Any]] | None = None, unaccounted: list[dict[str, Any]] | None = None,
           stopped: dict[str, Any] | None = None, trends: list[dict[str, Any]] | None = None,
           test_profile_documents: int = 0, freshness: list[dict[str, Any]] | None = None,
           contributed: list[dict[str, Any]] | None = None, contributors: list[dict[str, Any]] | None = None) -> str:
    """The whole page. `summaries`: the summary table's rows (analysis.records); `trends`: analysis.trends rows;
    `test_profile_documents`: how many stored documents are test-profile plumbing checks (counted, never plotted);
    `freshness`: freshness.rows, each type's age and the latest weekly plan's decision for it;
    `contributed`: the contributed summary's rows (shown in their own section, and in the answers when the reader
    asks), `contributors`: analysis.contributors.

    The plots and answers show each type's current configuration (analysis.current); the summary
    table lists every configuration.
    """
    import pandas as pd

    from instance_benchmarks.analysis import current, records, scaling_curves

    shown = records(current(pd.DataFrame(summaries))) if summaries else []
    # The scaling curve's 2, 4, 8, ... threads have their own section
    triad = [s for s in shown if s["benchmark"] == "stream" and s["metric"] == "triad"
             and not s["placement"].startswith("threads-")]
    hpl = [s for s in shown if s["benchmark"] == "hpl"]
    headline = [{**s, "need": "triad" if s["benchmark"] == "stream" else "hpl"} for s in shown
                if _is_headline(s)]
    contributed_shown = records(current(pd.DataFrame(contributed))) if contributed else []
    contributed_headline = [{**s, "need": "triad" if s["benchmark"] == "stream" else "hpl"}
                            for s in contributed_shown if _is_headline(s)]
    plots = []
    if triad:
        plots.append(_interval_chart(triad, title="STREAM triad bandwidth", unit="GB/s", series="placement"))
    if hpl:
        plots.append(_interval_chart(hpl, title="HPL", unit="GFLOPS", series="placement"))
    efficiency = _efficiency_chart(headline)
    price = _price_chart(headline)
    heatmaps = "".join(_numa_chart(m) for m in numa or [])
    scaling = _scaling_section(scaling_curves(pd.DataFrame(summaries))) if summaries else ""
    types = len({(s["region"], s["instance_type"]) for s in summaries})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="meta">Generated {html.escape(generated_at)} · {types} instance type(s) · {len(docs)} stored document(s)
{'· run ' + html.escape(run_id) if run_id else ''}</p>
<h2>Bandwidth and GFLOPS</h2>
<div class="plots">{''.join(plots) or '<p>No valid results yet.</p>'}</div>
<h2>Which type? (all cores: STREAM triad and HPL)</h2>
{_answers(headline + contributed_headline)}
<h2>Efficiency against theoretical peak</h2>
<p class="note">Peak FLOPS = physical cores × sustained GHz × FP64 FLOPs per cycle; peak bandwidth = sockets ×
memory channels × MT/s × 8 bytes, of whole sockets (an instance smaller than a socket shares its channels).
Sources per processor in plugins/instance_benchmarks/peaks.py.</p>
{efficiency or '<p>No processor in these results is in the peak table.</p>'}
{_efficiency_notes(headline)}{_blas_fallbacks(headline)}
<h2>Price-performance</h2>
{price or '<p>No prices for these results (for a local run, give the <code>price_per_hour</code> param).</p>'}
<h2>Scaling across cores</h2>
<p class="note">Where a host stops scaling: STREAM triad by thread count, and the fewest threads that reach 90% of
the all-core bandwidth; HPL on one core, one NUMA node and all cores, each at its own N, as GFLOPS per core over one
core's. Every profile measures STREAM on one core and all; the standard profile adds 2, 4, 8, ... threads and the
HPL scopes.</p>
{scaling or '<p>No type has been measured on more than one core count yet.</p>'}
<h2>NUMA bandwidth matrix</h2>
{heatmaps or '<p>No host with several NUMA nodes in these results.</p>'}
<h2>Rankings</h2>
{_rankings(rankings or [])}
<h2>Drift (latest run against the previous one)</h2>
{_drift(drift or [])}
<h2>Freshness (how old each type's figures are, and why the week did or did not measure it again)</h2>
{freshness_section(freshness or [])}
<h2>Trends (each type's figure run by run)</h2>
{_trend_chart(trends or []) or '<p>No instance type has two runs yet.</p>'}
<h2>Summary (mean with 95% confidence interval from the t-distribution; click a header to sort, type under it
to filter)</h2>
<div class="wide">{_summary_table(summaries)}</div>
<h2>Contributed results (accepted submissions; every other figure on this page is the project's own)</h2>
{_contributed_section(contributed_headline, contributors or [])}
<h2>Hosts and toolchains (latest run of each type)</h2>
<div class="wide">{_hosts_table(docs)}</div>
<h2>Plan against actual (instance-minutes, dollars and seconds per stage, per run)</h2>
{_plan_section(docs)}
<h2>This run</h2>
{_test_profile_note(test_profile_documents)}
{_run_section(run_id, run_documents or [], quarantined or [], skipped or [], unaccounted or [], stopped)}
<script>{SORT_SCRIPT}{FILTER_SCRIPT}{ANSWERS_SCRIPT}</script>
</body></html>
"""


# Freshness map colours: measured within 4 weeks, within 12, older, never.
FRESH_COLOURS = ((4, "#54a24b", "within 4 weeks"), (12, "#eeca3b", "4 to 12 weeks"), (math.inf, "#f58518", "older"))
NEVER_COLOUR = "#d9d9d9"


def _freshness_table(rows: list[dict[str, Any]]) -> str:
    head = ("region", "instance type", "last measured", "age (weeks)", "hosts", "interval ±%", "this week")
    cells = ["<tr>" + "".join([
        _cell(r["region"], css="text"), _cell(r["instance_type"], css="text"),
        _cell(r["last_measured"] or "never", css="text"), _cell(r["age_weeks"]), _cell(r["hosts"]),
        _cell(None if r["interval_halfwidth"] is None else 100 * r["interval_halfwidth"]),
        _cell(r["this_week"], css="text")]) + "</tr>" for r in rows]
    return _table(head, cells, filterable=True)


def freshness_section(rows: list[dict[str, Any]]) -> str:
    """The report's (and the plan page's) table: every type's age and the week's decision for it."""
    if not rows:
        return "<p>No type measured or planned yet.</p>"
    return f'<div class="wide">{_freshness_table(rows)}</div>'


def _freshness_map(plan: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Family x size, each cell coloured by its figures' age; a ring marks the types chosen this week."""
    from instance_benchmarks.catalog import parse_instance_type
    from instance_benchmarks.freshness import size_rank

    age = {(r["region"], r["instance_type"]): r["age_weeks"] for r in rows}
    chosen = {(o["region"], o["instance_type"]) for o in plan.get("chosen", [])}
    grid: dict[tuple[str, str], dict[str, tuple[str, str, str]]] = {}
    sizes: set[str] = set()
    for key in sorted(set(age) | {tuple(k.split("/", 1)) for k in plan.get("signals", {})}):
        region, name = key
        parts = parse_instance_type(name)
        if not parts:
            continue
        weeks = age.get(key)
        colour, label = NEVER_COLOUR, "never measured"
        if weeks is not None:
            colour, label = next((c, f"{weeks:g} weeks") for limit, c, _ in FRESH_COLOURS if weeks < limit)
        mark = "●" if key in chosen else ""
        grid.setdefault((region, parts["family"]), {})[parts["size"]] = (colour, f"{name}: {label}" + (
            "; measured this week" if mark else ""), mark)
        sizes.add(parts["size"])
    if not grid:
        return ""
    order = sorted(sizes, key=size_rank)
    legend = " ".join(f'<span style="background:{c}">&nbsp;&nbsp;&nbsp;</span> {html.escape(t)}'
                      for _, c, t in FRESH_COLOURS) + f' <span style="background:{NEVER_COLOUR}">&nbsp;&nbsp;&nbsp;' \
        "</span> never · ● chosen this week"
    body = []
    for (region, family), cells in sorted(grid.items()):
        tds = "".join(
            f'<td class="cell" style="background:{cells[size][0]}" title="{html.escape(cells[size][1])}">'
            f"{cells[size][2]}</td>" if size in cells else "<td></td>" for size in order)
        body.append(f'<tr><td class="text">{html.escape(region)}/{html.escape(family)}</td>{tds}</tr>')
    head = "".join(f"<th>{html.escape(size)}</th>" for size in order)
    return (f'<p class="note">{legend}</p><div class="wide"><table class="freshness-map"><tr><th>family</th>{head}'
            f'</tr>{"".join(body)}</table></div>')


def render_week(plan: dict[str, Any], freshness: list[dict[str, Any]], spent: list[dict[str, Any]], *,
                generated_at: str) -> str:
    """The week's plan as a page: the budget, what is measured and why, the next 20 left and why, the family x
    size freshness map, and the plan against what the week's runs spent."""
    budget = plan["budget"]
    if budget["weekly_usd"] is None:
        money = f"No weekly budget: every requested type, ${_fmt(budget['planned_usd'])} planned."
    else:
        money = (f"Budget ${_fmt(budget['week_usd'])}: ${_fmt(budget['weekly_usd'])} a week and "
                 f"${_fmt(budget['carried_usd'])} carried from last week. Planned ${_fmt(budget['planned_usd'])}.")
    done = [s for s in spent if s["actual_usd"] is not None]
    if done:
        money += f" Spent ${_fmt(sum(s['actual_usd'] for s in done), 2)} by {len(done)} of {len(spent)} run(s)."
    chosen = ["<tr>" + "".join([
        _cell(f"{o['region']}/{o['instance_type']}", css="text"), _cell(o["hosts"]), _cell(o["market"], css="text"),
        _cell(o["cost_usd"], text=_fmt(o["cost_usd"], 3)), _cell(o["value_per_usd"], text=_fmt(o["value_per_usd"], 0)),
        _cell("; ".join(o["reasons"]), css="text")]) + "</tr>"
        for o in sorted(plan["chosen"], key=lambda o: (not o["forced"], -(o["value_per_usd"] or 0)))]
    left = ["<tr>" + "".join([_cell(f"{e['region']}/{e['instance_type']}", css="text"),
                              _cell(e["best"]["cost_usd"] if e["best"] else None,
                                    text=_fmt(e["best"]["cost_usd"] if e["best"] else None, 3)),
                              _cell("; ".join(e["best"]["reasons"]) if e["best"] else "", css="text"),
                              _cell(e["reason"], css="text")]) + "</tr>"
            for e in plan["not_chosen"][:20]]
    runs = ["<tr>" + "".join([_cell(s["run_id"], css="text"), _cell(s["types"]),
                              _cell(s["planned_usd"], text=_fmt(s["planned_usd"], 3)),
                              _cell(s["actual_usd"], text=_fmt(s["actual_usd"], 3) if s["actual_usd"] is not None
                                    else "not run yet"),
                              _cell(s["documents"]), _cell(s["quarantined"]), _cell(s["skipped"])]) + "</tr>"
            for s in spent]
    week = html.escape(plan["week"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The week of {week}</title>
<style>{STYLE} .freshness-map td.cell {{ min-width: 1.2em; text-align: center; }}</style></head><body>
<h1>The weekly plan: the week of {week}</h1>
<p class="meta">Planned {html.escape(plan.get("made_at") or "")} · page generated {html.escape(generated_at)} ·
<a href="../api/plans/{week}">JSON</a> · how the value is reckoned: docs/catalog.md, "The week's plan"</p>
<p class="budget">{html.escape(money)}</p>
<h2>Measured this week ({len(plan["chosen"])} types)</h2>
<div class="wide">{_table(("type", "hosts", "market", "$", "value per $", "why"), chosen, filterable=True)}</div>
<h2>The next {len(left)} not chosen, and why</h2>
{_table(("type", "$ at best", "signals", "why not"), left) if left else "<p>Every type was chosen.</p>"}
<h2>Freshness by family and size</h2>
{_freshness_map(plan, freshness) or "<p>No type to map.</p>"}
<h2>The plan against what was spent</h2>
{_table(("run", "types", "planned $", "spent $", "documents", "quarantined", "skipped"), runs)
 if runs else "<p>Nothing to run this week.</p>"}
<h2>Every type: how fresh, and why (or why not) this week</h2>
{freshness_section(freshness)}
<script>{SORT_SCRIPT}{FILTER_SCRIPT}</script>
</body></html>
"""
