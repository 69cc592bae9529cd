"""What EC2 signs of the instance a contributed run ran on (`benchrun all --contribute`, issue 32): the instance
identity document and its RSA-2048 PKCS7 signature, read from IMDS with a session token (IMDSv2, which works
whether the instance requires tokens or not). The project checks the signature against AWS's certificate for the
region (instance_benchmarks.identity); nothing here judges it.

AWS_EC2_METADATA_SERVICE_ENDPOINT, the variable the AWS SDKs read, points it elsewhere (the tests' fake IMDS).
"""

from __future__ import annotations

import datetime
import os
import urllib.error
import urllib.request
from typing import Any

DEFAULT_ENDPOINT = "http://169.254.169.254"
TOKEN_TTL_S = 300


class NotOnEc2(Exception):
    """IMDS did not answer: --contribute needs an EC2 instance."""


def read_identity(timeout: float = 2.0) -> dict[str, Any]:
    """The identity document and its signature as IMDS serves them, and when they were read."""
    endpoint = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")
    if not endpoint.startswith(("http://", "https://")):
        raise NotOnEc2(f"AWS_EC2_METADATA_SERVICE_ENDPOINT is not an http(s) URL: {endpoint!r}")
    try:
        token = _call(f"{endpoint}/latest/api/token", timeout, method="PUT",
                      headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_S)})
        read = {name: _call(f"{endpoint}/latest/dynamic/instance-identity/{name}", timeout,
                            headers={"X-aws-ec2-metadata-token": token}) for name in ("document", "rsa2048")}
    except (urllib.error.URLError, OSError) as exc:
        raise NotOnEc2(f"--contribute runs on an EC2 instance: IMDS at {endpoint} did not answer ({exc}); "
                       "if the instance has IMDS off, turn it on (HttpEndpoint=enabled)") from None
    return {"identity_document": read["document"], "rsa2048": read["rsa2048"],
            "fetched_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _call(url: str, timeout: float, *, method: str = "GET", headers: dict[str, str]) -> str:
    request = urllib.request.Request(url, method=method, headers=headers)  # noqa: S310 - http(s), checked above
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.read().decode()
