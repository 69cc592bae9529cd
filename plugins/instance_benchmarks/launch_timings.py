"""How long an EC2 launch takes, from public recordings (include/launch-timings/, with their provenance).

The launch stage is RunInstances to the instance's OS running user data. Recorded: 61 virtualised launches and
9 of Graviton bare metal (SpareCores/sc-inspector-data, 2026). Not recorded: Intel and AMD bare metal, whose
figure stays a labelled assumption (older public reports say some Intel metal took over 20 minutes).
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from functools import cache

from instance_benchmarks import INCLUDE_DIR
from instance_benchmarks.catalog import InstanceSpec
from instance_benchmarks.recordings import verified_text

RECORDING = INCLUDE_DIR / "launch-timings" / "ec2-launch-timings.csv"
RECORDING_SHA256 = "4f88dfd51a21fc463d5c013365a8ad6a608c850069318b762a1cf85659c19a89"
SOURCE = "SpareCores/sc-inspector-data@804d3c7, user data start after the launch call"
# An assumption, not a measurement: no public 2026 timing of Intel or AMD metal is at hand.
X86_METAL_ASSUMED_S = 480


@dataclass(frozen=True)
class LaunchFigure:
    seconds: float
    basis: str  # where the figure comes from, as a plan reports it


@cache
def recorded_launches() -> dict[str, list[float]]:
    """Seconds from the launch call to user data, by class (`virtualised`, `graviton metal`), checksum verified."""
    found: dict[str, list[float]] = {"virtualised": [], "graviton metal": []}
    for row in csv.DictReader(verified_text(RECORDING, RECORDING_SHA256).splitlines()):
        if not row["user_data_start_s"]:  # an incomplete run (3 of 73)
            continue
        kind = "graviton metal" if ".metal" in row["instance_type"] else "virtualised"
        found[kind].append(float(row["user_data_start_s"]))
    return found


def recorded_median(kind: str) -> float:
    """The median recorded launch of `kind` (`virtualised` or `graviton metal`), seconds."""
    return statistics.median(recorded_launches()[kind])


def launch_figure(spec: InstanceSpec, *, x86_metal_s: float = X86_METAL_ASSUMED_S) -> LaunchFigure:
    """The launch stage of `spec`: the recorded median of its class, or the labelled x86 metal assumption."""
    if spec.bare_metal and spec.architecture != "arm64":
        return LaunchFigure(x86_metal_s, "assumed (no public measurement of Intel or AMD metal)")
    kind = "graviton metal" if spec.bare_metal else "virtualised"
    return LaunchFigure(recorded_median(kind),
                        f"median of {len(recorded_launches()[kind])} recorded {kind} launches ({SOURCE})")
