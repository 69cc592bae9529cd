"""A Service Quotas client that behaves like AWS for EC2's vCPU quotas (moto knows none).

Like AWS: `list_service_quotas` answers the account's applied values only,
`list_aws_default_service_quotas` the defaults; both paginate; an unknown service
code raises NoSuchResourceException. Quota names and the codes below are AWS's own
(Standard L-1216C47A / L-34B43A08, G and VT L-DB2E81BA / L-3819A6DF, P L-417A185B /
L-7212CCBC); entries marked TEST- are invented for tests of classes whose codes
were not checked. The values are test settings, not AWS's defaults (an account's
real values are whatever its ListServiceQuotas answers).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

DEFAULT_QUOTAS = [
    ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", 1152.0),
    ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", 1152.0),
    ("L-DB2E81BA", "Running On-Demand G and VT instances", 64.0),
    ("L-3819A6DF", "All G and VT Spot Instance Requests", 64.0),
    ("L-417A185B", "Running On-Demand P instances", 0.0),
    ("L-7212CCBC", "All P Spot Instance Requests", 0.0),
    ("TEST-DL-ON-DEMAND", "Running On-Demand DL instances", 96.0),
]


class FakeServiceQuotas:
    """`applied` overrides default values by quota code, as an accepted quota increase would.

    `answer(operation, params)` is the API (installed by tests/fakes/aws.py for boto3
    clients); `get_paginator` lets a unit test pass the fake itself as the client.
    """

    page_size = 2  # small, so that pagination is exercised

    def __init__(self, applied: dict[str, float] | None = None) -> None:
        self.applied = dict(applied or {})

    def _quota(self, code: str, name: str, value: float) -> dict[str, Any]:
        return {"ServiceCode": "ec2", "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
                "QuotaCode": code, "QuotaName": name, "Value": value, "Unit": "None", "Adjustable": True}

    def answer(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("ServiceCode") != "ec2":
            raise ClientError({"Error": {"Code": "NoSuchResourceException",
                                         "Message": f"The request failed because the specified service "
                                                    f"{params.get('ServiceCode')} does not exist."}}, operation)
        if operation == "list_service_quotas":
            quotas = [self._quota(code, name, self.applied[code]) for code, name, _ in DEFAULT_QUOTAS
                      if code in self.applied]
        elif operation == "list_aws_default_service_quotas":
            quotas = [self._quota(code, name, value) for code, name, value in DEFAULT_QUOTAS]
        else:
            raise NotImplementedError(f"FakeServiceQuotas does not implement {operation}")
        start = int(params.get("NextToken") or 0)
        answer: dict[str, Any] = {"Quotas": quotas[start:start + self.page_size]}
        if start + self.page_size < len(quotas):
            answer["NextToken"] = str(start + self.page_size)
        return answer

    def get_paginator(self, operation: str) -> _Paginator:
        return _Paginator(self, operation)


class _Paginator:
    def __init__(self, fake: FakeServiceQuotas, operation: str) -> None:
        self._fake, self._operation = fake, operation

    def paginate(self, **params: Any):
        while True:
            page = self._fake.answer(self._operation, params)
            yield page
            if "NextToken" not in page:
                return
            params = {**params, "NextToken": page["NextToken"]}
