"""The v1 schema against its example documents: the valid one passes, each invalid one fails for its reason."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from instance_benchmarks.results import result_schema, schema_errors, validation_reasons
from tests.conftest import FIXTURES

DOCUMENTS = FIXTURES / "documents"


def load(path):
    return json.loads(path.read_text())


def test_schema_is_valid_2020_12():
    Draft202012Validator.check_schema(result_schema())


@pytest.mark.parametrize("path", sorted((DOCUMENTS / "valid").glob("*.json")), ids=lambda p: p.stem)
def test_valid_examples_pass_schema_and_rules(path):
    doc = load(path)

    assert schema_errors(doc) == []
    assert validation_reasons(doc) == []


@pytest.mark.parametrize(("name", "expected"), [
    ("schema-negative-triad-rate", "schema: stream/measurements/0/repetitions/0/kernels/triad/best_rate_mb_s"),
    ("schema-missing-system", "schema: (document): 'system' is a required property"),
    ("schema-unknown-target", "schema: host/target: 'gcp' is not one of"),
    ("hpl-residual-failed", "run rule hpl.residual_passed failed"),
    ("stream-validation-failed", "run rule stream.results_validated failed"),
])
def test_invalid_examples_fail_with_their_reason(name, expected):
    reasons = validation_reasons(load(DOCUMENTS / "invalid" / f"{name}.json"))

    assert any(reason.startswith(expected) for reason in reasons), reasons


def test_every_invalid_example_is_covered():
    covered = {"schema-negative-triad-rate", "schema-missing-system", "schema-unknown-target",
               "hpl-residual-failed", "stream-validation-failed"}

    assert {p.stem for p in (DOCUMENTS / "invalid").glob("*.json")} == covered
