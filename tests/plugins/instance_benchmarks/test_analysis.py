"""Statistics: t intervals against hand-computed values, rows from a real document, the dataset."""

from __future__ import annotations

import json
import math

import pyarrow.dataset as ds
import pytest

from instance_benchmarks import analysis
from instance_benchmarks.results import ResultStore
from tests.conftest import FIXTURES

VALID = FIXTURES / "documents" / "valid" / "local-amd-epyc-quick.json"


def test_t_interval_matches_the_textbook():
    # n=3, mean 2, s=1: half-width = t(0.975, 2) * 1 / sqrt(3) = 4.302653 / 1.732051
    result = analysis.t_interval([1.0, 2.0, 3.0])

    assert result["n"] == 3 and result["mean"] == 2.0 and result["std"] == 1.0
    half = 4.302652729911275 / math.sqrt(3)
    assert result["ci95_low"] == pytest.approx(2.0 - half)
    assert result["ci95_high"] == pytest.approx(2.0 + half)
    assert result["cv"] == pytest.approx(0.5)


def test_one_sample_has_no_interval_rather_than_a_made_up_one():
    result = analysis.t_interval([42.0])

    assert result["n"] == 1 and result["mean"] == 42.0
    assert result["std"] is None and result["ci95_low"] is None and result["ci95_high"] is None


def test_identical_samples_collapse_the_interval():
    result = analysis.t_interval([5.0, 5.0, 5.0])

    assert result["ci95_low"] == result["ci95_high"] == 5.0


def test_rows_and_summaries_from_a_real_document():
    doc = json.loads(VALID.read_text())

    rows = analysis.rows_frame([doc])
    summaries = analysis.summarize(rows)

    stream_reps = sum(len(m["repetitions"]) for m in doc["stream"]["measurements"])
    assert len(rows[rows.benchmark == "stream"]) == 4 * stream_reps
    assert len(rows[rows.benchmark == "hpl"]) == len(doc["hpl"]["runs"])
    triad = next(s for s in summaries if s["metric"] == "triad" and s["placement"] == "all-cores")
    rates = [r["kernels"]["triad"]["best_rate_mb_s"] / 1000 for r in doc["stream"]["measurements"][0]["repetitions"]]
    assert triad["n"] == len(rates) and triad["mean"] == pytest.approx(sum(rates) / len(rates))
    assert triad["ci95_low"] <= triad["mean"] <= triad["ci95_high"]
    hpl = next(s for s in summaries if s["benchmark"] == "hpl")
    assert hpl["unit"] == "GFLOPS" and hpl["mean"] > 0


def test_dataset_is_rebuilt_idempotently_and_partitioned(tmp_path):
    store = ResultStore(tmp_path.as_uri())
    doc = json.loads(VALID.read_text())
    store.store(doc, [], run_id="run-1", instance_type="local")

    first = analysis.rebuild_dataset(store)
    second = analysis.rebuild_dataset(store)

    assert first["rows"] == second["rows"] > 0
    dataset = ds.dataset(tmp_path / "dataset/v1/samples", format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert table.num_rows == second["rows"]
    assert (tmp_path / "dataset/v1/samples/region=local/family=amd").is_dir()
