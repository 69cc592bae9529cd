"""Shared by the benchmark scripts: paths, benchrun, and Debian's hpcc as a reference."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "include" / "containers" / "runner"
sys.path.insert(0, str(RUNNER))
os.environ.setdefault("BENCHRUN_BUILD_DIR", str(REPO / ".build" / "local"))

from benchmark_runner import hpl, topology  # noqa: E402


def benchrun(*args: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        subprocess.run([sys.executable, str(RUNNER / "benchrun"), *args, "--out", str(out)], check=True,
                       stderr=subprocess.DEVNULL)
        return json.loads(out.read_text())


def require_hpcc() -> str:
    path = shutil.which("hpcc")
    if not path:
        raise SystemExit("Debian's hpcc is the reference here: apt-get install hpcc")
    return path


def run_hpcc(*, n: int, nb: int, p: int, q: int, threads: int = 1) -> dict[str, float]:
    """One HPC Challenge run (all of its tests: hpcc has no switch to skip any); its summary values."""
    hpcc = require_hpcc()
    with tempfile.TemporaryDirectory(prefix="hpcc-") as tmp:
        hpl.write_hpl_dat(Path(tmp), n=n, nb=nb, p=p, q=q)
        (Path(tmp) / "hpccinf.txt").write_text((Path(tmp) / "HPL.dat").read_text() + hpl.HPCC_TAIL)
        env = dict(os.environ, **hpl.bound_environment(threads))
        cpus = hpl.rank_cpus(topology.cpu_topology(), p * q, threads)
        subprocess.run([*hpl.bound_command(Path(tmp), cpus), hpcc], cwd=tmp, env=env, check=True,
                       capture_output=True, timeout=3600)
        text = (Path(tmp) / "hpccoutf.txt").read_text()
    summary = text.split("Begin of Summary section.", 1)[1]
    values = {k: float(v) for k, v in re.findall(r"^(\w+)=([-+\d.eE]+)$", summary, re.MULTILINE)}
    values["hpl_passed"] = float("PASSED" in text.split("End of HPL section", 1)[0])
    return values
