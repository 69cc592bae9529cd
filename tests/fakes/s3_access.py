"""The S3 actions a run needed, read off the wire from moto_server's request recorder, and checked against a policy.

s3fs (ObjectStoragePath) reaches S3 through aiobotocore, below the botocore API layer that `AwsGaps` sees; moto_server's
recorder sees every HTTP request. Each request maps to the IAM action AWS authorizes it with (Service Authorization
Reference, Amazon S3): HEAD or GET of an object is s3:GetObject, PUT s3:PutObject (a copy also reads its source),
DELETE s3:DeleteObject, a multi-object delete s3:DeleteObject per key, and GET or HEAD of the bucket s3:ListBucket,
whose `s3:prefix` condition key is the listing's prefix. HEAD of the bucket (HeadBucket, s3fs's bucket probe
before a write) carries no prefix, so a policy that grants listing only under a prefix denies it; s3fs then probes
s3:GetBucketLocation (s3fs/core.py `_exists`), and only when both are denied tries to create the bucket, which
fails the write. So a HeadBucket counts as granted when either is.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests


@contextlib.contextmanager
def recorded(endpoint: str) -> Iterator[list[dict[str, Any]]]:
    """Every request moto_server at `endpoint` receives inside the block (filled in when the block ends)."""
    for step in ("reset-recording", "start-recording"):
        requests.post(f"{endpoint}/moto-api/recorder/{step}", timeout=10).raise_for_status()
    entries: list[dict[str, Any]] = []
    try:
        yield entries
    finally:
        requests.post(f"{endpoint}/moto-api/recorder/stop-recording", timeout=10).raise_for_status()
        text = requests.get(f"{endpoint}/moto-api/recorder/download-recording", timeout=30).text
        entries.extend(json.loads(line) for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class S3Access:
    action: str
    arn: str
    prefix: str | None = None  # s3:prefix, for ListBucket
    fallback: str | None = None  # the action the client tries when this one is denied

    def __str__(self) -> str:
        return f"{self.action} {self.arn}" + (f" (s3:prefix {self.prefix!r})" if self.prefix is not None else "")


def _access_key(entry: dict[str, Any]) -> str | None:
    found = re.search(r"Credential=([^/]+)/", entry["headers"].get("Authorization", ""))
    return found.group(1) if found else None


def s3_accesses(entries: list[dict[str, Any]], *, bucket: str, access_key: str) -> set[S3Access]:
    """The S3 actions of the requests signed with `access_key` on `bucket` (path-style, as with an IP endpoint)."""
    found = set()
    for entry in entries:
        url = urlsplit(entry["url"])
        parts = url.path.lstrip("/").split("/", 1)
        if parts[0] != bucket or _access_key(entry) != access_key:
            continue
        query, method = parse_qs(url.query, keep_blank_values=True), entry["method"]
        key = unquote(parts[1]) if len(parts) > 1 and parts[1] else None
        if key is None:
            if method == "POST" and "delete" in query:
                keys = re.findall(r"<Key>([^<]+)</Key>", entry.get("body") or "")
                found |= {S3Access("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{k}") for k in keys}
            elif method in ("GET", "HEAD") and not set(query) - {"list-type", "prefix", "delimiter", "max-keys",
                                                                  "continuation-token", "start-after",
                                                                  "encoding-type", "fetch-owner"}:
                prefix = query["prefix"][0] if "prefix" in query else (None if method == "HEAD" else "")
                found.add(S3Access("s3:ListBucket", f"arn:aws:s3:::{bucket}", prefix,
                                   "s3:GetBucketLocation" if method == "HEAD" else None))
            else:
                found.add(S3Access(f"s3:? {method} ?{url.query}", f"arn:aws:s3:::{bucket}"))
            continue
        arn = f"arn:aws:s3:::{bucket}/{key}"
        if method in ("GET", "HEAD"):
            found.add(S3Access("s3:GetObject", arn))
        elif method in ("PUT", "POST"):  # POST: a multipart upload's start and end
            found.add(S3Access("s3:PutObject", arn))
            source = entry["headers"].get("x-amz-copy-source")
            if source:
                found.add(S3Access("s3:GetObject", f"arn:aws:s3:::{unquote(source).lstrip('/')}"))
        elif method == "DELETE":
            found.add(S3Access("s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject", arn))
    return found


def _matches(value: str | list[str], candidate: str) -> bool:
    return any(fnmatch.fnmatchcase(candidate, pattern) for pattern in ([value] if isinstance(value, str) else value))


def granted(access: S3Access, statements: list[dict[str, Any]]) -> bool:
    """Whether an Allow statement grants `access` (the policy's only condition on S3 is StringLike s3:prefix)."""
    for statement in statements:
        if statement["Effect"] != "Allow" or not _matches(statement["Action"], access.action) \
                or not _matches(statement["Resource"], access.arn):
            continue
        condition = statement.get("Condition") or {}
        if set(condition) - {"StringLike"} or set(condition.get("StringLike", {})) - {"s3:prefix"}:
            continue  # a condition this check cannot judge grants nothing here
        prefixes = condition.get("StringLike", {}).get("s3:prefix")
        if prefixes is None or (access.prefix is not None and _matches(prefixes, access.prefix)):
            return True
    return False


def denied(accesses: set[S3Access], statements: list[dict[str, Any]]) -> list[str]:
    """The accesses neither granted nor with a granted fallback."""
    return [str(access) for access in sorted(accesses, key=str) if not granted(access, statements)
            and not (access.fallback and granted(S3Access(access.fallback, access.arn), statements))]
