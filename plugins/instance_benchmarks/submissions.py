"""Contributed results as they arrive (issue 32 item 2): received, stored as bytes, and a status the contributor can
read back; the contributions DAG checks them later. Nothing in a submission is executed or used as a path: its
id is made here (uuid4), its body is stored as received and only parsed as JSON within limits.

Layout under the results root:
    submissions/incoming/<id>.json   the body, as received
    submissions/incoming/<contributor>/...  bulk uploads put straight into the bucket (a bucket policy lets each
                                     contributor's AWS principal write under its own name only); adopt_uploads
                                     takes each in as a submission of that contributor and deletes the upload
    submissions/status/<id>.json     who submitted it, when, its status and every check's verdict
    submissions/accepted/<id>.json   the document as the dataset will store it (its provenance from EC2's identity)
    submissions/rejected/<id>.json   the body and why it was rejected, kept
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from typing import Any

from instance_benchmarks.results import ResultStore

# Measured: this 2-core machine's rule-sized documents are 33 KB and nest 8 levels deep (three local runs of
# 2026-12-04); a document lists every core and binding, so a larger host's grows with its cores: room to spare.
MAX_BYTES = 4 * 2**20
MAX_DEPTH = 32
SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")
STATUSES = ("received", "checking", "awaiting review", "accepted", "rejected")
# A bulk upload's folder under incoming/: its contributor's name (an Airflow user name, so the API shows them its
# status), which the deployment's bucket policy ties to one AWS principal
CONTRIBUTOR_FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
# A check claims its submission for this long: past it (the run died), a later run checks it again
CLAIM_S = 3600


class Refused(ValueError):
    """A submission that is not taken in; the message says what to fix."""


def nesting_depth(text: str, *, limit: int = MAX_DEPTH) -> int:
    """How deep the JSON text's arrays and objects nest, counted without parsing (so without recursion), stopping
    at `limit` + 1: a submission of ten thousand nested brackets costs a scan, never the parser's stack."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def parse(body: bytes) -> dict[str, Any]:
    """The submitted document, or Refused naming the limit or what is missing."""
    if len(body) > MAX_BYTES:
        raise Refused(f"a submission is at most {MAX_BYTES // 2**20} MiB; this one is {len(body):,} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("a submission is a JSON document in UTF-8") from None
    if nesting_depth(text) > MAX_DEPTH:
        raise Refused(f"a submission nests at most {MAX_DEPTH} levels deep (a result document nests 8)")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise Refused(f"a submission is a JSON document: {exc}") from None
    if not isinstance(document, dict):
        raise Refused("a submission is one result document (a JSON object), as `benchrun all --contribute` writes")
    if not isinstance(document.get("contribution"), dict):
        raise Refused("this document carries no identity signed by EC2: run `benchrun all --contribute` on the "
                      "instance (docs/contributing-results.md)")
    return document


class Submissions:
    """The submissions under a results store."""

    def __init__(self, store: ResultStore) -> None:
        self.base = store.root / "submissions"

    def receive(self, body: bytes, *, submitter: str, now: datetime.datetime | None = None,
                **about: Any) -> dict[str, Any]:
        """Take a submission in (Refused if it cannot be): stored as received, its status `received`; `about`:
        how it came (a bulk upload's name), kept in the status as data."""
        parse(body)
        status = self._new_status(submitter, now, len(body), "received", **about)
        incoming = self.base / "incoming" / f"{status['id']}.json"
        incoming.parent.mkdir(parents=True, exist_ok=True)
        incoming.write_bytes(body)
        self._write_status(status)
        return status

    def adopt_uploads(self, *, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
        """Every bulk upload under incoming/<contributor>/ taken in as that contributor's submission (or refused,
        with the reason in a status of its own, as the API would refuse it), then deleted: each is taken once. Its
        key is kept in the status as data, never used as a path again."""
        taken = []
        for contributor, upload in self._uploads():
            name, body = f"{contributor}/{upload.name}", None
            try:
                if not CONTRIBUTOR_FOLDER.fullmatch(contributor):
                    raise Refused("a bulk upload goes under submissions/incoming/<contributor>/, a name of letters, "
                                  "digits and ._@+- (the contributor's Airflow user name)")
                size = upload.stat().st_size
                if size > MAX_BYTES:
                    raise Refused(f"a submission is at most {MAX_BYTES // 2**20} MiB; this one is {size:,} bytes")
                body = upload.read_bytes()
                status = self.receive(body, submitter=contributor, now=now, upload=name)
            except Refused as exc:
                status = self._new_status(contributor, now, None if body is None else len(body), "rejected",
                                          upload=name, reasons=[str(exc)])
                self._write_status(status)
                self._keep_rejected(status["id"], status["reasons"], body)
            upload.unlink()
            taken.append(status)
        return taken

    def _uploads(self) -> list[tuple[str, Any]]:
        base = self.base / "incoming"
        if not base.exists():
            return []
        return sorted(((folder.name, path) for folder in base.iterdir() if folder.is_dir()
                       for path in folder.rglob("*") if path.is_file()), key=lambda pair: str(pair[1]))

    def claim(self, submission_id: str, claimant: str, *, now: datetime.datetime | None = None) -> bool:
        """Whether `claimant` (a contributions run) may check the submission: it is `received`, or `checking`
        under this claimant's claim (a retry) or under one older than CLAIM_S (a run that died). The claim is
        written, then read back: of two runs claiming at once, the one whose claim was written last checks it."""
        now = now or datetime.datetime.now(datetime.UTC)
        status = self.status(submission_id) or {}
        if status.get("status") == "checking" and status.get("claimed_by") == claimant:
            return True
        if not _open(status, now):
            return False
        self.update(submission_id, status="checking", claimed_by=claimant, claimed_at=now.isoformat())
        return (self.status(submission_id) or {}).get("claimed_by") == claimant

    def _new_status(self, submitter: str, now: datetime.datetime | None, size: int | None, state: str,
                    **about: Any) -> dict[str, Any]:
        now = now or datetime.datetime.now(datetime.UTC)
        return {"id": uuid.uuid4().hex, "submitter": submitter, "received_at": now.isoformat(timespec="microseconds"),
                "bytes": size, "status": state, "reasons": [], "checks": [], **about}

    def status(self, submission_id: str) -> dict[str, Any] | None:
        """A submission's status, None where there is none (or the id is not one this store makes)."""
        if not SUBMISSION_ID.fullmatch(submission_id):
            return None
        path = self.base / "status" / f"{submission_id}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def update(self, submission_id: str, **changes: Any) -> dict[str, Any]:
        status = self.status(submission_id)
        if status is None:
            raise KeyError(submission_id)
        if changes.get("status", status["status"]) not in STATUSES:
            raise ValueError(f"a status is one of {STATUSES}")
        status.update(changes)
        self._write_status(status)
        return status

    def body(self, submission_id: str) -> bytes:
        return (self.base / "incoming" / f"{submission_id}.json").read_bytes()

    def received(self) -> list[str]:
        """The ids still `received`, and those `checking` past their claim (a contributions run that is not
        triggered by a submission's event checks them all)."""
        now = datetime.datetime.now(datetime.UTC)
        return [status["id"] for status in self.statuses() if _open(status, now)]

    def of(self, submitter: str) -> list[dict[str, Any]]:
        """One contributor's submissions, in the order they were received."""
        return [status for status in self.statuses() if status["submitter"] == submitter]

    def statuses(self) -> list[dict[str, Any]]:
        """Every submission's status, in the order they were received."""
        base = self.base / "status"
        found = [json.loads(p.read_text()) for p in base.glob("*.json")] if base.exists() else []
        return sorted(found, key=lambda status: (status["received_at"], status["id"]))

    def accept(self, submission_id: str, document: dict[str, Any], **changes: Any) -> dict[str, Any]:
        path = self.base / "accepted" / f"{submission_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n")
        return self.update(submission_id, status="accepted", **changes)

    def reject(self, submission_id: str, reasons: list[str], **changes: Any) -> dict[str, Any]:
        self._keep_rejected(submission_id, reasons, self.body(submission_id))
        return self.update(submission_id, status="rejected", reasons=reasons, **changes)

    def _keep_rejected(self, submission_id: str, reasons: list[str], body: bytes | None) -> None:
        path = self.base / "rejected" / f"{submission_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"id": submission_id, "reasons": reasons,
                                    "body": None if body is None else body.decode("utf-8", "replace")},
                                   indent=2) + "\n")

    def _write_status(self, status: dict[str, Any]) -> None:
        path = self.base / "status" / f"{status['id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(status, indent=2) + "\n")


def _open(status: dict[str, Any], now: datetime.datetime) -> bool:
    """Whether a run may claim the submission: `received`, or `checking` under a claim that lapsed."""
    claimed_at = status.get("claimed_at")
    return status.get("status") == "received" or (
        status.get("status") == "checking" and claimed_at is not None
        and (now - datetime.datetime.fromisoformat(claimed_at)).total_seconds() > CLAIM_S)
