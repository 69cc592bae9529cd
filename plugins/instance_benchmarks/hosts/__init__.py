"""Benchmark hosts: one interface (base.Host), one module per kind of host."""

from __future__ import annotations

from typing import Any

from instance_benchmarks.hosts.base import CapacityUnavailable, ConfigurationError, Host, HostHandle, RunOutcome

__all__ = ["CapacityUnavailable", "ConfigurationError", "Host", "HostHandle", "RunOutcome", "get_host"]


def get_host(target: str, params: dict[str, Any] | None = None) -> Host:
    """The host for `target`; the AWS host takes its connection and launch settings from the run's params."""
    if target == "local":
        from instance_benchmarks.hosts.local import LocalHost

        return LocalHost(image_registry=(params or {}).get("image_registry"))
    if target == "aws":
        from instance_benchmarks.hosts.ec2 import AwsSettings, Ec2Host

        return Ec2Host(AwsSettings.from_params(params or {}))
    raise ValueError(f"unknown target {target!r}: expected 'local' or 'aws'")
