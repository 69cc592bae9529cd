"""The AWS-gap fakes over HTTP, for an Airflow that runs as processes.

Under `dag.test()` the tasks and triggers run in the test's process, where `AwsGaps` patches
botocore. A deployed Airflow (scheduler, Celery workers, triggerer: tests/deployment/stack.py)
runs them in other processes that reach AWS over HTTP only, so the same fakes are served here,
in AWS's JSON 1.1 protocol (the protocol of SSM, Service Quotas and the Price List): the
operations an `AwsGaps` handles are answered by it; every other call of those services (SSM
GetParameter for the AMI, for one) is forwarded to moto_server unchanged. The connection
points its `service_config` for ssm, service-quotas and pricing here and everything else at
moto (`connection_extra`).
"""

from __future__ import annotations

import datetime
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tests.fakes.aws import AwsGaps

SERVICES = {"AmazonSSM": "ssm", "ServiceQuotasV20190624": "service-quotas", "AWSPriceListService": "pricing"}
FORWARDED_HEADERS = ("Content-Type", "X-Amz-Target", "X-Amz-Date", "Authorization", "X-Amz-Security-Token")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.timestamp()  # JSON protocols carry timestamps as epoch seconds
    raise TypeError(f"{type(value).__name__} is not JSON")


def _region(authorization: str) -> str:
    """The region of a SigV4 credential scope (Credential=key/date/region/service/aws4_request)."""
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope[2]


class GapServer:
    """Serves `gaps`' handlers on 127.0.0.1 and forwards the rest to `moto_endpoint`; calls are recorded."""

    def __init__(self, gaps: AwsGaps, *, moto_endpoint: str) -> None:
        self.gaps = gaps
        self.moto_endpoint = moto_endpoint
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-gap-server", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def connection_extra(self, region: str) -> dict[str, Any]:
        """`extra` for an `aws` connection: moto for every service, this server for the gaps."""
        return {"endpoint_url": self.moto_endpoint, "region_name": region,
                "service_config": {service: {"endpoint_url": self.endpoint} for service in SERVICES.values()}}

    def __enter__(self) -> GapServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        prefix, operation = target.split(".", 1)
        service = SERVICES[prefix]
        self.gaps.calls.append((service, operation))
        handler = self.gaps.handlers.get((service, operation))
        if handler is None:
            return self.forward(body, headers)
        client = boto3.client(service, region_name=_region(headers["Authorization"]),
                              endpoint_url=self.moto_endpoint, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        try:
            result = handler(client, json.loads(body or b"{}"), lambda: None)
        except ClientError as exc:
            error = exc.response["Error"]
            return 400, json.dumps({"__type": error["Code"], "message": error.get("Message", "")}).encode()
        return 200, json.dumps(result, default=_json_default).encode()

    def forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(self.moto_endpoint + "/", data=body, method="POST",  # noqa: S310 - moto
                                         headers={k: v for k, v in headers.items() if k in FORWARDED_HEADERS})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items()}
                try:
                    status, payload = server.answer(self.headers["X-Amz-Target"], body, headers)
                except Exception as exc:  # noqa: BLE001 - answered as AWS answers an internal error
                    status, payload = 500, json.dumps({"__type": "InternalFailure", "message": repr(exc)}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: Any) -> None:  # the test's log stays readable
                pass

        return Handler
