"""Operators for the stages that wait on a host (deferred on EC2, inline on this machine)."""
