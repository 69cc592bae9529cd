"""A small dataset for the /benchmarks app's tests (REST, GraphQL, the client): three types of three families, each
scaled from one real document and priced with test inputs (not recorded prices), and two accepted contributions
(a type the project measured, one it did not), analyzed by the real pipeline."""

from __future__ import annotations

from pathlib import Path

from instance_benchmarks import pipeline
from instance_benchmarks.results import ResultStore
from tests.fakes.documents import variant
from tests.fakes.imds import Signer, accept_contribution

HOSTS = {"m7i.large": "intel", "m7g.large": "graviton", "c7a.large": "amd"}
SCALES = {"m7i.large": 1.0, "m7g.large": 1.3, "c7a.large": 2.0}
PRICES = {"m7i.large": {"on_demand": 0.1008, "spot": 0.04}, "m7g.large": {"on_demand": 0.0816, "spot": 0.03},
          "c7a.large": {"on_demand": 0.1027, "spot": None}, "r7i.large": {"on_demand": 0.1323, "spot": 0.05}}
# Accepted contributions: (instance type, contributor, instance id, scale); r7i.large the project never measured
CONTRIBUTED = (("m7i.large", "erin", "i-000000000000000a1", 1.1), ("r7i.large", "erin", "i-000000000000000a2", 1.2))


def served_store(root: Path) -> ResultStore:
    """The three types stored, priced and analyzed under `root`, as one run (run-1), beside the contributions."""
    store = ResultStore(root.as_uri())
    for instance_type, family in HOSTS.items():
        doc = variant(instance_type=instance_type, family=family, scale=SCALES[instance_type])
        store.store(doc, [], run_id="run-1", instance_type=instance_type)
    store.record_prices("run-1", {"region": "us-east-1", "prices": PRICES})
    signer = Signer.make()
    for instance_type, contributor, instance_id, scale in CONTRIBUTED:
        accept_contribution(store, signer, instance_type=instance_type, contributor=contributor,
                            instance_id=instance_id, scale=scale)
    pipeline.analyze(params={"results_uri": root.as_uri()}, run_id=None)
    return store
