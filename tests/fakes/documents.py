"""Variations of a real document (tests/fixtures/documents/valid), for analysis and report tests.

The samples stay the ones a real run measured; only what a test is about is changed (the
instance type, run, processor, clock, or a scaling of the samples to model another host).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.conftest import FIXTURES

VALID = FIXTURES / "documents" / "valid" / "local-amd-epyc-quick.json"


def real_document() -> dict[str, Any]:
    return json.loads(VALID.read_text())


def variant(*, instance_type: str = "m7i.large", run_id: str = "run-1", region: str = "us-east-1",
            family: str = "intel", cpu_model: str | None = None, sustained_ghz: float | None = None,
            started_at: str | None = None, microcode: str | None = None, scale: float = 1.0,
            profile: str | None = None, hpl_n: int | None = None, counted_mhz: float | None = None,
            base: dict[str, Any] | None = None) -> dict[str, Any]:
    """`profile` and `hpl_n` relabel the configuration (the samples stay the real run's); `counted_mhz` is the
    clock the calibrated loop counted during HPL (the real run predates the loop)."""
    doc = copy.deepcopy(base or real_document())
    prov = doc["provenance"]
    if profile is not None:
        prov["plan"]["profile"] = profile
    if hpl_n is not None:
        doc["hpl"]["n"] = hpl_n
        for run in doc["hpl"]["runs"]:
            run["n"] = hpl_n
    prov.update(instance_type=instance_type, run_id=run_id, region=region, family=family, target="aws")
    prov["plan"]["spec"].update(instance_type=instance_type, instance_family=instance_type.split(".")[0],
                                sustained_clock_ghz=sustained_ghz)
    doc["document_id"] = f"{run_id}-{instance_type}"
    if cpu_model is not None:
        doc["system"]["cpu_model"] = cpu_model
    if microcode is not None:
        doc["system"]["microcode"] = microcode
    if started_at is not None:
        doc["started_at"] = started_at
    if counted_mhz is not None:
        reading = {"median_mhz": counted_mhz, "min_mhz": counted_mhz, "max_mhz": counted_mhz, "samples": 4}
        doc["hpl"].setdefault("core_clock", {})["calibrated"] = {
            "method": "calibrated loop (src/clockloop.c)", "before": {"scalar": reading, "vector": reading},
            "during": {"vector": reading}}
    for measurement in doc["stream"]["measurements"]:
        for rep in measurement["repetitions"]:
            for kernel in rep["kernels"].values():
                kernel["best_rate_mb_s"] *= scale
    for run in doc["hpl"]["runs"]:
        run["gflops"] *= scale
    return doc


def test_profile_document(**kwargs: Any) -> dict[str, Any]:
    """A stored document as the test profile leaves it: the runner says it is not rule-sized, the plan names the
    profile, and STREAM's size rule failed (its arrays are 8 MiB)."""
    import uuid

    doc = variant(profile="test", **kwargs)
    doc["document_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, doc["document_id"]))  # schema-valid, as the runner's
    doc["runner"].update(profile="test", rule_sized=False)
    doc["run_rules"] = [{**rule, "passed": False, "detail": "test profile (plumbing only, not a figure): "
                         "--array-size 1048576 is below the rule's 16777216 elements"}
                        if rule["rule"] == "stream.array_size_at_least_4x_llc" else rule for rule in doc["run_rules"]]
    return doc
