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


class _Paginator:
    def __init__(self, pages: list[list[dict[str, Any]]], operation: str) -> None:
        self._pages, self._operation = pages, operation

    def paginate(self, *, ServiceCode: str, **_: Any):  # noqa: N803 - boto3's argument name
        if ServiceCode != "ec2":
            raise ClientError({"Error": {"Code": "NoSuchResourceException",
                                         "Message": f"The request failed because the specified service "
                                                    f"{ServiceCode} does not exist."}}, self._operation)
        for index, page in enumerate(self._pages or [[]]):
            answer: dict[str, Any] = {"Quotas": page}
            if index + 1 < len(self._pages):
                answer["NextToken"] = str(index + 1)
            yield answer


class FakeServiceQuotas:
    """`applied` overrides default values by quota code, as an accepted quota increase would."""

    page_size = 2  # small, so that pagination is exercised

    def __init__(self, applied: dict[str, float] | None = None) -> None:
        self.applied = dict(applied or {})

    def _quota(self, code: str, name: str, value: float) -> dict[str, Any]:
        return {"ServiceCode": "ec2", "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
                "QuotaCode": code, "QuotaName": name, "Value": value, "Unit": "None", "Adjustable": True}

    def _pages(self, quotas: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        return [quotas[i:i + self.page_size] for i in range(0, len(quotas), self.page_size)]

    def get_paginator(self, operation: str) -> _Paginator:
        if operation == "list_service_quotas":
            quotas = [self._quota(code, name, self.applied[code]) for code, name, _ in DEFAULT_QUOTAS
                      if code in self.applied]
        elif operation == "list_aws_default_service_quotas":
            quotas = [self._quota(code, name, value) for code, name, value in DEFAULT_QUOTAS]
        else:
            raise NotImplementedError(f"FakeServiceQuotas does not implement {operation}")
        return _Paginator(self._pages(quotas), operation)
