"""Statistics over stored documents: the raw and summary tables, efficiency, prices, rankings, drift.

Every figure here is computed from the raw samples in the documents; nothing is carried
over from the runner's convenience summaries. The dataset (`dataset/v1/`, Parquet,
Hive-partitioned by region and family) is rebuilt whole from `results/` each time, so
re-running, clearing or backfilling never duplicates a row.

A summary groups samples by instance type *and* CPU model: the same type served by two
processors (m5 on Skylake and on Cascade Lake) is two populations, not one noisy one. It also
groups by configuration (CONFIGURATION_KEYS): a quick smoke test and a standard run, or HPL at two
sizes, are different measurements, so they never share a mean, an interval or a ranking.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from instance_benchmarks.results import ResultStore

CONFIDENCE = 0.95
# Iglewicz and Hoaglin: |modified z| > 3.5 is an outlier; 0.6745 makes the MAD consistent with
# sigma for normal data; 1.253314 does the same for the mean absolute deviation, used when the
# MAD is zero (more than half the samples identical), where the modified z is undefined.
OUTLIER_THRESHOLD = 3.5
MAD_CONSISTENCY = 0.6745
MEAN_AD_CONSISTENCY = 1.253314
# What was measured, then how: samples pool only within one configuration (issue 15). The profile (quick is a
# smoke test, standard the weekly refresh), the image digest, STREAM's store variant, and HPL's N, NB, grid (in
# placement) and BLAS. A column that does not apply to a row's benchmark is null there, and nulls group together.
CONFIGURATION_KEYS = ["profile", "image_digest", "stream_variant", "hpl_n", "hpl_nb", "blas", "blas_version",
                      "blas_kernel"]
# `source`: the project's own measurement or an accepted contribution (issue 32): never one figure together.
GROUP_KEYS = ["region", "family", "instance_family", "instance_type", "cpu_model", "benchmark", "metric",
              "placement", "threads", "unit", *CONFIGURATION_KEYS, "source"]
# Most thorough first: where a type was measured with both, its standard figures stand for it.
PROFILE_ORDER = {"standard": 0, "quick": 1}
PARTITIONS = ["region", "family"]
# The figures rankings, efficiency and drift are about: STREAM triad on all cores, and HPL.
HEADLINE = (("stream", "triad", "all-cores"), ("hpl", "gflops", None))
# The headline figures by the name a need is asked in (answers' recommend, the trends)
NEEDS = dict(zip(("triad", "hpl"), HEADLINE, strict=True))
DOCUMENT_COLUMNS = ["region", "family", "instance_type", "instance_family", "run_id", "document_id", "date",
                    "started_at", "cpu_model", "microcode", "physical_cores", "sockets", "sustained_ghz"]


def t_interval(values: list[float], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """n, mean, median, std, cv and the t-distribution confidence interval of the mean, of one sample.

    The readable definition of what `summarize` computes vectorised for every group at once; the
    tests hold the two equal.

    What one sample cannot tell (std, cv, the interval) is None, not a made-up number.
    """
    import numpy as np
    from scipy import stats

    data = np.asarray(values, dtype=float)
    n = int(data.size)
    if n == 0:
        raise ValueError("no samples")
    mean = float(data.mean())
    std = float(data.std(ddof=1)) if n > 1 else None
    low = high = None
    if std:
        low, high = (float(v) for v in stats.t.interval(confidence, df=n - 1, loc=mean,
                                                        scale=std / math.sqrt(n)))
    elif std == 0.0:  # identical samples: the interval collapses onto the mean
        low = high = mean
    return {
        "n": n,
        "mean": mean,
        "median": float(np.median(data)),
        "std": std,
        "cv": std / mean if std is not None and mean else None,
        "ci95_low": low,
        "ci95_high": high,
        "min": float(data.min()),
        "max": float(data.max()),
        "outliers": int(outlier_mask(data).sum()),
    }


def outlier_mask(values: Any) -> Any:
    """Modified z-score outliers (|z| > 3.5) of one sample, as a boolean array."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    deviation = np.abs(data - np.median(data))
    mad = np.median(deviation)
    if mad > 0:
        return MAD_CONSISTENCY * deviation / mad > OUTLIER_THRESHOLD
    mean_ad = deviation.mean()
    if mean_ad == 0:
        return np.zeros(data.shape, dtype=bool)
    return deviation / (MEAN_AD_CONSISTENCY * mean_ad) > OUTLIER_THRESHOLD


def document_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (benchmark, metric, placement, repetition) sample of a stored document."""
    prov, system = doc["provenance"], doc["system"]
    spec = (prov.get("plan") or {}).get("spec") or {}
    base = {
        "region": prov.get("region") or "local",
        "family": prov["family"],
        "instance_type": prov["instance_type"],
        "instance_family": spec.get("instance_family") or prov["instance_type"].split(".", 1)[0],
        "run_id": prov["run_id"],
        "document_id": doc["document_id"],
        "date": doc["started_at"][:10],
        "started_at": doc["started_at"],
        "cpu_model": system["cpu_model"],
        "microcode": system.get("microcode"),
        "ami_id": doc["host"].get("ami_id"),  # the image the host booted (EC2), what a newer AMI is told by
        "market": prov.get("market"),  # on-demand or spot (EC2): the weekly plan's spot record
        "physical_cores": system["physical_cores"],
        "sockets": system.get("sockets") or 1,
        "sustained_ghz": spec.get("sustained_clock_ghz"),
        # What ran: the runner image (None when the benchmarks ran bare on the host).
        "image": doc["host"].get("container_image"),
        "image_digest": doc["host"].get("container_digest"),
        "profile": (prov.get("plan") or {}).get("profile"),
        "hpl_clock_ghz": None,
        # Where the figure came from: the project's run, or a contributor's accepted submission (issue 32)
        "source": prov.get("source") or "project",
        "contributor": prov.get("contributor"),
        "submission_id": prov.get("submission_id"),
    }
    none = dict.fromkeys(CONFIGURATION_KEYS[2:])  # the benchmark-specific keys, null unless set below
    rows = []
    stream = doc.get("stream") or {}
    stream_variant = (stream.get("binary") or {}).get("variant")
    for measurement in stream.get("measurements", []):
        numa = measurement.get("numa") or {}
        for index, rep in enumerate(measurement["repetitions"]):
            for kernel, result in rep["kernels"].items():
                rows.append({**base, **none, "stream_variant": stream_variant, "benchmark": "stream", "metric": kernel,
                             "placement": measurement["placement"], "threads": measurement["threads"],
                             "cpu_node": numa.get("cpu_node"), "memory_node": numa.get("memory_node"),
                             "repetition": index, "value": result["best_rate_mb_s"] / 1000.0, "unit": "GB/s"})
    hpl = doc.get("hpl") or {}
    # The BLAS kernel the library chose on this CPU, and whether it uses the CPU's widest vectors.
    blas = (hpl.get("binary") or {}).get("blas") or {}
    blas_columns = {"blas": blas.get("name"), "blas_version": blas.get("version"), "blas_kernel": blas.get("kernel"),
                    "blas_matches_cpu": blas.get("matches_cpu"),
                    # False: the time budget or memory stopped N short of the fitted asymptote (issue 15); None
                    # where not judged, or where the fit came out above the peak (asymptote_above_peak)
                    "hpl_near_asymptote": None if asymptote_above_peak(doc) else
                    (hpl.get("asymptote") or {}).get("near_asymptote"),
                    # the clock counted under vector load during HPL (src/clockloop.c): the second FLOPS peak's
                    "hpl_clock_ghz": _counted_ghz(hpl)}
    # HPL on one core, one NUMA node and all cores (standard profile): one solve per scope, a row each; the all-cores
    # point is the median of the solves above. Its own benchmark, so it never stands for the type's HPL figure.
    for point in (hpl.get("scaling") or {}).get("points", []):
        if point.get("gflops") and point.get("passed", True):
            rows.append({**base, **none, **blas_columns, "hpl_n": point["n"], "hpl_nb": hpl.get("nb"),
                         "benchmark": "hpl_scaling", "metric": "gflops", "placement": point["scope"],
                         "threads": point["cores"], "cpu_node": None, "memory_node": None, "repetition": 0,
                         "value": point["gflops"], "unit": "GFLOPS"})
    for index, run in enumerate(hpl.get("runs", [])):
        rows.append({**base, **none, **blas_columns, "hpl_n": run["n"], "hpl_nb": run["nb"],
                     "benchmark": "hpl", "metric": "gflops",
                     "placement": f"{run['p']}x{run['q']} ranks", "threads": hpl["mpi_ranks"],
                     "cpu_node": None, "memory_node": None,
                     "repetition": index, "value": run["gflops"], "unit": "GFLOPS"})
    return rows


def asymptote_above_peak(doc: dict[str, Any]) -> str | None:
    """Why a document's fitted HPL asymptote cannot be one, or None: it is above the host's FP64 peak at the clock
    counted during HPL (or at the sustained clock where none was counted). A fit from too few or too close sizes
    does that (a probe-only fit here once gave 183.5 GFLOPS against a 166 peak); the document keeps the fit, the
    dataset does not judge N against it."""
    from instance_benchmarks.peaks import peaks

    hpl, system = doc.get("hpl") or {}, doc["system"]
    fitted = (hpl.get("asymptote") or {}).get("asymptote_gflops")
    if not fitted:
        return None
    spec = ((doc.get("provenance") or {}).get("plan") or {}).get("spec") or {}
    p = peaks(cpu_model=system["cpu_model"], physical_cores=system["physical_cores"],
              sockets=system.get("sockets") or 1, sustained_ghz=spec.get("sustained_clock_ghz"),
              measured_ghz=_counted_ghz(hpl))
    bound = p["peak_gflops_measured_clock"] or p["peak_gflops"]
    if bound and fitted > bound:
        return (f"the fitted asymptote {fitted:.1f} GFLOPS is above the {bound:.1f} GFLOPS peak at "
                f"{'the counted' if p['peak_gflops_measured_clock'] else 'the sustained'} clock: not an asymptote")
    return None


def _counted_ghz(hpl: dict[str, Any]) -> float | None:
    """The clock counted under vector load during HPL's solves (their own phase: not the probes' or the one-core
    scaling solve's turbo), or over the whole stage in a document from before the phases were read."""
    calibrated = (hpl.get("core_clock") or {}).get("calibrated") or {}
    solves = (calibrated.get("phases") or {}).get("solves") or {}
    mhz = solves if solves.get("median_mhz") else ((calibrated.get("during") or {}).get("vector") or {})
    return mhz["median_mhz"] / 1000 if mhz.get("median_mhz") else None


RAW_SORT = ["region", "family", "instance_type", "started_at", "document_id", "benchmark", "metric", "placement",
            "repetition"]


def rows_frame(docs: list[dict[str, Any]]) -> pd.DataFrame:
    """The raw table: one row per sample, in a deterministic order. A test-profile document (plumbing checks, small
    arrays) has no row: its numbers are never a figure, in the dataset, the report, the API or CloudWatch."""
    import pandas as pd

    from instance_benchmarks.results import is_test_profile

    frame = pd.DataFrame([row for doc in docs if not is_test_profile(doc) for row in document_rows(doc)])
    if frame.empty:
        return frame
    frame = frame.astype({"cpu_node": "Int64", "memory_node": "Int64", "sustained_ghz": "float64",
                          "hpl_clock_ghz": "float64", "hpl_n": "Int64", "hpl_nb": "Int64"})
    return frame.sort_values(RAW_SORT, kind="stable").reset_index(drop=True)


def summarize(rows: pd.DataFrame, prices: dict[str, dict[str, Any]] | None = None) -> pd.DataFrame:
    """The summary table: one row per GROUP_KEYS, vectorised (a million samples take seconds).

    `prices`: {run_id: price snapshot}; a group is priced from its latest run's snapshot.
    """
    import numpy as np
    import pandas as pd
    from scipy import stats

    from instance_benchmarks.peaks import peaks

    # Tables built before configurations were recorded (and hand-made ones) lack those columns: null, one group;
    # before sources were, every row was the project's.
    rows = rows.assign(**{key: None for key in CONFIGURATION_KEYS if key not in rows},
                       **({} if "source" in rows else {"source": "project"}))
    # Group once on the keys; everything after groups on the integer id (ten times faster).
    group = rows.groupby(GROUP_KEYS, sort=True, dropna=False).ngroup().to_numpy()
    # A host is one document: one instance, or this machine in one run.
    host = rows["document_id"] if "document_id" in rows else rows["run_id"]
    frame = pd.DataFrame({"g": group, "value": rows["value"].to_numpy(), "started_at": rows["started_at"].to_numpy(),
                          "run_id": rows["run_id"].to_numpy(), "host": host.to_numpy()})
    by = frame.groupby("g", sort=True)
    summary = by["value"].agg(n="count", mean="mean", median="median", std="std", min="min", max="max")
    summary["cv"] = summary["std"] / summary["mean"]
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, summary["n"] - 1) * summary["std"] / np.sqrt(summary["n"])
    summary["ci95_low"] = summary["mean"] - half
    summary["ci95_high"] = summary["mean"] + half
    _across_hosts(summary, frame)

    # Outliers: |modified z| > 3.5 within each group (mean absolute deviation where the MAD is 0).
    frame["deviation"] = (frame["value"] - summary["median"].to_numpy()[group]).abs()
    spread = frame.groupby("g", sort=True)["deviation"].agg(mad="median", mean_ad="mean")
    mad, mean_ad = spread["mad"].to_numpy()[group], spread["mean_ad"].to_numpy()[group]
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(mad > 0, MAD_CONSISTENCY * frame["deviation"] / mad,
                         frame["deviation"] / (MEAN_AD_CONSISTENCY * mean_ad))
    frame["outlier"] = np.nan_to_num(score, nan=0.0) > OUTLIER_THRESHOLD
    summary["outliers"] = frame.groupby("g", sort=True)["outlier"].sum().astype(int)

    summary["first_seen"] = by["started_at"].min()
    summary["last_seen"] = by["started_at"].max()
    summary["runs"] = by["run_id"].nunique()
    # The latest sample of each group stands for its document-level facts (cores, clock, run).
    latest_row = frame.sort_values(["g", "started_at"], kind="stable").drop_duplicates("g", keep="last").index
    latest = rows.iloc[latest_row.to_numpy()].reset_index(drop=True)
    summary["latest_run_id"] = latest["run_id"].to_numpy()
    for column in ("image", "blas_matches_cpu", "hpl_near_asymptote", "ami_id", "microcode"):
        summary[column] = latest[column].to_numpy() if column in latest else None
    if "contributor" in rows and rows["contributor"].notna().any():  # a contributed figure: who, how many submissions
        contributed = pd.DataFrame({"g": group, "contributor": rows["contributor"].to_numpy(),
                                    "submission_id": rows["submission_id"].to_numpy()}).groupby("g", sort=True)
        summary["contributors"] = contributed["contributor"].agg(_names).to_numpy()
        summary["submissions"] = contributed["submission_id"].nunique().to_numpy()
    else:  # the project's own figures (the per-group names would cost a Python call per group for nothing)
        summary["contributors"], summary["submissions"] = None, 0
    summary = pd.concat([latest[GROUP_KEYS], summary.reset_index(drop=True)], axis=1)
    summary["configuration"] = [configuration_label(row) for row in summary[["benchmark", "placement",
                                                                             *CONFIGURATION_KEYS]].to_dict("records")]

    peak_cache: dict[tuple, dict[str, Any]] = {}
    efficiency, peak, notes, processor, on_demand, spot, share = [], [], [], [], [], [], []
    counted, peak_counted, efficiency_counted = [], [], []
    if "hpl_clock_ghz" not in latest:  # tables from before the clock was counted
        latest = latest.assign(hpl_clock_ghz=np.nan)
    for row, doc in zip(summary.itertuples(index=False), latest.itertuples(index=False), strict=True):
        clock = None if pd.isna(doc.hpl_clock_ghz) else float(doc.hpl_clock_ghz)
        key = (row.cpu_model, doc.physical_cores, doc.sockets, doc.sustained_ghz, clock)
        if key not in peak_cache:
            peak_cache[key] = peaks(cpu_model=row.cpu_model, physical_cores=int(doc.physical_cores),
                                    sockets=int(doc.sockets),
                                    sustained_ghz=None if np.isnan(doc.sustained_ghz) else float(doc.sustained_ghz),
                                    measured_ghz=clock)
        p = peak_cache[key]
        processor.append(p["processor"])
        value, note = _peak_for(row.benchmark, row.placement, p)
        share.append(p["socket_share"] if row.benchmark == "stream" and value else None)
        peak.append(value)
        efficiency.append(row.mean / value if value else None)
        notes.append(note)
        at_clock = p["peak_gflops_measured_clock"] if row.benchmark == "hpl" else None
        counted.append(clock if row.benchmark == "hpl" else None)
        peak_counted.append(at_clock)
        efficiency_counted.append(row.mean / at_clock if at_clock else None)
        price = ((prices or {}).get(row.latest_run_id) or {}).get("prices", {}).get(row.instance_type) or {}
        on_demand.append(price.get("on_demand"))
        spot.append(price.get("spot"))
    summary["processor"] = processor
    summary["peak"] = peak
    summary["efficiency"] = efficiency
    summary["efficiency_note"] = notes
    summary["socket_share"] = share  # STREAM: the instance's share of the cores whose sockets' peak it is against
    # HPL's second denominator: the same cores and FLOPs per cycle at the clock counted under vector load during HPL
    summary["measured_clock_ghz"] = counted
    summary["peak_at_measured_clock"] = peak_counted
    summary["efficiency_at_measured_clock"] = efficiency_counted
    summary["price_per_hour_on_demand"] = on_demand
    summary["price_per_hour_spot"] = spot
    summary["value_per_dollar_on_demand"] = summary["mean"] / summary["price_per_hour_on_demand"].astype(float)
    summary["value_per_dollar_spot"] = summary["mean"] / summary["price_per_hour_spot"].astype(float)
    return summary


def _names(values: pd.Series) -> str | None:
    """The distinct names in a group, sorted and comma-separated (None where there is none)."""
    names = sorted({str(v) for v in values if isinstance(v, str) and v})
    return ", ".join(names) or None


def _across_hosts(summary: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Where a group's samples come from two hosts or more, its mean and interval are the hosts': the t-interval
    of the per-host means (n = hosts), so host-to-host variance is in it; repetitions on one host are not
    independent hosts. The within-host spread (pooled standard deviation of the repetitions) stays beside it.
    With one host, the interval is that host's repetitions', and `interval` says so."""
    import numpy as np
    from scipy import stats

    per_host = frame.groupby(["g", "host"], sort=True)["value"].agg(["mean", "var", "count"])
    by_group = per_host.groupby(level="g", sort=True)
    hosts = by_group.size()
    host_mean, host_std = by_group["mean"].mean(), by_group["mean"].std()
    dof = (per_host["count"] - 1).groupby(level="g").sum()
    pooled = ((per_host["count"] - 1) * per_host["var"].fillna(0)).groupby(level="g").sum()
    summary["hosts"] = hosts.astype(int)
    summary["host_std"] = host_std
    with np.errstate(divide="ignore", invalid="ignore"):
        summary["within_host_std"] = np.sqrt(pooled / dof.where(dof > 0))
    across = hosts >= 2
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, hosts - 1) * host_std / np.sqrt(hosts)
    summary["mean"] = summary["mean"].where(~across, host_mean)
    summary["ci95_low"] = summary["ci95_low"].where(~across, host_mean - half)
    summary["ci95_high"] = summary["ci95_high"].where(~across, host_mean + half)
    summary["interval"] = np.where(across, "across " + hosts.astype(str) + " hosts",
                                   "within one host (its repetitions; host-to-host variance not in it)")


def configuration_label(row: dict[str, Any]) -> str:
    """How a figure was measured, in one line: 'standard · N=24832 NB=256 1x2 ranks · OpenBLAS 0.3.21 (Haswell) ·
    bare host'. `row`: a summary or raw row (benchmark, placement and CONFIGURATION_KEYS)."""
    import pandas as pd

    def known(key: str) -> Any:
        value = row.get(key)
        return None if value is None or pd.isna(value) else value

    parts = [known("profile") or "profile unrecorded"]
    if row["benchmark"] == "hpl":
        parts.append(f"N={known('hpl_n')} NB={known('hpl_nb')} {row['placement']}")
        blas = " ".join(str(v) for v in (known("blas"), known("blas_version")) if v) or "BLAS unrecorded"
        parts.append(blas + (f" ({known('blas_kernel')})" if known("blas_kernel") else ""))
    else:
        parts.append(f"{known('stream_variant') or 'unrecorded'} stores")
    digest = known("image_digest")
    parts.append(f"image {digest.split(':')[-1][:12]}" if digest else "bare host")
    return " · ".join(parts)


def current(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per type and figure, the one that stands for it in rankings and answers: the most thorough
    profile it was measured with (standard over quick), and of that the latest configuration.

    HPL is one figure whatever its grid (the grid is part of its configuration); STREAM's placements
    are separate figures.
    """
    if summary.empty:
        return summary
    figure = summary["placement"].where(summary["benchmark"] != "hpl", "")
    profile = summary["profile"] if "profile" in summary else summary["benchmark"].map(lambda _: None)
    order = profile.map(PROFILE_ORDER).fillna(len(PROFILE_ORDER))
    ranked = summary.assign(_figure=figure, _order=order).sort_values(["_order", "last_seen"],
                                                                      ascending=[True, False], kind="stable")
    # A contributed figure never stands for the project's: each source has its own current row
    keys = ["region", "instance_type", "cpu_model", "benchmark", "metric", "_figure",
            *(["source"] if "source" in summary else [])]
    return ranked.drop_duplicates(keys, keep="first").drop(columns=["_figure", "_order"]).sort_index()


def with_source(summary: pd.DataFrame) -> pd.DataFrame:
    """A summary with its `source` column (a table written before sources were recorded is the project's alone)."""
    return summary if "source" in summary else summary.assign(source="project")


def _peak_for(benchmark: str, placement: str, p: dict[str, Any]) -> tuple[float | None, str | None]:
    if benchmark == "hpl":
        return p["peak_gflops"], p["peak_gflops_note"]
    if placement != "all-cores":
        return None, "efficiency is against the whole host's peak: all-cores STREAM and HPL only"
    return p["peak_gb_s"], p["peak_gb_s_note"]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN and NA become None (JSON has no NaN)."""
    import numpy as np

    clean = frame.astype(object).where(frame.notna(), None)
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in clean.to_dict("records")]


def headline(summary: pd.DataFrame) -> pd.DataFrame:
    """The headline rows (of a summary, or raw rows: they carry the same columns) with a `need` column: which
    figure each is (triad, hpl), as answers and trends name them."""
    import numpy as np

    masks = [(summary.benchmark == b) & (summary.metric == m) & ((summary.placement == p) if p else True)
             for b, m, p in NEEDS.values()]
    need = np.select(masks, list(NEEDS), default="")
    return summary.assign(need=need)[need != ""]


def run_figures(rows: pd.DataFrame, index: list[str]) -> pd.DataFrame:
    """One figure per `index` (a run and a headline, say), as summarize makes a group's: where its samples come
    from two hosts or more, the per-host means' (n = hosts, mean, std), else its one host's repetitions'. One
    weekly run holds both hosts' samples, and its repetitions are not independent hosts (issue 29).
    Columns: n, mean, std, hosts, ci95_low, ci95_high."""
    import numpy as np
    from scipy import stats

    host = rows["document_id"] if "document_id" in rows else rows["run_id"]
    rows = rows.assign(_host=host.to_numpy())
    within = rows.groupby(index, sort=False, dropna=False)["value"].agg(n="count", mean="mean", std="std")
    per_host = rows.groupby([*index, "_host"], sort=False, dropna=False)["value"].mean()
    by_run = per_host.groupby(level=list(range(len(index))), sort=False, dropna=False)
    across = by_run.agg(["size", "mean", "std"]).reindex(within.index)
    several = across["size"] >= 2
    figures = within.assign(hosts=across["size"].astype(int),
                            n=within["n"].where(~several, across["size"]),
                            mean=within["mean"].where(~several, across["mean"]),
                            std=within["std"].where(~several, across["std"]))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, figures["n"] - 1) * figures["std"] / np.sqrt(figures["n"])
    return figures.assign(ci95_low=figures["mean"] - half, ci95_high=figures["mean"] + half)


def trends(rows: pd.DataFrame) -> pd.DataFrame:
    """Per type, headline figure and run: date, n, mean and 95% interval (the drift data over time); a run of
    two hosts or more is its hosts' figure (n = hosts), as the summary's is."""
    keep = headline(rows)
    if keep.empty:
        return keep
    index = ["region", "instance_type", "need", "run_id", "unit"]
    figures = run_figures(keep, index)
    started = keep.groupby(index, sort=False, dropna=False)["started_at"].min()
    runs = figures.assign(started_at=started.reindex(figures.index))[
        ["started_at", "n", "hosts", "mean", "std", "ci95_low", "ci95_high"]].reset_index()
    return runs.sort_values(["region", "instance_type", "need", "started_at"], kind="stable").reset_index(drop=True)


def blas_fallback(benchmark: str, blas_matches_cpu: Any) -> bool:
    """An HPL figure whose BLAS ran kernels narrower than the CPU's vector units (blas.judge): the library's
    fallback was measured, not the type's; marked wherever the figure is shown, never called surely better."""
    return benchmark == "hpl" and _flag(blas_matches_cpu) is False


def _flag(value: Any) -> bool | None:
    """A yes/no column's cell as JSON: None where it was not judged (NaN, NA or None)."""
    import pandas as pd

    return None if pd.isna(value) else bool(value)


def rankings(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Per region, profile and headline metric: by performance, and by performance per on-demand dollar.

    Each type enters once, with its `current` configuration; a quick smoke test is never ranked
    against a standard run (their tables are separate and the quick one says it is a smoke test).
    """
    result = []
    figures = headline(current(summary))
    figures = figures.assign(profile=figures["profile"].fillna("profile unrecorded"))
    groups = sorted(figures.groupby(["region", "profile", "benchmark", "metric"]),
                    key=lambda item: (item[0][0], PROFILE_ORDER.get(item[0][1], len(PROFILE_ORDER)), *item[0][2:]))
    for (region, profile, benchmark, metric), group in groups:
        for by, column in (("performance", "mean"), ("per dollar", "value_per_dollar_on_demand")):
            ranked = group.dropna(subset=[column]).sort_values([column, "instance_type"], ascending=[False, True])
            if ranked.empty:
                continue
            result.append({
                "region": region, "profile": profile, "smoke_test": profile == "quick",
                "benchmark": benchmark, "metric": metric, "by": by,
                "unit": ranked["unit"].iloc[0] + (" per $/h" if by == "per dollar" else ""),
                "entries": [{"rank": i + 1, "instance_type": r.instance_type, "cpu_model": r.cpu_model,
                             "value": float(getattr(r, column)), "mean": float(r.mean), "n": int(r.n),
                             "configuration": r.configuration,
                             "near_asymptote": _flag(getattr(r, "hpl_near_asymptote", None)),
                             "blas_fallback": blas_fallback(benchmark, getattr(r, "blas_matches_cpu", None)),
                             "ci95_low": None if math.isnan(r.ci95_low) else float(r.ci95_low),
                             "ci95_high": None if math.isnan(r.ci95_high) else float(r.ci95_high)}
                            for i, r in enumerate(ranked.itertuples(index=False))],
            })
    return result


def drift(rows: pd.DataFrame, prices: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Each instance type's latest run against its previous one of the same profile: what changed, and whether
    it matters.

    Flags a changed CPU model or microcode, a changed on-demand price, a headline figure whose
    95% intervals no longer overlap (a change the noise cannot explain), and a headline figure
    measured in another configuration (HPL at another N, another image or BLAS, ...), whose
    intervals are then not compared: the configurations differ, not necessarily the host.
    Vectorised: the per-run statistics of every type come from one groupby.
    """
    import numpy as np

    rows = rows.assign(profile=rows["profile"].fillna("profile unrecorded") if "profile" in rows
                       else "profile unrecorded")
    series = ["region", "instance_type", "profile"]
    runs = (rows.groupby([*series, "run_id"], sort=False)
            .agg(started_at=("started_at", "min"), cpu_model=("cpu_model", _distinct),
                 microcode=("microcode", _distinct))
            .reset_index().sort_values([*series, "started_at", "run_id"], kind="stable"))
    runs["order"] = runs.groupby(series).cumcount(ascending=False)  # 0: latest
    pairs = runs[runs["order"] <= 1]
    pairs = pairs[pairs.groupby(series)["run_id"].transform("size") == 2]
    if pairs.empty:
        return []
    keep = rows.merge(pairs[[*series, "run_id", "order"]], on=[*series, "run_id"])
    masks = [(keep.benchmark == b) & (keep.metric == m) & ((keep.placement == p) if p else True)
             for b, m, p in HEADLINE]
    keep = keep.assign(headline=np.select(masks, [f"{b} {m}" for b, m, _ in HEADLINE], default=""))
    keep = keep[keep.headline != ""]
    index = [*series, "headline", "order"]
    # A run of two hosts is its hosts' figure (n = hosts), as in the summary: not their repetitions pooled.
    figures = run_figures(keep, index).rename(columns={"ci95_low": "low", "ci95_high": "high"})
    stats_of = figures[["mean", "low", "high"]].to_dict("index")  # (region, type, profile, headline, order) -> figures
    # A document runs each benchmark one way; a run's hosts may not have (another N, another image): every
    # configuration its hosts ran is named, so a run is compared only with a run measured the same ways.
    labelled = keep.assign(**{key: None for key in CONFIGURATION_KEYS if key not in keep})
    labelled = labelled.assign(configuration=[configuration_label(r) for r in labelled.to_dict("records")])
    configuration_of = {key: " | ".join(sorted(set(group))) for key, group in
                        labelled.groupby(index, sort=False)["configuration"]}
    pair_of: dict[tuple[str, str, str], dict[int, dict[str, Any]]] = {}
    for run in pairs.to_dict("records"):
        pair_of.setdefault((run["region"], run["instance_type"], run["profile"]), {})[run["order"]] = run

    found = []
    for (region, instance_type, profile), pair in sorted(pair_of.items()):
        before, after = pair[1], pair[0]
        flags = [{"kind": label, "before": before[column], "after": after[column]}
                 for column, label in (("cpu_model", "CPU model"), ("microcode", "microcode"))
                 if before[column] != after[column]]
        old_price = _price(prices, before["run_id"], instance_type)
        new_price = _price(prices, after["run_id"], instance_type)
        if old_price is not None and new_price is not None and old_price != new_price:
            flags.append({"kind": "on-demand price", "before": old_price, "after": new_price})
        for benchmark, metric, _ in HEADLINE:
            name = f"{benchmark} {metric}"
            old = stats_of.get((region, instance_type, profile, name, 1))
            new = stats_of.get((region, instance_type, profile, name, 0))
            was = configuration_of.get((region, instance_type, profile, name, 1))
            now = configuration_of.get((region, instance_type, profile, name, 0))
            if was is not None and now is not None and was != now:
                flags.append({"kind": f"{name} configuration", "before": was, "after": now,
                              "detail": "measured another way: the figures are not compared"})
                continue
            if old is None or new is None or np.isnan(old["low"]) or np.isnan(new["low"]):
                continue
            if old["high"] < new["low"] or new["high"] < old["low"]:
                flags.append({"kind": f"{benchmark} {metric}", "before": float(old["mean"]),
                              "after": float(new["mean"]), "change": float(new["mean"] / old["mean"] - 1),
                              "detail": f"95% CIs [{old['low']:.2f}, {old['high']:.2f}] and "
                                        f"[{new['low']:.2f}, {new['high']:.2f}] do not overlap"})
        found.append({"region": region, "instance_type": instance_type, "profile": profile,
                      "previous": {"run_id": before["run_id"], "started_at": before["started_at"]},
                      "latest": {"run_id": after["run_id"], "started_at": after["started_at"]}, "flags": flags})
    return found


def _distinct(values: pd.Series) -> str | None:
    """A run's value of a host fact (CPU model, microcode): its hosts' distinct values, not whichever came first."""
    found = sorted({str(v) for v in values.dropna()})
    return " | ".join(found) if found else None


def _price(prices: dict[str, dict[str, Any]] | None, run_id: str, instance_type: str) -> float | None:
    return (((prices or {}).get(run_id) or {}).get("prices", {}).get(instance_type) or {}).get("on_demand")


def write_table(frame: pd.DataFrame, target: Any) -> None:
    """Replace the Parquet table at `target` (an ObjectStoragePath), Hive-partitioned by region and family."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if target.exists():
        target.rmdir(recursive=True)
    if frame.empty:
        return
    pq.write_to_dataset(
        pa.Table.from_pandas(frame, preserve_index=False),
        root_path=target.path,
        filesystem=target.fs,
        partition_cols=PARTITIONS,
        existing_data_behavior="delete_matching",
        basename_template="part-{i}.parquet",
    )


# The dataset is rebuilt into a new version and then switched to by rewriting one small pointer object,
# so a reader (the /benchmarks app, results_analysis, DuckDB, Athena) never sees a table half written
# or half deleted, even with two rebuilds at once (each writes its own version; the last switch wins).
DATASET_POINTER = "CURRENT.json"
# A version is deleted only once it is neither current nor the one before, and older than this: a
# reader that read the previous pointer has that long to finish.
KEEP_OLD_VERSIONS_S = 3600


def dataset_root(store: ResultStore) -> Any:
    return store.root / "dataset" / "v1"


def current_dataset(store: ResultStore) -> Any | None:
    """The dataset version the pointer names (its raw/ and summary/ tables), or None before any rebuild."""
    pointer = dataset_root(store) / DATASET_POINTER
    if not pointer.exists():
        return None
    return dataset_root(store) / "versions" / json.loads(pointer.read_text())["version"]


def read_current(store: ResultStore, name: str, expression: Any = None) -> pd.DataFrame:
    """One table of the current dataset version (`raw` or `summary`), filtered in Arrow by `expression` (a
    pyarrow.dataset expression); empty before any rebuild."""
    import pandas as pd

    dataset = current_arrow(store, name)
    return pd.DataFrame() if dataset is None else dataset.to_table(filter=expression).to_pandas()


def current_arrow(store: ResultStore, name: str) -> Any:
    """One table of the current dataset version as a pyarrow dataset (read it with a filter), None before any
    rebuild."""
    import pyarrow.dataset as ds

    version = current_dataset(store)  # the pointer: never a table half rebuilt
    path = version / name if version is not None else None
    if path is None or not path.exists():
        return None
    return ds.dataset(path.path, filesystem=path.fs, format="parquet", partitioning="hive")


def _write_atomically(path: Any, text: str) -> None:
    """A local file is replaced by rename; an object store's PUT is atomic already (old or new, never part)."""
    if path.protocol in ("file", "local"):
        path.parent.mkdir(parents=True, exist_ok=True)  # an empty dataset writes no table before its pointer
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(text)
        os.replace(tmp.path, path.path)
    else:
        path.write_text(text)


def _prune(root: Any, *, keep: set[str]) -> None:
    """Delete old versions (never `keep`, never a young one) and the unversioned layout before them."""
    now = datetime.datetime.now(datetime.UTC)
    versions = root / "versions"
    for version in (versions.iterdir() if versions.exists() else []):
        try:
            written = datetime.datetime.strptime(version.name.split("-", 1)[0], "%Y%m%dT%H%M%S%fZ").replace(
                tzinfo=datetime.UTC)
        except ValueError:
            continue  # not ours
        if version.name not in keep and (now - written).total_seconds() > KEEP_OLD_VERSIONS_S:
            version.rmdir(recursive=True)
    for legacy in ("raw", "summary"):  # dataset/v1/{raw,summary}, rebuilt in place before versions
        if (root / legacy).exists():
            (root / legacy).rmdir(recursive=True)


def rebuild(store: ResultStore) -> dict[str, Any]:
    """Write dataset/v1/versions/<new>/{raw,summary} from every stored document, switch the pointer to it,
    and return the summary and its analysis.

    What it read comes back too (`stored`: (uri, document) pairs, `prices`: the snapshots), so a
    caller that also wants one run's part reads nothing twice.
    """
    from instance_benchmarks.results import CONTRIBUTED_TREE, is_test_profile

    stored = store.stored_documents()
    docs = [doc for _, doc in stored if not is_test_profile(doc)]  # a test-profile document is never a figure
    prices = store.price_snapshots()
    rows = rows_frame(docs)
    root = dataset_root(store)
    summary = summarize(rows, prices) if not rows.empty else None
    # Accepted contributions: tables of their own, so every reader of raw/summary reads the project's figures
    # alone unless it asks for contributed ones too (api_reads.table's `contributed`)
    contributed_docs = [doc for _, doc in store.stored_documents(CONTRIBUTED_TREE) if not is_test_profile(doc)]
    contributed_rows = rows_frame(contributed_docs)
    contributed_summary = summarize(contributed_rows, contributed_prices(contributed_docs, docs, prices)) \
        if not contributed_rows.empty else None
    version = f"{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"
    target = root / "versions" / version
    write_table(rows, target / "raw")
    if summary is not None:
        write_table(summary, target / "summary")
    write_table(contributed_rows, target / "contributed_raw")
    if contributed_summary is not None:
        write_table(contributed_summary, target / "contributed_summary")
    counts = {"raw_rows": len(rows), "summary_rows": 0 if summary is None else len(summary),
              "contributed_raw_rows": len(contributed_rows),
              "contributed_summary_rows": 0 if contributed_summary is None else len(contributed_summary)}
    previous = current_dataset(store)
    _write_atomically(root / DATASET_POINTER, json.dumps({"version": version, **counts}) + "\n")
    _prune(root, keep={version} | ({previous.name} if previous is not None else set()))
    return {
        "dataset": {"uri": target.as_uri(), "pointer": (root / DATASET_POINTER).as_uri(), **counts},
        "summaries": [] if summary is None else records(summary),
        "rankings": [] if summary is None else rankings(summary),
        "drift": [] if rows.empty else drift(rows, prices),
        "numa": [] if rows.empty else numa_matrices(rows),
        "trends": [] if rows.empty else records(trends(rows)),
        "documents": docs,
        "stored": stored,
        "test_profile_documents": [uri for uri, doc in stored if is_test_profile(doc)],
        "prices": prices,
        "contributed_summaries": [] if contributed_summary is None else records(contributed_summary),
        "contributors": contributors(contributed_rows, rows),
    }


def contributed_prices(contributed: list[dict[str, Any]], project: list[dict[str, Any]],
                       prices: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{contributed run_id: price snapshot}: a contribution records no price, so it is priced as the project prices
    its type in its region now: by the snapshot of the latest project run (its latest document) that priced it."""
    latest_document: dict[str, str] = {}
    for doc in project:
        run_id = doc["provenance"]["run_id"]
        latest_document[run_id] = max(latest_document.get(run_id, ""), doc["started_at"])
    found = {}
    for doc in contributed:
        prov = doc["provenance"]
        pricing = [(latest_document.get(run_id, ""), run_id) for run_id, snapshot in prices.items()
                   if snapshot.get("region") == prov.get("region")
                   and (snapshot.get("prices") or {}).get(prov["instance_type"])]
        if pricing:
            found[prov["run_id"]] = prices[max(pricing)[1]]
    return found


def contributors(contributed_rows: pd.DataFrame, project_rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Who contributed: per contributor, how many accepted submissions, which types, and which of those the project
    had not measured itself (in that region), most submissions first."""
    if contributed_rows.empty:
        return []
    measured = set() if project_rows.empty else set(zip(project_rows.region, project_rows.instance_type, strict=True))
    found = []
    for name, mine in contributed_rows.groupby("contributor", sort=True):
        pairs = set(zip(mine.region, mine.instance_type, strict=True))
        found.append({"contributor": name, "accepted": int(mine.submission_id.nunique()),
                      "instance_types": sorted({t for _, t in pairs}),
                      "added": sorted({t for region, t in pairs if (region, t) not in measured}),
                      "last_contributed": str(mine.started_at.max())})
    return sorted(found, key=lambda c: (-c["accepted"], c["contributor"]))


def scaling_curves(summary: pd.DataFrame, share: float = 0.9) -> list[dict[str, Any]]:
    """Per type (its current configuration): STREAM triad by thread count, from one core to all, with the fewest
    threads that reach `share` of the all-core figure; and HPL per core by scope, over one core's (parallel
    efficiency). Only types measured at two points or more (the standard profile's scaling runs)."""
    shown = current(summary)
    curves = []
    for (region, instance_type), group in shown.groupby(["region", "instance_type"], sort=True):
        triad = group[(group.benchmark == "stream") & (group.metric == "triad")
                      & (group.placement.isin(["one-core", "all-cores"]) | group.placement.str.startswith("threads-"))]
        stream = sorted((int(r.threads), float(r["mean"])) for _, r in triad.iterrows())
        hpl = sorted((int(r.threads), float(r["mean"])) for _, r in group[group.benchmark == "hpl_scaling"].iterrows())
        if len(stream) < 2 and len(hpl) < 2:
            continue
        all_cores = triad[triad.placement == "all-cores"]["mean"]
        reach = (next(t for t, v in stream if v >= share * float(all_cores.iloc[0]))
                 if len(all_cores) and len(stream) >= 2 else None)
        one_core = hpl[0][1] if hpl and hpl[0][0] == 1 else None
        curves.append({
            "region": region, "instance_type": instance_type,
            "stream_triad": [{"threads": t, "gb_s": v} for t, v in stream],
            "stream_threads_to_share": reach, "share": share,
            "hpl": [{"cores": c, "gflops": v, "parallel_efficiency": v / c / one_core if one_core else None}
                    for c, v in hpl],
        })
    return curves


def numa_matrices(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Triad GB/s from CPUs on node i to memory on node j, per instance type (latest run), where measured."""
    numa = rows[(rows.benchmark == "stream") & (rows.metric == "triad") & rows.cpu_node.notna()]
    matrices = []
    for (region, instance_type), group in numa.groupby(["region", "instance_type"], sort=True):
        latest = group[group.run_id == group.sort_values("started_at").run_id.iloc[-1]]
        means = latest.groupby(["cpu_node", "memory_node"])["value"].mean()
        nodes = sorted({int(n) for pair in means.index for n in pair})
        matrix = [[float(means.get((i, j))) if (i, j) in means.index else None for j in nodes] for i in nodes]
        matrices.append({"region": region, "instance_type": instance_type, "nodes": nodes, "gb_s": matrix,
                         "run_id": latest.run_id.iloc[0]})
    return matrices
