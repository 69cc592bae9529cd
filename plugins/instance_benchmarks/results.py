"""Result documents: merge, validate, and store under the layout every reader relies on.

Layout under `results_uri` (an ObjectStoragePath, so `file://` and `s3://` work alike):

    staging/<run_id>/<host>/<instance_id>/{stream,hpl,result}.json   written by the runner / extract
    results/v1/region=<r>/family=<f>/instance_type=<t>/date=<YYYY-MM-DD>/<run_id>[_host<k>].json
    quarantine/<run_id>/<host>/{result.json,reason.json}
    skipped/<run_id>/<host>.json                                  quota, capacity: why it did not run
    prices/<run_id>.json                                          the hourly prices the run was planned with

<host> is the instance type, and `<type>_host<k>` for a type's k-th host when a run measures
several (`instances_per_type`). Keys derive from the run id, the type and that k only, so
re-running or backfilling the same run overwrites rather than duplicates.
"""

from __future__ import annotations

import datetime
import json
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from instance_benchmarks import ALLOW_TEST_PROFILE_VARIABLE, RESULT_SCHEMA, TEST_PROFILE, runner_module

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

MAX_SCHEMA_ERRORS = 20


@cache
def result_schema() -> dict[str, Any]:
    return json.loads(RESULT_SCHEMA.read_text())


def schema_errors(doc: Any) -> list[str]:
    """Every way `doc` breaks the v1 schema, as 'where: what' lines."""
    from jsonschema import Draft202012Validator, FormatChecker

    validator = Draft202012Validator(result_schema(), format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    lines = [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message[:300]}" for e in errors]
    if len(lines) > MAX_SCHEMA_ERRORS:
        lines = lines[:MAX_SCHEMA_ERRORS] + [f"... and {len(lines) - MAX_SCHEMA_ERRORS} more schema errors"]
    return [f"schema: {line}" for line in lines]


# What the test profile breaks by design: its STREAM arrays are small. Every other rule (validation, clock ticks,
# NTIMES, HPL's residual) holds for its documents as for any other.
TEST_PROFILE_WAIVED_RULES = frozenset({"stream.array_size_at_least_4x_llc"})


def is_test_profile(doc: Any) -> bool:
    """A document of the runner's test profile (plumbing checks): never a figure, whatever else it passes."""
    if not isinstance(doc, dict):
        return False
    runner = doc.get("runner") if isinstance(doc.get("runner"), dict) else {}
    plan = ((doc.get("provenance") or {}).get("plan") or {}) if isinstance(doc.get("provenance"), dict) else {}
    return runner.get("rule_sized") is False or TEST_PROFILE in (runner.get("profile"), plan.get("profile"))


def validation_reasons(doc: Any, *, require: tuple[str, ...] = ("stream", "hpl"),
                       test_profile_allowed: bool = False) -> list[str]:
    """Why `doc` must not be stored as a result; empty when it may.

    A test-profile document is refused unless the deployment allows that profile (`test_profile_allowed`); where
    it does, only the rules the profile breaks by design are waived, and analysis still keeps it out of the dataset.
    """
    reasons = schema_errors(doc)
    if not isinstance(doc, dict):
        return reasons or ["document is not a JSON object"]
    test_profile = is_test_profile(doc)
    if test_profile and not test_profile_allowed:
        reasons.append(f"profile {TEST_PROFILE}: a test-only run (small STREAM arrays, HPL capped at seconds), not "
                       f"rule-sized; this deployment does not allow it (${ALLOW_TEST_PROFILE_VARIABLE})")
    for section in require:
        if not doc.get(section):
            reasons.append(f"{section}: no results in the document")
    for rule in doc.get("run_rules") or []:
        if isinstance(rule, dict) and rule.get("passed") is False:
            if test_profile and test_profile_allowed and rule.get("rule") in TEST_PROFILE_WAIVED_RULES:
                continue
            reasons.append(f"run rule {rule.get('rule')} failed: {rule.get('detail')}")
    for error in doc.get("errors") or []:
        if isinstance(error, dict):
            reasons.append(f"{error.get('stage')} error: {error.get('message')}")
    reasons.extend(binding_reasons(doc))
    return reasons


def binding_reasons(doc: dict[str, Any]) -> list[str]:
    """Where the recorded HPL bindings put two ranks, or two BLAS threads of one rank, on one physical core: that
    solve measured a share of the host, whatever its own rule says (a document from an older or altered runner).
    A document that records no binding or no cores is judged by its rules alone."""
    section, system = doc.get("hpl"), doc.get("system")
    if not isinstance(section, dict) or not isinstance(system, dict) or not system.get("cores"):
        return []
    runner_hpl = runner_module("hpl")
    solves = [(f"hpl solve {index + 1}", run, section.get("mpi_ranks"), section.get("threads_per_rank") or 1)
              for index, run in enumerate(section.get("runs") or [])]
    solves += [(f"hpl scaling {point.get('scope')}", point, point.get("cores"), 1)
               for point in (section.get("scaling") or {}).get("points") or []]
    reasons = []
    for label, run, ranks, threads in solves:
        if not isinstance(run, dict) or "binding" not in run:
            continue
        try:
            problems = runner_hpl.binding_problems(runner_hpl.recorded_binding(run), system["cores"], ranks, threads)
        except (TypeError, ValueError, AttributeError) as exc:
            problems = [f"binding unreadable: {exc}"]
        reasons.extend(f"{label}: {problem}" for problem in problems[:3])
    return reasons


def merge_documents(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One document from the STREAM and HPL invocations on the same host."""
    if not parts:
        raise ValueError("nothing to merge")
    hosts = {(p.get("host") or {}).get("hostname") for p in parts}
    if len(hosts) > 1:
        raise ValueError(f"documents come from different hosts: {sorted(map(str, hosts))}")
    merged = json.loads(json.dumps(parts[0]))
    for part in parts[1:]:
        for section in ("stream", "hpl"):
            if part.get(section):
                merged[section] = part[section]
        merged["runner"]["commands"].extend(part["runner"]["commands"])
        merged["run_rules"].extend(part.get("run_rules") or [])
        merged["errors"].extend(part.get("errors") or [])
        for key, value in (part.get("timings") or {}).items():
            merged["timings"][key] = merged["timings"].get(key, 0) + value
        merged["started_at"] = min(merged["started_at"], part["started_at"])
        merged["finished_at"] = max(filter(None, [merged.get("finished_at"), part.get("finished_at")]),
                                    default=None)
    return merged


def safe_segment(text: str) -> str:
    """A path segment that is the same on every filesystem and S3 (run ids carry ':' and '+')."""
    cleaned = re.sub(r"[^A-Za-z0-9._=-]", "_", str(text)).strip("._")
    if not cleaned:
        raise ValueError(f"cannot make a path segment from {text!r}")
    return cleaned


def host_key(instance_type: str, replica: int = 1) -> str:
    """The name a host's records go under: its type, and `<type>_host<k>` for a type's k-th host (k >= 2)."""
    return instance_type if replica <= 1 else f"{instance_type}_host{replica}"


def host_label(value: Any) -> str:
    """A host's name in the grid (the mapped tasks' map_index_template): `m7i.large #1`, found in whatever a stage
    takes (a plan, a state that carries one, a task's arguments); '' where there is none, and the grid shows the
    index."""
    pending = [value]
    while pending:
        item = pending.pop(0)
        if isinstance(item, dict):
            if isinstance(item.get("instance_type"), str):
                return f"{item['instance_type']} #{item.get('replica', 1)}"
            pending.extend(v for v in item.values() if isinstance(v, dict))
    return ""


# The project's own documents, and accepted contributions beside them (never mixed: issue 32)
RESULTS_TREE = "results/v1"
CONTRIBUTED_TREE = "contributed/v1"


class ResultStore:
    """`conn_id` is the AWS connection for `s3://` URIs (its credentials and endpoint_url)."""

    def __init__(self, results_uri: str, *, conn_id: str | None = None) -> None:
        from airflow.sdk import ObjectStoragePath

        self.conn_id = conn_id if results_uri.startswith("s3://") else None
        self.root: ObjectStoragePath = ObjectStoragePath(results_uri, conn_id=self.conn_id)

    def path(self, uri: str) -> ObjectStoragePath:
        """A URI under this store (e.g. a staged document) opened with the store's connection."""
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(uri, conn_id=self.conn_id)

    def staging(self, run_id: str, instance_type: str, name: str, *, host_id: str | None = None) -> ObjectStoragePath:
        """Where a host stages a document: under its own id, so a re-run on a new instance can never find (and
        adopt) what an earlier attempt's instance left at the same key."""
        base = self.root / "staging" / safe_segment(run_id) / safe_segment(instance_type)
        return (base / safe_segment(host_id) if host_id else base) / name

    def result_path(self, doc: dict[str, Any]) -> ObjectStoragePath:
        """Keyed by the run, not by when the benchmark ran: a group cleared and re-measured after midnight
        overwrites its document instead of adding a second one (documents before run_date: started_at)."""
        prov = doc["provenance"]
        return (self._partition(self.root / RESULTS_TREE, doc)
                / f"{safe_segment(prov['run_id'])}{_host_suffix(prov.get('replica') or 1)}.json")

    def contributed_path(self, doc: dict[str, Any]) -> ObjectStoragePath:
        """An accepted contribution's home: a tree of its own, keyed by its submission, so nothing contributed
        can ever overwrite (or be read as) a document the project measured."""
        prov = doc["provenance"]
        return self._partition(self.root / CONTRIBUTED_TREE, doc) / f"{safe_segment(prov['submission_id'])}.json"

    @staticmethod
    def _partition(tree: ObjectStoragePath, doc: dict[str, Any]) -> ObjectStoragePath:
        prov = doc["provenance"]
        return (tree / f"region={safe_segment(prov.get('region') or 'local')}"
                / f"family={safe_segment(prov['family'])}"
                / f"instance_type={safe_segment(prov['instance_type'])}"
                / f"date={prov.get('run_date') or doc['started_at'][:10]}")

    def store_contributed(self, doc: dict[str, Any]) -> str:
        """Keep an accepted contribution (its provenance says source=contributed) for the next rebuild."""
        if (doc.get("provenance") or {}).get("source") != "contributed":
            raise ValueError("only a document whose provenance says source=contributed is stored as contributed")
        path = self.contributed_path(doc)
        _write_json(path, doc)
        return path.as_uri()

    def quarantine_dir(self, run_id: str, instance_type: str) -> ObjectStoragePath:
        return self.root / "quarantine" / safe_segment(run_id) / safe_segment(instance_type)

    def store(self, doc: Any, reasons: list[str], *, run_id: str, instance_type: str, replica: int = 1,
              interrupted: bool = False) -> dict[str, Any]:
        """Valid documents go to results/, everything else to quarantine/ with its reasons (`interrupted`: AWS
        reclaimed the spot host, which a spot-then-on-demand run relaunches on demand; `replica`: which of the
        type's hosts)."""
        if not reasons:
            path = self.result_path(doc)
            _write_json(path, doc)
            return {"status": "stored", "uri": path.as_uri(), "instance_type": instance_type, "replica": replica,
                    "reasons": []}
        directory = self.quarantine_dir(run_id, host_key(instance_type, replica))
        if doc is not None:
            _write_json(directory / "result.json", doc)
        _write_json(
            directory / "reason.json",
            {
                "run_id": run_id,
                "instance_type": instance_type,
                "replica": replica,
                "quarantined_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "reasons": reasons,
                "interrupted": interrupted,
            },
        )
        return {"status": "quarantined", "uri": directory.as_uri(), "instance_type": instance_type,
                "replica": replica, "reasons": reasons, "interrupted": interrupted}

    def record_skip(self, *, run_id: str, instance_type: str, stage: str, reason: str, replica: int = 1) -> str:
        """Why a host did not run (quota, capacity, budget): the run's summary lists it."""
        path = self.root / "skipped" / safe_segment(run_id) / f"{safe_segment(host_key(instance_type, replica))}.json"
        _write_json(path, {"run_id": run_id, "instance_type": instance_type, "replica": replica, "stage": stage,
                           "reason": reason,
                           "skipped_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")})
        return path.as_uri()

    def record_stop(self, *, run_id: str, stage: str, reason: str) -> str:
        """Why a whole run stopped before any host (a configuration error at plan): the summary says so."""
        path = self.root / "stopped" / f"{safe_segment(run_id)}.json"
        _write_json(path, {"run_id": run_id, "stage": stage, "reason": reason,
                           "stopped_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")})
        return path.as_uri()

    def stopped(self, run_id: str) -> dict[str, Any] | None:
        path = self.root / "stopped" / f"{safe_segment(run_id)}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def record_prices(self, run_id: str, snapshot: dict[str, Any]) -> str:
        """The run's price snapshot: its documents are priced with what the run was planned with."""
        path = self.root / "prices" / f"{safe_segment(run_id)}.json"
        _write_json(path, {**snapshot, "run_id": run_id})
        return path.as_uri()

    def price_snapshots(self) -> dict[str, dict[str, Any]]:
        """{run_id: price snapshot} for every run that recorded one."""
        base = self.root / "prices"
        if not base.exists():
            return {}
        snapshots = (json.loads(p.read_text()) for p in sorted(base.glob("*.json"), key=str))
        return {s["run_id"]: s for s in snapshots}

    def skipped(self, run_id: str) -> list[dict[str, Any]]:
        base = self.root / "skipped" / safe_segment(run_id)
        if not base.exists():
            return []
        return [json.loads(p.read_text()) for p in sorted(base.glob("*.json"), key=str)]

    def quarantined(self, run_id: str) -> list[dict[str, Any]]:
        """This run's quarantined results with their reasons (read back from reason.json)."""
        base = self.root / "quarantine" / safe_segment(run_id)
        if not base.exists():
            return []
        found = []
        for reason in sorted(base.glob("*/reason.json"), key=str):
            data = json.loads(reason.read_text())
            found.append({"status": "quarantined", "uri": reason.parent.as_uri(),
                          "instance_type": data["instance_type"], "replica": data.get("replica", 1),
                          "reasons": data["reasons"], "interrupted": data.get("interrupted", False)})
        return found

    def run_reports(self, run_id: str) -> ObjectStoragePath:
        """Where a run keeps its own report and summary (index.html, summary.json), whatever runs after it."""
        return self.root / "reports" / "runs" / safe_segment(run_id)

    def measured_since(self, region: str, since: datetime.date) -> dict[str, str]:
        """{instance type: its latest document's date} for the types with a stored document in `region` dated on
        or after `since`, read from the partition names alone (result_path), not the documents."""
        base = self.root / "results" / "v1" / f"region={safe_segment(region)}"
        latest: dict[str, str] = {}
        if not base.exists():
            return latest
        for dated in base.glob("family=*/instance_type=*/date=*"):
            date = dated.name.removeprefix("date=")
            if date >= since.isoformat() and any(dated.glob("*.json")):
                instance_type = dated.parent.name.removeprefix("instance_type=")
                latest[instance_type] = max(date, latest.get(instance_type, date))
        return latest

    def stored_documents(self, tree: str = RESULTS_TREE) -> list[tuple[str, dict[str, Any]]]:
        """(uri, document) for every document under results/v1, the project's own (a run's are those of its
        provenance.run_id), or under CONTRIBUTED_TREE, the accepted contributions."""
        if tree not in (RESULTS_TREE, CONTRIBUTED_TREE):
            raise ValueError(f"a tree is {RESULTS_TREE} or {CONTRIBUTED_TREE}")
        base = self.root / tree
        if not base.exists():
            return []
        return [(p.as_uri(), json.loads(p.read_text())) for p in sorted(base.rglob("*.json"), key=str)]


def _host_suffix(replica: int) -> str:
    return "" if replica <= 1 else f"_host{replica}"


def _write_json(path: ObjectStoragePath, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
