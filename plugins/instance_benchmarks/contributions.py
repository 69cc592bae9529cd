"""The contributions DAG's work (issue 32 items 3 and 4): which submissions to check, their checks recorded in
their status, what the reviewer reads, and the reviewer's decision kept.

An accepted result is kept under submissions/accepted/ and stored under contributed/v1/ with the provenance EC2's
identity gave it (source=contributed, the contributor, the submission id); the next rebuild puts it in the
dataset's contributed tables, beside the project's, never over them (analysis.rebuild).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from instance_benchmarks.results import ResultStore
from instance_benchmarks.submissions import SUBMISSION_ID, Submissions

log = logging.getLogger(__name__)

ACCEPT, REJECT = "Accept", "Reject"


def pending(events: list[dict[str, Any]], *, results_uri: str, aws_conn_id: str | None) -> list[dict[str, Any]]:
    """The submissions the triggering events name, and the bulk uploads taken in at their locations; triggered by
    hand or by the hour, every one still `received` under the param's results location (bulk uploads taken in
    first)."""
    found = {}
    locations = {}
    for extra in events:
        submission_id = extra.get("submission_id")
        if extra.get("results_uri") and isinstance(submission_id, str) and SUBMISSION_ID.fullmatch(submission_id):
            found[submission_id] = {"results_uri": extra["results_uri"], "aws_conn_id": extra.get("aws_conn_id"),
                                    "submission_id": submission_id}
            locations[extra["results_uri"]] = extra.get("aws_conn_id")
    if not events:
        locations[results_uri] = aws_conn_id
    for uri, conn_id in locations.items():
        submissions = Submissions(ResultStore(uri, conn_id=conn_id))
        adopted = submissions.adopt_uploads()
        for status in adopted:
            log.info("Bulk upload %s taken in as %s: %s%s", status["upload"], status["id"], status["status"],
                     f" ({'; '.join(status['reasons'])})" if status["reasons"] else "")
        ids = submissions.received() if not events else [s["id"] for s in adopted if s["status"] == "received"]
        for submission_id in ids:
            found[submission_id] = {"results_uri": uri, "aws_conn_id": conn_id, "submission_id": submission_id}
    log.info("%s submission(s) to check: %s", len(found), sorted(found))
    return list(found.values())


def check(item: dict[str, Any], *, claimant: str) -> dict[str, Any]:
    """Run every check on one submission, record the verdicts in its status; rejected where a blocking check
    failed, else `awaiting review` with what the reviewer reads. `claimant` (the run): of two runs that find the
    same submission (its event's, and an hourly or hand-triggered one), one checks it."""
    from instance_benchmarks import contribution_checks, identity
    from instance_benchmarks.analysis import current, read_current

    store = ResultStore(item["results_uri"], conn_id=item["aws_conn_id"])
    submissions = Submissions(store)
    submission_id = item["submission_id"]
    if not submissions.claim(submission_id, claimant):
        before = submissions.status(submission_id) or {}
        log.info("%s is checked elsewhere or was already (%s, %s): left as it is", submission_id,
                 before.get("status"), before.get("claimed_by"))
        return {**item, "review": None}  # a second event, or another run, never re-opens a verdict
    status = submissions.status(submission_id)
    try:
        doc = json.loads(submissions.body(submission_id))
    except ValueError:
        doc = None  # the API parsed it once; a body changed since is not trusted
    summary = read_current(store, "summary")
    certificates = identity.certificates()
    verdicts, stored = contribution_checks.check(
        doc, submission_id=submission_id, contributor=status["submitter"], certificates=certificates,
        published=contribution_checks.published_digests(),
        seen=earlier_identities(submissions, status, certificates), current=None if summary.empty else current(summary))
    checks = [v.to_dict() for v in verdicts]
    for verdict in verdicts:
        log.info("%s %s: %s (%s)", submission_id, verdict.check, "passed" if verdict.passed else "FAILED",
                 verdict.reason)
    key = _identity_key(stored or {})
    if stored is None:
        reasons = [f"{v.check}: {v.reason}" for v in verdicts if v.blocking and not v.passed]
        submissions.reject(submission_id, reasons, checks=checks)
        return {**item, "review": None}
    path = submissions.base / "checked" / f"{submission_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2) + "\n")
    status = submissions.update(submission_id, status="awaiting review", checks=checks, identity_key=key)
    return {**item, "review": {"subject": f"Contributed result {submission_id}: {stored['provenance']['instance_type']}"
                                          f" by {status['submitter']}", "body": review_text(status, stored)}}


def earlier_identities(submissions: Submissions, mine: dict[str, Any], certificates: dict[str, bytes]
                       ) -> set[tuple[str, str]]:
    """(instance id, started_at) of every submission received before this one whose identity EC2 signed: the
    first received is the original, whatever order the checks run in; a later one is a replay."""
    from instance_benchmarks import identity

    keys = set()
    for other in submissions.statuses():
        if (other["received_at"], other["id"]) >= (mine["received_at"], mine["id"]):
            break
        key = other.get("identity_key")
        if key is None:  # not checked yet: its signed identity, read from its body
            try:
                doc = json.loads(submissions.body(other["id"]))
                signed = identity.verify(doc["contribution"]["identity_document"], doc["contribution"]["rsa2048"],
                                         certificates)
                key = [signed.instance_id, str(doc.get("started_at"))]
            except (ValueError, KeyError, TypeError, identity.Refused):
                continue  # unsigned or unreadable: it replays nothing
        keys.add(tuple(key))
    return keys


def _identity_key(stored: dict[str, Any]) -> list[str] | None:
    provenance = stored.get("provenance") or {}
    return [provenance["instance_id"], str(stored["started_at"])] if provenance.get("instance_id") else None


def review_text(status: dict[str, Any], stored: dict[str, Any]) -> str:
    """What the reviewer reads (Markdown): the submission, every check's verdict, flags first."""
    provenance = stored["provenance"]
    lines = [f"**{provenance['instance_type']}** in {provenance['region']} (instance {provenance['instance_id']}, "
             f"image {provenance.get('ami_id')}), run {stored['started_at']} to {stored['finished_at']}, "
             f"submitted by **{status['submitter']}** on {status['received_at']}.", "",
             "| check | verdict | why |", "| --- | --- | --- |"]
    ordered = sorted(status["checks"], key=lambda c: (c["passed"], c["blocking"]))  # flags and failures first
    for verdict in ordered:
        mark = "passed" if verdict["passed"] else "FAILED" if verdict["blocking"] else "flag"
        lines.append(f"| {verdict['check']} | {mark} | {_cell(verdict['reason'])} |")
    lines += ["", "Accept: the result joins the dataset marked as contributed, with the contributor and this "
                  "submission. Reject: give the reason; the contributor reads it in the submission's status."]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """A table cell: the reviewer's page renders Markdown, so a contributor's text cannot add rows or markup."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", " "))


def decide(item: dict[str, Any], answer: dict[str, Any] | None) -> dict[str, Any]:
    """The reviewer's answer kept: accepted (stored as contributed, for the next rebuild), rejected with the reason;
    no answer (the review timed out or failed): the submission stays awaiting review, never accepted."""
    store = ResultStore(item["results_uri"], conn_id=item["aws_conn_id"])
    submissions = Submissions(store)
    submission_id = item["submission_id"]
    if not answer:
        log.warning("%s: no review (timed out or failed); it stays awaiting review", submission_id)
        return submissions.status(submission_id)
    chosen = (answer.get("chosen_options") or [None])[0]
    reviewer = (answer.get("responded_by_user") or {}).get("name") if isinstance(
        answer.get("responded_by_user"), dict) else answer.get("responded_by_user")
    reason = ((answer.get("params_input") or {}).get("reason") or "").strip()
    review = {"reviewer": reviewer, "decision": chosen, "reason": reason or None,
              "responded_at": str(answer.get("responded_at"))}
    if chosen == ACCEPT:
        checked = json.loads((submissions.base / "checked" / f"{submission_id}.json").read_text())
        stored = store.store_contributed(checked)
        log.info("%s accepted by %s: stored as contributed at %s", submission_id, reviewer, stored)
        return submissions.accept(submission_id, checked, review=review, stored_at=stored)
    return submissions.reject(submission_id, [f"rejected by the reviewer: {reason or 'no reason given'}"],
                              review=review)
