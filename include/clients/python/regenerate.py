"""Regenerate the Python client of the /benchmarks REST API from the schema the app serves (`make client`).

The schema is the app's own (`plugin.app.openapi()`, what /benchmarks/openapi.json serves a signed-in user): it is
written to openapi.json beside this file, then openapi-python-client (pinned in requirements.txt) generates the
package into instance-benchmarks-client/ with config.yaml. tests/include/clients/test_python_client.py regenerates
into a temporary folder and fails when what is checked in differs: run `make client` after changing an /api route.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = "instance-benchmarks-client"


def served_schema() -> dict:
    from instance_benchmarks import plugin

    return plugin.app.openapi()


def generate(out: Path) -> Path:
    """openapi.json and the client project under `out`; returns the project's folder."""
    out.mkdir(parents=True, exist_ok=True)
    schema = out / "openapi.json"
    schema.write_text(json.dumps(served_schema(), indent=2, sort_keys=True) + "\n")
    bin_dir = Path(sys.executable).parent  # the venv's openapi-python-client, and the ruff its hooks call
    subprocess.run([str(bin_dir / "openapi-python-client"), "generate", "--path", str(schema), "--output-path",
                    str(out / PROJECT), "--meta", "setup", "--config", str(HERE / "config.yaml"), "--overwrite",
                    "--fail-on-warning"], check=True, capture_output=True, text=True,
                   env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    return out / PROJECT


if __name__ == "__main__":
    print(f"generated {generate(HERE)}")
