"""The IAM policies, read against AWS's own action reference (parliament's copy of the Service
Authorization Reference) and linted with parliament, then tied to what the code sends.

The moto end-to-end run checks the other direction: every call it made is granted
(tests/dags/test_instance_benchmarks_aws.py and the janitor's and catalog's tests).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from functools import cache

import pytest

from instance_benchmarks import INCLUDE_DIR
from tests.fakes.aws import PLACEHOLDERS, policy_text

POLICIES = ("airflow-role-policy.json", "instance-role-policy.json", "api-server-policy.json")
# Parliament findings that are parliament's limits, not the policy's, each with why.
ACCEPTED = {
    # Parliament judges each statement alone: RunInstances is split so that each resource type gets its
    # own condition; test_run_instances_statements_together_cover_every_required_resource checks the union.
    ("RESOURCE_MISMATCH", "ec2:RunInstances"),
    # AWS-owned documents and public parameters have ARNs without an account (arn:aws:ssm:*::document/...),
    # which parliament's account-wildcard format does not expect.
    ("RESOURCE_MISMATCH", "ssm:SendCommand"), ("RESOURCE_MISMATCH", "ssm:GetParameter"),
    # CreateSecurityGroup's two resource types each have their own statement (the tag condition applies
    # to the security group only): covered by the same union check.
    ("RESOURCE_MISMATCH", "ec2:CreateSecurityGroup"),
}
# Condition keys AWS adds to every request.
GLOBAL_KEYS = {"aws:RequestedRegion", "aws:SecureTransport", "aws:SourceIp", "aws:PrincipalTag/${TagKey}",
               "aws:PrincipalArn", "aws:userid", "aws:CalledVia", "aws:ViaAWSService"}


def statements(name: str) -> list[dict]:
    return json.loads(policy_text(name))["Statement"]


def as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


@cache
def reference() -> dict[str, dict]:
    """action -> {resource type: condition keys} from parliament's bundled reference."""
    import parliament

    path = os.path.join(os.path.dirname(parliament.__file__), "iam_definition.json")
    found = {}
    for service in json.load(open(path)):
        for privilege in service["privileges"]:
            found[f"{service['prefix']}:{privilege['privilege']}"] = {
                r["resource_type"]: set(r["condition_keys"]) for r in privilege["resource_types"]}
    return found


def resource_formats(service: str) -> dict[str, str]:
    import parliament

    path = os.path.join(os.path.dirname(parliament.__file__), "iam_definition.json")
    for entry in json.load(open(path)):
        if entry["prefix"] == service:
            return {r["resource"]: r["arn"] for r in entry["resources"]}
    return {}


@pytest.mark.parametrize("name", POLICIES)
def test_parliament_finds_nothing_but_its_own_known_limits(name):
    from parliament import analyze_policy_string

    findings = analyze_policy_string(policy_text(name)).findings
    unexpected = [(f.issue, f.detail, f.location) for f in findings
                  if not all((f.issue, d.get("action")) in ACCEPTED for d in (f.detail or [{}]))]
    assert unexpected == []


@pytest.mark.parametrize("name", POLICIES)
def test_every_condition_key_is_one_the_action_supports(name):
    """A key the action never carries makes the statement match nothing: the grant silently fails."""
    def supported(action: str) -> set[str]:
        return set().union(*reference()[action].values()) | GLOBAL_KEYS

    for statement in statements(name):
        for operator_keys in (statement.get("Condition") or {}).values():
            for key in operator_keys:
                for action in as_list(statement["Action"]):
                    templated = re.sub(r"/[^/]+$", "/${TagKey}", key) if "Tag/" in key else key
                    assert key in supported(action) or templated in supported(action), (
                        f"{name} {statement['Sid']}: {action} carries no {key}")


def test_cancel_command_takes_every_resource_as_aws_requires():
    (statement,) = [s for s in statements("airflow-role-policy.json") if "ssm:CancelCommand" in as_list(s["Action"])]
    assert reference()["ssm:CancelCommand"] == {"": set()}  # no resource types, no condition keys
    assert statement["Resource"] == "*" and "Condition" not in statement


@pytest.mark.parametrize("action", ["ec2:RunInstances", "ec2:CreateSecurityGroup"])
def test_run_instances_statements_together_cover_every_required_resource(action):
    formats = resource_formats("ec2")
    granted = [r for s in statements("airflow-role-policy.json") if action in as_list(s["Action"])
               for r in as_list(s["Resource"])]
    required = [t.rstrip("*") for t in reference()[action] if t.endswith("*")]
    assert required
    for resource_type in required:
        example = formats[resource_type].replace("${Partition}", "aws").replace("${Region}", "us-east-1") \
            .replace("${Account}", PLACEHOLDERS["ACCOUNT_ID"])
        example = re.sub(r"\$\{[A-Za-z]+\}", "x", example)
        assert any(fnmatch.fnmatchcase(example, pattern.replace("vpc-0123456789abcdef0", "x")) or
                   fnmatch.fnmatchcase(example, pattern) for pattern in granted), (action, resource_type, example)


def test_launches_are_held_to_what_the_code_sends():
    from instance_benchmarks.hosts import ec2
    from instance_benchmarks.lifetime import PROJECT_TAG

    by_sid = {s["Sid"]: s for s in statements("airflow-role-policy.json")}
    instance = by_sid["LaunchOnlyTaggedInstancesThatRequireImdsV2"]["Condition"]["StringEquals"]
    assert instance == {"aws:RequestTag/project": "instance-benchmarks", "ec2:MetadataHttpTokens": "required"}
    assert by_sid["LaunchOnlyImagesOwnedByAmazon"]["Condition"] == {"StringEquals": {"ec2:Owner": "amazon"}}
    assert by_sid["LaunchOnlyWithTheProjectSecurityGroup"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/project": "instance-benchmarks"}}
    assert by_sid["TheNoInboundSecurityGroupTaggedAtCreation"]["Condition"] == {
        "StringEquals": {"aws:RequestTag/project": "instance-benchmarks"}}
    # ... and the code sends exactly that: IMDSv2 required, hop limit 1 (the containers run with no network
    # and never need the instance's credentials), the project tag on the instance, its volume and the group.
    assert ec2.LAUNCH_METADATA_OPTIONS == {"HttpTokens": "required", "HttpEndpoint": "enabled",
                                           "HttpPutResponseHopLimit": 1}
    assert PROJECT_TAG == "instance-benchmarks"


def test_results_are_never_deleted_and_the_role_is_passed_in_this_account_only():
    airflow = statements("airflow-role-policy.json")
    deletes = [r for s in airflow if "s3:DeleteObject" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    # the rebuilt dataset's old versions, and bulk uploads once taken in as submissions: never a result
    assert deletes == ["arn:aws:s3:::bench-results/ib/dataset/*",
                       "arn:aws:s3:::bench-results/ib/submissions/incoming/*"]
    passes = [r for s in airflow if "iam:PassRole" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    assert passes == ["arn:aws:iam::123456789012:role/instance-benchmarks"]
    raw = (INCLUDE_DIR / "iam" / "airflow-role-policy.json").read_text()
    assert "iam::*:" not in raw and '"Action": "*"' not in raw


def test_no_policy_grants_a_wildcard_action():
    for name in POLICIES:
        for statement in statements(name):
            assert all("*" not in action for action in as_list(statement["Action"])), (name, statement["Sid"])
