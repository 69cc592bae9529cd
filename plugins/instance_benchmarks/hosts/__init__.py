"""Benchmark hosts: one interface (base.Host), one module per kind of host."""

from __future__ import annotations

from instance_benchmarks.hosts.base import CapacityUnavailable, Host, HostHandle, RunOutcome

__all__ = ["CapacityUnavailable", "Host", "HostHandle", "RunOutcome", "get_host"]


def get_host(target: str) -> Host:
    if target == "local":
        from instance_benchmarks.hosts.local import LocalHost

        return LocalHost()
    if target == "aws":
        from instance_benchmarks.hosts.ec2 import Ec2Host

        return Ec2Host()
    raise ValueError(f"unknown target {target!r}: expected 'local' or 'aws'")
