"""The generated Python client (issue 31 item 3) is what the served schema generates, byte for byte."""

from __future__ import annotations

import filecmp
import importlib.util
from pathlib import Path

from tests.docs_examples import REPO

CLIENTS = REPO / "include" / "clients" / "python"


def _regenerate():
    spec = importlib.util.spec_from_file_location("regenerate", CLIENTS / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def differences(left: Path, right: Path) -> list[str]:
    """Files that differ, or are only on one side, anywhere below two folders (caches ignored)."""
    compared = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found = [f"{left.name}/{name}: {'differs' if name in compared.diff_files else 'on one side only'}"
             for name in [*compared.diff_files, *compared.left_only, *compared.right_only]]
    # dircmp compares by os.stat signature first: read every common file to be sure
    _, mismatch, errors = filecmp.cmpfiles(left, right, compared.common_files, shallow=False)
    found += [f"{left.name}/{name}: differs" for name in [*mismatch, *errors] if name not in compared.diff_files]
    for name in compared.common_dirs:
        found += differences(left / name, right / name)
    return found


def test_the_checked_in_client_is_what_the_served_schema_generates(tmp_path):
    regenerate = _regenerate()

    project = regenerate.generate(tmp_path)

    assert (tmp_path / "openapi.json").read_text() == (CLIENTS / "openapi.json").read_text(), \
        "the API's schema changed: run `make client` and commit include/clients/python"
    assert differences(CLIENTS / regenerate.PROJECT, project) == [], "run `make client` and commit the client"


def test_the_client_has_a_call_for_every_api_route():
    import json

    schema = json.loads((CLIENTS / "openapi.json").read_text())
    calls = {p.stem for p in (CLIENTS / "instance-benchmarks-client" / "instance_benchmarks_client" / "api"
                              / "default").glob("*.py") if p.stem != "__init__"}

    assert {"compare", "recommend", "summary", "instance_type_results", "freshness_of", "plan_weeks",
            "plan_document", "submit", "submission_status", "my_submissions"} == calls
    assert {op["operationId"] for path in schema["paths"].values() for op in path.values()} == calls
    assert all(path.startswith("/api/") for path in schema["paths"])  # the pages and GraphQL are not in it
