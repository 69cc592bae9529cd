"""A fake of what EC2 signs and IMDS serves (issue 32): an instance identity document signed the way EC2 signs its
RSA-2048 PKCS7 (SHA-256, signed attributes, the document inside), by a certificate made here, never AWS's; and an
IMDSv2 endpoint serving it (a token first, by PUT; every GET without it is 401, as IMDS answers with
HttpTokens=required). A real one: http://169.254.169.254 on the instance."""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class Signer:
    """A stand-in for EC2's RSA-2048 key and its certificate (PEM)."""

    key: Any
    certificate: Any

    @classmethod
    def make(cls, name: str = "Fake EC2 identity") -> Signer:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                       .public_key(key.public_key()).serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(days=1))
                       .not_valid_after(now + datetime.timedelta(days=365)).sign(key, hashes.SHA256()))
        return cls(key, certificate)

    @property
    def pem(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding

        return self.certificate.public_bytes(Encoding.PEM)

    def rsa2048(self, document: str) -> str:
        """The document's PKCS7 as IMDS serves /rsa2048: base64 DER, no PEM armour."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

        der = (pkcs7.PKCS7SignatureBuilder().set_data(document.encode())
               .add_signer(self.certificate, self.key, hashes.SHA256())
               .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCerts]))
        return base64.b64encode(der).decode()


def identity_document(*, instance_type: str = "m7i.large", region: str = "us-east-1",
                      instance_id: str = "i-0123456789abcdef0", pending: datetime.datetime | None = None) -> str:
    """An identity document shaped as IMDS serves one (pretty-printed JSON, as IMDS prints it)."""
    pending = pending or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10)
    return json.dumps({
        "accountId": "123456789012", "architecture": "x86_64", "availabilityZone": f"{region}a",
        "billingProducts": None, "devpayProductCodes": None, "marketplaceProductCodes": None,
        "imageId": "ami-0abcdef1234567890", "instanceId": instance_id, "instanceType": instance_type,
        "kernelId": None, "pendingTime": pending.strftime("%Y-%m-%dT%H:%M:%SZ"), "privateIp": "10.0.0.12",
        "ramdiskId": None, "region": region, "version": "2017-09-30"}, indent=2)


@contextmanager
def fake_imds(document: str, rsa2048: str) -> Iterator[str]:
    """An IMDSv2 endpoint on loopback serving the document and its signature; yields its base URL."""
    token = "fake-imds-token"  # noqa: S105 - the fake's session token

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                self._answer(200, token)
            else:
                self._answer(400, "")

        def do_GET(self) -> None:  # noqa: N802
            if self.headers.get("X-aws-ec2-metadata-token") != token:
                self._answer(401, "")
                return
            served = {"/latest/dynamic/instance-identity/document": document,
                      "/latest/dynamic/instance-identity/rsa2048": rsa2048}
            self._answer(200, served[self.path]) if self.path in served else self._answer(404, "")

        def _answer(self, status: int, body: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def contributed_document(signer: Signer, *, instance_type: str = "m7i.large", digest: str | None = None,
                         instance_id: str = "i-0123456789abcdef0", cpu_model: str | None = None,
                         scale: float = 1.0, counted_mhz: float | None = None) -> dict[str, Any]:
    """A result document as `benchrun all --contribute` writes it on an instance: a stored test document's figures
    (a real run's, scaled), the host as the runner sees it in a container (no instance type, no provenance), and
    an identity signed by `signer`, launched an hour before the run and read as it started."""
    import uuid

    from tests.fakes.documents import variant

    doc = variant(instance_type=instance_type, family="intel", scale=scale, cpu_model=cpu_model,
                  counted_mhz=counted_mhz)
    doc.pop("provenance", None)
    started = datetime.datetime.fromisoformat(doc["started_at"].replace("Z", "+00:00"))
    document = identity_document(instance_type=instance_type, instance_id=instance_id,
                                 pending=started - datetime.timedelta(hours=1))
    doc["document_id"] = str(uuid.uuid4())
    doc["host"] = {"target": "local", "hostname": "ip-10-0-0-12", "instance_type": None, "instance_id": None,
                   "region": None, "availability_zone": None, "ami_id": None, "container_image": None,
                   "container_digest": digest}
    doc["contribution"] = {"identity_document": document, "rsa2048": signer.rsa2048(document),
                           "fetched_at": doc["started_at"]}
    return doc


PUBLISHED_DIGEST = "sha256:" + "2" * 64


def accept_contribution(store: Any, signer: Signer, *, instance_type: str, contributor: str, instance_id: str,
                        scale: float = 1.0) -> dict[str, Any]:
    """A contribution as the contributions DAG accepts it: the real checks pass (signed by `signer`, the image
    published), and the document they produce is stored as contributed. Its submission id is the instance id's
    digits, padded: one per instance."""
    from instance_benchmarks import contribution_checks

    doc = contributed_document(signer, instance_type=instance_type, digest=PUBLISHED_DIGEST,
                               instance_id=instance_id, scale=scale)
    verdicts, stored = contribution_checks.check(
        doc, submission_id=instance_id.removeprefix("i-").rjust(32, "0"), contributor=contributor,
        certificates={"us-east-1": signer.pem}, published={PUBLISHED_DIGEST}, seen=set())
    assert stored is not None, [v for v in verdicts if not v.passed]
    store.store_contributed(stored)
    return stored
