"""What EC2 itself signs of a contributed result (issue 32): the instance identity document and its RSA-2048 PKCS7
signature, as IMDS serves them (/latest/dynamic/instance-identity/document and /rsa2048).

The signature is checked against the AWS RSA-2048 public certificate of the document's region, which the deployment
copies from AWS's documentation ("AWS public certificates", one PEM per region) into a folder named by
INSTANCE_BENCHMARKS_IDENTITY_CERTIFICATES: <region>.pem. Nothing here trusts a certificate the submission carries.
The PKCS7 is parsed by asn1crypto and its signature verified by cryptography (which signs PKCS7 but has no verify):
the signed attributes' message digest must be the SHA-256 of the document, and the RSA PKCS#1 v1.5 signature over
those attributes must be the certificate's key's.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
MAX_DOCUMENT_BYTES = 4096  # the fields AWS documents for it, as tests/fakes/imds.py serves them: 459 bytes


class Refused(Exception):
    """The identity cannot be trusted; the message says why, for the contributor and the reviewer."""


@dataclass(frozen=True)
class Identity:
    """The fields of a verified identity document this project uses."""

    instance_id: str
    instance_type: str
    region: str
    availability_zone: str | None
    image_id: str | None
    architecture: str | None
    account_id: str | None
    pending_time: datetime.datetime

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Identity:
        try:
            pending = datetime.datetime.fromisoformat(document["pendingTime"].replace("Z", "+00:00"))
            return cls(instance_id=str(document["instanceId"]), instance_type=str(document["instanceType"]),
                       region=str(document["region"]), availability_zone=document.get("availabilityZone"),
                       image_id=document.get("imageId"), architecture=document.get("architecture"),
                       account_id=document.get("accountId"), pending_time=pending)
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise Refused(f"the identity document lacks or garbles {exc}: not one IMDS serves") from None


def certificates(folder: str | Path | None = None) -> dict[str, bytes]:
    """{region: PEM} from the deployment's folder of AWS RSA-2048 certificates (empty when none is configured)."""
    folder = folder or os.environ.get("INSTANCE_BENCHMARKS_IDENTITY_CERTIFICATES")
    if not folder:
        return {}
    return {path.stem: path.read_bytes() for path in sorted(Path(folder).glob("*.pem")) if REGION.fullmatch(path.stem)}


def verify(document_text: str, rsa2048: str, certificates_by_region: dict[str, bytes]) -> Identity:
    """The identity EC2 signed, or Refused: the PKCS7 must carry exactly this document, signed by the key of the
    AWS certificate of the region the document names."""
    if len(document_text.encode()) > MAX_DOCUMENT_BYTES:
        raise Refused(f"the identity document is over {MAX_DOCUMENT_BYTES} bytes: not one IMDS serves")
    try:
        claimed = json.loads(document_text)
    except ValueError:
        raise Refused("the identity document is not JSON") from None
    region = claimed.get("region") if isinstance(claimed, dict) else None
    if not isinstance(region, str) or not REGION.fullmatch(region):
        raise Refused("the identity document names no region")
    if region not in certificates_by_region:
        raise Refused(f"no AWS RSA-2048 certificate is configured for {region} "
                      "(INSTANCE_BENCHMARKS_IDENTITY_CERTIFICATES/<region>.pem, from AWS's documentation)")
    signed = _signed_content(rsa2048, certificates_by_region[region])
    if signed != document_text.encode():
        raise Refused("the signature is over another document than the one submitted")
    return Identity.from_document(claimed)


def _signed_content(rsa2048: str, certificate_pem: bytes) -> bytes:
    """The content of the PKCS7 SignedData, once its signature is verified with the certificate's key."""
    from asn1crypto import cms
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    body = re.sub(r"-----(BEGIN|END) [A-Z0-9 ]+-----|\s", "", rsa2048)
    try:
        info = cms.ContentInfo.load(base64.b64decode(body, validate=True))
        if info["content_type"].native != "signed_data":
            raise Refused("the signature is not a PKCS7 SignedData")
        signed_data = info["content"]
        content = signed_data["encap_content_info"]["content"].native
        (signer,) = signed_data["signer_infos"]
        digest = signer["digest_algorithm"]["algorithm"].native
        signature = signer["signature"].native
        attributes = signer["signed_attrs"]
    except Refused:
        raise
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise Refused(f"the signature is not a PKCS7 EC2 serves ({type(exc).__name__})") from None
    if not isinstance(content, bytes):
        raise Refused("the PKCS7 carries no document")
    if digest != "sha256":
        raise Refused(f"the signature's digest is {digest}; the RSA-2048 signature is SHA-256")
    if attributes.native:
        digests = [a["values"][0].native for a in attributes if a["type"].native == "message_digest"]
        if digests != [hashlib.sha256(content).digest()]:
            raise Refused("the signed digest is not the document's")
        signed_bytes = attributes.untag().dump()  # what was signed: the attributes as a SET, not [0] IMPLICIT
    else:
        signed_bytes = content
    key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Refused("the configured certificate is not an RSA-2048 one (AWS publishes DSA, RSA and RSA-2048)")
    try:
        key.verify(signature, signed_bytes, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Refused("the signature is not by the AWS certificate of the document's region: forged or "
                      "re-signed") from None
    return content


def disagreements(identity: Identity, result: dict[str, Any], *, fetched_at: str | None) -> list[str]:
    """Where the result document says otherwise than the identity EC2 signed (empty: they agree)."""
    found = []
    host = result.get("host") or {}
    for field, signed in (("instance_type", identity.instance_type), ("region", identity.region),
                          ("instance_id", identity.instance_id)):
        said = host.get(field)
        if said is not None and said != signed:
            found.append(f"the result says {field} {said!r}, EC2 signed {signed!r}")
    started, finished = (_time(result.get(key)) for key in ("started_at", "finished_at"))
    fetched = _time(fetched_at)
    if started is None or finished is None or fetched is None:
        found.append("the result lacks started_at, finished_at or the identity's fetched_at")
    else:
        if not identity.pending_time <= fetched:
            found.append(f"the identity was fetched ({fetched_at}) before the instance started "
                         f"({identity.pending_time.isoformat()})")
        if not identity.pending_time <= started <= finished:
            found.append("the run did not happen on the running instance: it started before the instance did, "
                         "or finished before it started")
        if not started <= fetched <= finished:
            found.append("the identity was not fetched during the run")
    return found


def _time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
