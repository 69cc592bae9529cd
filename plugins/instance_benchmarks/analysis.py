"""Statistics over stored documents: tidy rows, per-metric summaries with 95% CIs, the dataset.

Every figure here is computed from the raw samples in the documents; nothing is
carried over from the runner's convenience summaries.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from instance_benchmarks.results import ResultStore

CONFIDENCE = 0.95
GROUP_KEYS = ["instance_type", "family", "region", "benchmark", "metric", "placement", "threads", "unit"]


def t_interval(values: list[float], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """n, mean, median, std, cv and the t-distribution confidence interval of the mean.

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
    }


def document_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (benchmark, metric, placement, repetition) sample of a stored document."""
    prov = doc["provenance"]
    base = {
        "instance_type": prov["instance_type"],
        "family": prov["family"],
        "region": prov.get("region") or "local",
        "run_id": prov["run_id"],
        "document_id": doc["document_id"],
        "date": doc["started_at"][:10],
        "cpu_model": doc["system"]["cpu_model"],
    }
    rows = []
    for measurement in (doc.get("stream") or {}).get("measurements", []):
        for index, rep in enumerate(measurement["repetitions"]):
            for kernel, result in rep["kernels"].items():
                rows.append({**base, "benchmark": "stream", "metric": kernel,
                             "placement": measurement["placement"], "threads": measurement["threads"],
                             "repetition": index, "value": result["best_rate_mb_s"] / 1000.0, "unit": "GB/s"})
    hpl = doc.get("hpl") or {}
    for index, run in enumerate(hpl.get("runs", [])):
        rows.append({**base, "benchmark": "hpl", "metric": "gflops",
                     "placement": f"{run['p']}x{run['q']} ranks", "threads": hpl["mpi_ranks"],
                     "repetition": index, "value": run["gflops"], "unit": "GFLOPS"})
    return rows


def rows_frame(docs: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([row for doc in docs for row in document_rows(doc)])


def summarize(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """One summary per instance type, benchmark, metric and placement."""
    summaries = []
    for keys, group in rows.groupby(GROUP_KEYS, sort=True):
        summaries.append({**dict(zip(GROUP_KEYS, keys, strict=True)), **t_interval(group["value"].tolist())})
    return summaries


def rebuild_dataset(store: ResultStore) -> dict[str, Any]:
    """Rewrite dataset/v1/samples from every stored document, Hive-partitioned by region and family.

    Rebuilt whole from results/, so it is idempotent and a re-run never duplicates a row.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = rows_frame([doc for _, doc in store.stored_documents()])
    target = store.root / "dataset" / "v1" / "samples"
    if target.exists():
        target.rmdir(recursive=True)
    if frame.empty:
        return {"uri": target.as_uri(), "rows": 0}
    pq.write_to_dataset(
        pa.Table.from_pandas(frame, preserve_index=False),
        root_path=target.path,
        filesystem=target.fs,
        partition_cols=["region", "family"],
        existing_data_behavior="delete_matching",
    )
    return {"uri": target.as_uri(), "rows": len(frame)}
