"""A small dataset for the /benchmarks app's tests (REST, GraphQL, the client): three types of three families, each
scaled from one real document and priced with test inputs (not recorded prices), analyzed by the real pipeline."""

from __future__ import annotations

from pathlib import Path

from instance_benchmarks import pipeline
from instance_benchmarks.results import ResultStore
from tests.fakes.documents import variant

HOSTS = {"m7i.large": "intel", "m7g.large": "graviton", "c7a.large": "amd"}
SCALES = {"m7i.large": 1.0, "m7g.large": 1.3, "c7a.large": 2.0}
PRICES = {"m7i.large": {"on_demand": 0.1008, "spot": 0.04}, "m7g.large": {"on_demand": 0.0816, "spot": 0.03},
          "c7a.large": {"on_demand": 0.1027, "spot": None}}


def served_store(root: Path) -> ResultStore:
    """The three types stored, priced and analyzed under `root`, as one run (run-1)."""
    store = ResultStore(root.as_uri())
    for instance_type, family in HOSTS.items():
        doc = variant(instance_type=instance_type, family=family, scale=SCALES[instance_type])
        store.store(doc, [], run_id="run-1", instance_type=instance_type)
    store.record_prices("run-1", {"prices": PRICES})
    pipeline.analyze(params={"results_uri": root.as_uri()}, run_id=None)
    return store
