"""The checks a contributed result passes before a person reviews it (issue 32 item 3), each a recorded verdict
with its reason. A blocking verdict that fails rejects the submission; a flag (an outlier against the type's
measured figures) is shown to the reviewer and never refuses on its own.

What is checked, in order: the schema; EC2's signature over the identity (identity.py) and that the result agrees
with it; the runner image digest the result reports is one this deployment published (self-reported by the
contributor: a consistency check, not proof); the run rules (host.native among them) and errors, as a project run
is held to; not a duplicate of an instance and start already submitted; each figure under its physical bound (the
peak table's efficiency at most 100%); each figure against the type's current figures in the dataset (flag).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from instance_benchmarks import identity
from instance_benchmarks.results import schema_errors, validation_reasons

OUTLIER_SIGMAS = 3.0
PEAK_TOLERANCE = 1.02  # the peak table rounds clocks; a figure 2% past it is still past what the silicon can do


@dataclass(frozen=True)
class Verdict:
    check: str
    passed: bool
    reason: str
    blocking: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def published_digests() -> set[str]:
    """The runner image digests this deployment published ($INSTANCE_BENCHMARKS_PUBLISHED_DIGESTS, comma-separated
    sha256 digests, as `make images` printed them)."""
    return {d.strip() for d in os.environ.get("INSTANCE_BENCHMARKS_PUBLISHED_DIGESTS", "").split(",") if d.strip()}


def check(doc: Any, *, submission_id: str, contributor: str, certificates: dict[str, bytes],
          published: set[str], seen: set[tuple[str, str]], current: Any = None) -> tuple[list[Verdict], dict | None]:
    """Every verdict, and the document as it would be stored (with its provenance) when nothing blocking failed."""
    verdicts = []
    errors = schema_errors(doc)
    verdicts.append(Verdict("schema", not errors, "; ".join(errors[:5]) or "valid benchmark-result.v1"))
    if errors or not isinstance(doc, dict):
        return verdicts, None
    contribution = doc.get("contribution") or {}
    try:
        signed = identity.verify(contribution["identity_document"], contribution["rsa2048"], certificates)
        verdicts.append(Verdict("signature", True, f"EC2 signed {signed.instance_type} {signed.instance_id} in "
                                                   f"{signed.region} (launched {signed.pending_time.isoformat()})"))
    except (identity.Refused, KeyError) as exc:
        verdicts.append(Verdict("signature", False, str(exc)))
        return verdicts, None
    disagreements = identity.disagreements(signed, doc, fetched_at=contribution.get("fetched_at"))
    verdicts.append(Verdict("identity agrees", not disagreements, "; ".join(disagreements) or
                            "type, region, instance and time order agree with what EC2 signed"))
    digest = (doc.get("host") or {}).get("container_digest")
    verdicts.append(Verdict("published image", digest in published,
                            f"runner image {digest} is one this deployment published" if digest in published else
                            f"runner image digest {digest!r} is not one this deployment published "
                            "(INSTANCE_BENCHMARKS_PUBLISHED_DIGESTS)"))
    rules = [r for r in validation_reasons(doc) if r not in errors]
    verdicts.append(Verdict("run rules", not rules, "; ".join(rules[:5]) or "every run rule passed, no errors"))
    key = (signed.instance_id, str(doc.get("started_at")))
    verdicts.append(Verdict("not a duplicate", key not in seen, "first submission of this instance and start"
                            if key not in seen else f"{signed.instance_id} at {doc.get('started_at')} was already "
                            "submitted: a replay"))
    stored = _with_provenance(doc, signed, submission_id=submission_id, contributor=contributor)
    verdicts += _figures(stored, current)
    if any(v.blocking and not v.passed for v in verdicts):
        return verdicts, None
    return verdicts, stored


def _with_provenance(doc: dict[str, Any], signed: identity.Identity, *, submission_id: str,
                     contributor: str) -> dict[str, Any]:
    """The document as the dataset stores it: the provenance a project run has, from what EC2 signed, and where it
    came from (source, contributor, submission)."""
    family = (doc.get("system") or {}).get("architecture_family") or "other"  # the runner's, from the CPU
    return {**doc, "provenance": {
        "dag_id": "contributions", "run_id": f"contributed__{submission_id}",
        "run_date": str(doc.get("started_at"))[:10], "instance_type": signed.instance_type, "family": family,
        "target": "aws", "region": signed.region, "availability_zone": signed.availability_zone,
        "instance_id": signed.instance_id, "ami_id": signed.image_id,
        # the profile the runner ran (benchrun all --profile): a contributed figure is compared like with like
        **({"plan": {"profile": profile}} if (profile := (doc.get("runner") or {}).get("profile")) else {}),
        "source": "contributed", "contributor": contributor, "submission_id": submission_id}}


def _figures(doc: dict[str, Any], current: Any) -> list[Verdict]:
    """Each figure against its physical bound (blocking) and against the type's current figures (a flag)."""
    from instance_benchmarks.analysis import headline, rows_frame, summarize

    rows = rows_frame([doc])
    if rows.empty:
        return [Verdict("figures", False, "no figure in the document")]
    summary = headline(summarize(rows))
    verdicts = []
    for row in summary.itertuples():
        name = f"{row.benchmark} {row.metric}"
        efficiency = _known(getattr(row, "efficiency", None))
        if efficiency is None:  # no catalog clock for a contributed host: the clock it counted during HPL
            efficiency = _known(getattr(row, "efficiency_at_measured_clock", None))
        if efficiency is not None and efficiency > PEAK_TOLERANCE:
            verdicts.append(Verdict(f"bound: {name}", False, f"{row.mean:.4g} {row.unit} is {efficiency:.0%} of "
                                    "the theoretical peak: beyond what the hardware can do"))
        else:
            verdicts.append(Verdict(f"bound: {name}", True, f"{row.mean:.4g} {row.unit}" + (
                f", {efficiency:.0%} of the peak" if efficiency is not None else " (no peak known for this CPU: "
                "the reviewer weighs it against the type's figures)")))
        verdicts.append(_against_current(row, name, current))
    return verdicts


def _known(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


def _against_current(row: Any, name: str, current: Any) -> Verdict:
    if current is None or current.empty:
        return Verdict(f"measured: {name}", True, "the type has no measured figures yet: nothing to compare with",
                       blocking=False)
    mine = current[(current.instance_type == row.instance_type) & (current.benchmark == row.benchmark)
                   & (current.metric == row.metric) & (current.placement == row.placement)]
    if mine.empty:
        return Verdict(f"measured: {name}", True, "the type has no measured figure for this yet", blocking=False)
    theirs = mine.iloc[0]
    spread = theirs.get("host_std") if theirs.get("host_std") == theirs.get("host_std") else None
    spread = spread or theirs.get("std") or 0.0
    distance = abs(row.mean - theirs["mean"]) / spread if spread else float("inf") if row.mean != theirs["mean"] \
        else 0.0
    close = distance <= OUTLIER_SIGMAS
    return Verdict(f"measured: {name}", close, f"{row.mean:.4g} against the project's {theirs['mean']:.4g} "
                   f"(n={int(theirs['n'])}): " + ("within" if close else "beyond") + f" {OUTLIER_SIGMAS:g} standard "
                   "deviations" + ("" if close else ": an outlier, for the reviewer to weigh"), blocking=False)
