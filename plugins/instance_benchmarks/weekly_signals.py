"""What is known of each type when the week is planned (issue 30 item 1): the signals, each read from its source.

| signal | source |
| --- | --- |
| never measured, age, interval, hosts | the dataset's summary (current version): the type's headline figures |
| sibling drift | the raw table: `analysis.drift`, beyond both runs' uncertainty and host spread, DRIFT_WEEKS |
| AWS changed | catalog_refresh's dated catalogs: the type's fingerprint now against the one on its last measured day |
| newer image | AL2023's public SSM parameter against the stored documents' `ami_id`; microcode newer on the CPU model |
| demand | `demand/`, counted by the API and the page (demand.py), decayed |
| spot risk | the project's own interrupted quarantines against its spot documents, over a labelled prior |

Each is read once for the region; `signals_for` combines them per type (pure, tested on its own).
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from instance_benchmarks.weekly_plan import SPOT_INTERRUPTION_PRIOR, Signals

log = logging.getLogger(__name__)

# A sibling's change counts for this long (the simulator's DRIFT_MEMORY_WEEKS).
DRIFT_WEEKS = 4
# The spot prior's weight in host-runs: 5% is as if 1 of 20 spot hosts had been interrupted.
SPOT_PRIOR_HOSTS = 20


@dataclass
class Known:
    """Everything read for one region, before it is combined per type."""

    measured: dict[str, dict[str, Any]] = field(default_factory=dict)  # type -> its headline figures' facts
    drift: dict[str, float] = field(default_factory=dict)  # type -> its own latest significant change
    fingerprint_then: dict[str, str | None] = field(default_factory=dict)  # type -> on its last measured day
    latest_ami: dict[str, str] = field(default_factory=dict)  # architecture -> AL2023's current AMI
    newest_microcode: dict[str, str] = field(default_factory=dict)  # CPU model -> the latest seen
    demand: dict[str, float] = field(default_factory=dict)
    spot_hosts: Counter[str] = field(default_factory=Counter)
    spot_interrupted: Counter[str] = field(default_factory=Counter)
    sources: dict[str, str] = field(default_factory=dict)  # signal -> where it came from, or why it is missing


def signals_for(row: dict[str, Any], family_of: dict[str, str], known: Known, *, today: datetime.date) -> Signals:
    """One catalog row's Signals from what was read. Its siblings are the types of its instance family
    (`family_of`: type -> family, the region's catalog) and those measured on its CPU model."""
    name = row["instance_type"]
    model = (known.measured.get(name) or {}).get("cpu_model")
    moved = [change for sibling, change in known.drift.items() if sibling != name
             and (family_of.get(sibling) == row["instance_family"]
                  or (model and (known.measured.get(sibling) or {}).get("cpu_model") == model))]
    drift = max(moved, key=abs) if moved else 0.0
    attempts = known.spot_hosts[name] + known.spot_interrupted[name]
    spot_risk = ((known.spot_interrupted[name] + SPOT_INTERRUPTION_PRIOR * SPOT_PRIOR_HOSTS)
                 / (attempts + SPOT_PRIOR_HOSTS))
    measured = known.measured.get(name)
    if measured is None:
        return Signals(sibling_drift=drift, demand=known.demand.get(name, 0.0), spot_risk=spot_risk)
    then = known.fingerprint_then.get(name)
    aws_changed = bool(then and row.get("fingerprint") and then != row["fingerprint"])
    ami = known.latest_ami.get(row["architecture"])
    newer_ami = bool(ami and measured.get("ami_id") and measured["ami_id"] != ami)
    newest = known.newest_microcode.get(measured.get("cpu_model") or "")
    newer_microcode = bool(newest and measured.get("microcode") and measured["microcode"] != newest)
    return Signals(age_weeks=max(0.0, (today - measured["last_day"]).days / 7),
                   interval_halfwidth=measured.get("interval_halfwidth"), hosts=int(measured.get("hosts") or 1),
                   sibling_drift=drift, aws_changed=aws_changed, image_changed=newer_ami or newer_microcode,
                   demand=known.demand.get(name, 0.0), spot_risk=spot_risk)


def measured_facts(summary: Any, region: str) -> dict[str, dict[str, Any]]:
    """{type: its headline figures' last day, widest relative half-width (at 1.96 standard errors: the model's
    normal quantile), fewest hosts, CPU model, AMI and microcode} from the dataset's summary."""
    import numpy as np

    from instance_benchmarks.analysis import current, headline

    if summary.empty:
        return {}
    rows = headline(current(summary[summary["region"] == region]))
    found: dict[str, dict[str, Any]] = {}
    for row in rows.to_dict("records"):
        several = (row.get("hosts") or 1) >= 2
        spread, n = (row.get("host_std"), row["hosts"]) if several else (row.get("std"), row.get("n"))
        half = (1.96 * spread / np.sqrt(n) / row["mean"]
                if spread is not None and n and row["mean"] and np.isfinite(spread) else None)
        last = datetime.date.fromisoformat(str(row["last_seen"])[:10])
        facts = found.setdefault(row["instance_type"], {"last_day": last, "interval_halfwidth": half,
                                                        "hosts": int(row.get("hosts") or 1)})
        facts["last_day"] = max(facts["last_day"], last)
        if half is not None:
            facts["interval_halfwidth"] = max(half, facts["interval_halfwidth"] or 0.0)
        facts["hosts"] = min(facts["hosts"], int(row.get("hosts") or 1))
        for column in ("cpu_model", "ami_id", "microcode"):
            value = row.get(column)
            if value is not None and value == value:  # not NaN
                facts[column] = value
    return found


def recent_drift(raw: Any, region: str, *, today: datetime.date) -> dict[str, float]:
    """{type: the relative change of its latest run against its previous one}, where analysis.drift flags the two
    runs' headline intervals as apart, the latest ran within DRIFT_WEEKS, and the change is more than both figures'
    uncertainty with the host spread counted for a one-host run (HOST_CV: its interval holds its repetitions only,
    so another host alone would move it): the simulator's alarm rule, which without that spread raises an alarm on
    most re-measurements on one host."""
    import math

    from instance_benchmarks.analysis import drift, trends
    from instance_benchmarks.weekly_plan import HOST_CV

    if raw.empty:
        return {}
    raw = raw[raw["region"] == region]
    figures = {(r["instance_type"], r["run_id"], r["need"]): r for r in trends(raw).to_dict("records")}

    def variance(figure: dict[str, Any]) -> float:
        half = (figure["ci95_high"] - figure["ci95_low"]) / 2 if figure["ci95_high"] == figure["ci95_high"] else 0.0
        return (half / 1.96 / figure["mean"]) ** 2 + (HOST_CV**2 if figure["hosts"] < 2 else 0.0)

    found: dict[str, float] = {}
    since = (today - datetime.timedelta(weeks=DRIFT_WEEKS)).isoformat()
    for entry in drift(raw):
        if str(entry["latest"]["started_at"])[:10] < since:
            continue
        changes = []
        for flag in entry["flags"]:
            if "change" not in flag:
                continue
            need = "triad" if flag["kind"].startswith("stream") else "hpl"
            pair = [figures.get((entry["instance_type"], entry[which]["run_id"], need))
                    for which in ("previous", "latest")]
            if None in pair or abs(flag["change"]) > 1.96 * math.sqrt(sum(variance(f) for f in pair)):
                changes.append(flag["change"])
        if changes:
            found[entry["instance_type"]] = max(changes, key=abs)
    return found


def newest_microcode(raw: Any, region: str) -> dict[str, str]:
    """{CPU model: the microcode of its latest sample in the region}: what a type's hosts of that model now run."""
    if raw.empty or "microcode" not in raw:
        return {}
    rows = raw[(raw["region"] == region) & raw["microcode"].notna()].sort_values("started_at", kind="stable")
    return {str(k): str(v) for k, v in rows.groupby("cpu_model")["microcode"].last().items()}


def fingerprints_then(store: Any, region: str, days: dict[str, datetime.date]) -> dict[str, str | None]:
    """{type: its fingerprint in the latest dated catalog on or before `days[type]`} (catalog_refresh's history)."""
    import pyarrow.parquet as pq

    base = store.root / "catalog" / f"region={region}"
    dated = sorted(p.name.removeprefix("date=") for p in base.glob("date=*")) if base.exists() else []
    wanted: dict[str, list[str]] = {}
    for name, day in days.items():
        before = [d for d in dated if d <= day.isoformat()]
        if before:
            wanted.setdefault(before[-1], []).append(name)
    found: dict[str, str | None] = {}
    for day, names in wanted.items():
        with (base / f"date={day}" / "catalog.parquet").open("rb") as handle:
            table = pq.read_table(handle)
        if "fingerprint" not in table.column_names:
            continue  # a catalog from before fingerprints: no change can be told
        by_type = dict(zip(table["instance_type"].to_pylist(), table["fingerprint"].to_pylist(), strict=True))
        found.update({name: by_type.get(name) for name in names})
    return found


def spot_record(store: Any, raw: Any) -> tuple[Counter[str], Counter[str]]:
    """(spot hosts stored, spot hosts interrupted) per type: the raw table's documents and the quarantines."""
    import json

    stored: Counter[str] = Counter()
    if not raw.empty and "market" in raw:
        spot = raw[raw["market"] == "spot"].drop_duplicates("document_id")
        stored.update(spot["instance_type"].tolist())
    interrupted: Counter[str] = Counter()
    base = store.root / "quarantine"
    for reason in (base.glob("*/*/reason.json") if base.exists() else []):
        data = json.loads(reason.read_text())
        if data.get("interrupted"):
            interrupted[data["instance_type"]] += 1
    return stored, interrupted


def latest_amis(*, aws_conn_id: str | None, region: str) -> dict[str, str]:
    """{architecture: AL2023's current AMI in `region`}, from the public SSM parameters the hosts launch from."""
    from airflow.providers.amazon.aws.hooks.ssm import SsmHook

    from instance_benchmarks.hosts.ec2 import AMI_PARAMETERS, resolve_ami

    client = SsmHook(aws_conn_id=aws_conn_id, region_name=region).conn
    return {architecture: resolve_ami(client, architecture) for architecture in AMI_PARAMETERS}
