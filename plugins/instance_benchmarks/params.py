"""The trigger form of `instance_benchmarks`: every param with a JSON schema, so a
bad value is refused before a run starts, with a message naming the param."""

from __future__ import annotations

import datetime
import os
import re
from typing import Any

from airflow.sdk import Param

from instance_benchmarks import ALLOW_TEST_PROFILE_VARIABLE, DEFAULT_DATA_DIR, TEST_PROFILE, allows_test_profile

MAX_TIME_BUDGET_S = 86400


def whole(body: str) -> str:
    """A pattern the whole value must match, with no trailing newline, in Python's `re` and the browser's alike.

    Python's `$` also matches before a final newline, so `^...$` let `m7i.large\n` through jsonschema;
    `(?!\n)` after it refuses that, and is a no-op in ECMAScript, where `$` is the end of the text.
    """
    return f"^(?:{body})$(?!\\n)"


# A size may carry a hyphen (c7a.metal-48xl, m7i.metal-24xl are real types), never a shell metacharacter.
INSTANCE_TYPE = r"[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*"
INSTANCE_TYPE_PATTERN = whole(rf"{INSTANCE_TYPE}|[a-z][a-z0-9-]*|all")
REGION = r"[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d"
# Shared by every DAG's trigger form.
REGION_PATTERN = whole(REGION)
# What a refused instance type is told (the form shows one item per line of its text area)
TYPES_EXPECTED = "one per line: an instance type such as m7i.large, a family such as c7g, or all"
# One path segment below an allowed prefix: never empty, never `.` or `..` (nor their percent-encoded forms).
URI_SEGMENT = r"/(?!(?:\.|%2[eE]){1,2}(?:/|$))[^/\s]+"
# A repository path in a registry, as Docker spells one (components start and end with a letter or digit).
REPOSITORY = r"(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)+"
# The housekeeping DAGs' defaults (janitor, catalog_refresh, weekly_refresh): retried after a minute, backing off.
HOUSEKEEPING_DEFAULT_ARGS = {"owner": "instance-benchmarks", "retries": 2, "retry_delay": datetime.timedelta(minutes=1),
                             "retry_exponential_backoff": True}


def default_results_uri() -> str:
    return os.environ.get("INSTANCE_BENCHMARKS_RESULTS_URI") or DEFAULT_DATA_DIR.as_uri()


def _listed(variable: str) -> list[str]:
    return [item.strip() for item in os.environ.get(variable, "").split(",") if item.strip()]


def literal(text: str) -> str:
    """`text` as a pattern that matches only itself, in Python's `re` and the browser's (with or without the `u` flag,
    which refuses `re.escape`'s `\\-`)."""
    return re.sub(r"[.^$*+?()\[\]{}|\\/]", r"\\\g<0>", text)


# What a trigger may point at is the deployment's choice, not the triggering user's (Airflow leaves conf checking to
# DAG authors): each allowlist below is read from the environment when the DAG is parsed and becomes the param's
# schema, so the form, the REST API and dag.test refuse anything else, naming the param.
def allowed_aws_conn_ids() -> list[str]:
    """The deployment's connection, and those in $INSTANCE_BENCHMARKS_ALLOWED_AWS_CONN_IDS (comma-separated)."""
    return list(dict.fromkeys([default_aws_conn_id(), *_listed("INSTANCE_BENCHMARKS_ALLOWED_AWS_CONN_IDS")]))


def results_uri_prefixes() -> list[str]:
    """The default results location, and those in $INSTANCE_BENCHMARKS_RESULTS_PREFIXES (comma-separated URIs)."""
    prefixes = [default_results_uri(), *_listed("INSTANCE_BENCHMARKS_RESULTS_PREFIXES")]
    return list(dict.fromkeys(prefix.rstrip("/") for prefix in prefixes))


def allowed_image_registries() -> list[str]:
    """Registries runner images may come from: $INSTANCE_BENCHMARKS_IMAGE_REGISTRIES (comma-separated `host` or
    `host:port`; a bare host allows any port), else only this machine's (`127.0.0.1`, where `make images` pushes);
    the registry of the deployment's own repository ($INSTANCE_BENCHMARKS_IMAGE_REPOSITORY) always."""
    own = [repository.split("/", 1)[0]] if (repository := default_image_repository()) else []
    return list(dict.fromkeys([*(_listed("INSTANCE_BENCHMARKS_IMAGE_REGISTRIES") or ["127.0.0.1"]), *own]))


def results_uri_pattern(prefixes: list[str]) -> str:
    """A location at or below one of `prefixes`, with no `..`, `.` or empty segment that could step outside it."""
    return whole("|".join(f"{literal(prefix)}(?:{URI_SEGMENT})*/?" for prefix in prefixes))


def image_registry_pattern(registries: list[str]) -> str:
    """Empty (each instance builds its image) or a repository in one of `registries`."""
    hosts = [literal(r) if ":" in r else f"{literal(r)}(?::[0-9]{{1,5}})?" for r in registries]
    return whole("|" + "|".join(f"{host}{REPOSITORY}" for host in hosts))


def aws_conn_id_param(description: str = "Credentials, region and (for tests or a proxy) endpoint_url for every "
                      "AWS call.", **kwargs: Any) -> Param:
    """One of the deployment's connections (a drop-down in the form)."""
    allowed = allowed_aws_conn_ids()
    return Param(default_aws_conn_id(), type="string", enum=allowed, title="AWS connection id",
                 description=f"{description} Allowed: {', '.join(allowed)} "
                 "($INSTANCE_BENCHMARKS_ALLOWED_AWS_CONN_IDS).", **kwargs)


def results_uri_param(description: str = "Where documents, the dataset and reports go.") -> Param:
    prefixes = results_uri_prefixes()
    return Param(default_results_uri(), type="string", pattern=results_uri_pattern(prefixes), title="Results URI",
                 description=f"{description} At or below: {', '.join(prefixes)} "
                 "($INSTANCE_BENCHMARKS_RESULTS_PREFIXES); no `..`.")


def default_target() -> str:
    """`local` unless the deployment says otherwise, so `make run` works on a laptop."""
    return os.environ.get("INSTANCE_BENCHMARKS_TARGET", "local")


def default_aws_conn_id() -> str:
    """The deployment's AWS connection ($INSTANCE_BENCHMARKS_AWS_CONN_ID), for every DAG that calls AWS."""
    return os.environ.get("INSTANCE_BENCHMARKS_AWS_CONN_ID", "aws_default")


def catalog_regions() -> list[str]:
    """Where the catalog is read and new families launch ($INSTANCE_BENCHMARKS_CATALOG_REGIONS, comma-separated)."""
    return [r.strip() for r in os.environ.get("INSTANCE_BENCHMARKS_CATALOG_REGIONS", "us-east-1").split(",")
            if r.strip()]


def launch_regions() -> list[str]:
    """The regions a run may launch in, each one the janitor sweeps (janitor.regions_to_sweep): the catalog's, and
    AWS_DEFAULT_REGION (where a run without a region param lands when its connection names none)."""
    return list(dict.fromkeys([*catalog_regions(), *filter(None, [os.environ.get("AWS_DEFAULT_REGION")])]))


def default_instance_types() -> list[str]:
    """What the weekly schedule benchmarks: $INSTANCE_BENCHMARKS_INSTANCE_TYPES (comma-separated, e.g. `all`)."""
    return _listed("INSTANCE_BENCHMARKS_INSTANCE_TYPES")


# A run from the form is one person's question, not the weekly refresh: its defaults are the deployment's manual
# ones (issue 28 item 1), so pressing Trigger on an AWS deployment whose weekly list is `all` plans nothing, and what
# a user does type is capped by the manual budget.
def manual_instance_types() -> list[str]:
    """The form's default types: $INSTANCE_BENCHMARKS_MANUAL_INSTANCE_TYPES (comma-separated), none unless set."""
    return _listed("INSTANCE_BENCHMARKS_MANUAL_INSTANCE_TYPES")


def manual_budget_usd() -> float | None:
    """The form's default budget: $INSTANCE_BENCHMARKS_MANUAL_BUDGET_USD, no limit unless set."""
    budget = os.environ.get("INSTANCE_BENCHMARKS_MANUAL_BUDGET_USD", "").strip()
    return float(budget) if budget else None


def default_image_repository() -> str | None:
    """The deployment's runner image repository ($INSTANCE_BENCHMARKS_IMAGE_REPOSITORY, where `make images
    REGISTRY=...` pushed), which every run pulls unless its conf names another; unset: each instance builds it."""
    return os.environ.get("INSTANCE_BENCHMARKS_IMAGE_REPOSITORY", "").strip().rstrip("/") or None


def explained(pattern: str, expected: str) -> dict[str, Any]:
    """A string schema that admits what `pattern` matches and, refusing a value, says `expected` (an example a user
    can copy) rather than the regex: jsonschema words a failed `pattern` as the regex itself, a failed `const` as
    the value it wanted (`'<expected>' was expected`), and the form shows that first line."""
    return {"if": {"pattern": pattern}, "else": {"const": expected}}  # `pattern` passes a non-string (null)


# The weekly refresh's time budget per type: the standard profile gives HPL half of it (270 s) and its scaling
# curve 15% (81 s); with the launch, agent, pull and terminate the whole host then came to 10.1 to 10.6 minutes
# (issue 30 item 0), so a week also sets each host's whole time: the plan fits HPL's budgets into what the
# type's other stages leave of 10 minutes (planning.within_host_budget).
WEEKLY_TIME_BUDGET_S = 540
WEEKLY_HOST_TIME_BUDGET_S = 600
# Two hosts per type, in different zones where offered: the interval then holds host-to-host variance (issue 15).
WEEKLY_INSTANCES_PER_TYPE = 2
MAX_INSTANCES_PER_TYPE = 4


def weekly_settings(target: str = "aws") -> dict[str, Any]:
    """The weekly refresh's profile, time budget per type, each host's whole time, hosts per type and budget
    ($INSTANCE_BENCHMARKS_WEEKLY_PROFILE, ..._WEEKLY_TIME_BUDGET_S, ..._WEEKLY_HOST_TIME_BUDGET_S,
    ..._WEEKLY_INSTANCES_PER_TYPE, ..._WEEKLY_BUDGET_USD). On target=local there is one host, this machine: no
    instances_per_type and no host budget (nothing is launched)."""
    settings: dict[str, Any] = {
        "profile": os.environ.get("INSTANCE_BENCHMARKS_WEEKLY_PROFILE", "standard"),
        "time_budget_s": int(os.environ.get("INSTANCE_BENCHMARKS_WEEKLY_TIME_BUDGET_S", WEEKLY_TIME_BUDGET_S)),
    }
    if target == "aws":
        settings["host_time_budget_s"] = int(os.environ.get("INSTANCE_BENCHMARKS_WEEKLY_HOST_TIME_BUDGET_S")
                                             or WEEKLY_HOST_TIME_BUDGET_S)
        settings["instances_per_type"] = int(os.environ.get("INSTANCE_BENCHMARKS_WEEKLY_INSTANCES_PER_TYPE")
                                             or WEEKLY_INSTANCES_PER_TYPE)
    # always named: the form's default is the manual budget, which a week must not inherit
    budget = os.environ.get("INSTANCE_BENCHMARKS_WEEKLY_BUDGET_USD", "").strip()
    settings["budget_usd"] = float(budget) if budget else None
    return settings


# A run of the weekly catalog is sized to end within a day; past this, it is failed (its teardowns still terminate)
# so it cannot hold every later run behind it (max_active_runs=1) until the next week.
RUN_TIMEOUT_H = 36


def hosts_at_once() -> int:
    """How many hosts benchmark at once: $INSTANCE_BENCHMARKS_HOSTS_AT_ONCE, the size the deployment gives the
    instance_benchmarks_hosts pool (compose's airflow-init and `make up` create it from the same variable)."""
    return int(os.environ.get("INSTANCE_BENCHMARKS_HOSTS_AT_ONCE") or 16)


def run_timeout() -> datetime.timedelta:
    """How long a benchmark run may last before the scheduler fails it: $INSTANCE_BENCHMARKS_RUN_TIMEOUT_H (36)."""
    return datetime.timedelta(hours=float(os.environ.get("INSTANCE_BENCHMARKS_RUN_TIMEOUT_H") or RUN_TIMEOUT_H))


def new_families_per_day() -> int:
    """How many families with never-measured types catalog_refresh measures a day ($INSTANCE_BENCHMARKS_NEW_FAMILIES_
    PER_DAY, 1): each run costs up to the weekly budget, and a new deployment's backlog is the whole catalog."""
    return int(os.environ.get("INSTANCE_BENCHMARKS_NEW_FAMILIES_PER_DAY") or 1)


def weekly_run_id(week: datetime.date, name: str) -> str:
    """One instance_benchmarks run of a week (`weekly__2026-11-29__us-east-1__on-demand__2h`), so the week's runs
    can be found and a week is never run twice."""
    return f"weekly__{week.isoformat()}__{name}"


def weekly_markets() -> list[str]:
    """The markets the weekly plan may choose ($INSTANCE_BENCHMARKS_WEEKLY_MARKETS, comma-separated): on-demand,
    or on-demand and spot (a spot host costs less and may be interrupted: the plan weighs both)."""
    markets = _listed("INSTANCE_BENCHMARKS_WEEKLY_MARKETS") or ["on-demand"]
    unknown = sorted(set(markets) - {"on-demand", "spot"})
    if unknown:
        raise ValueError(f"INSTANCE_BENCHMARKS_WEEKLY_MARKETS: {unknown} are not markets (on-demand, spot)")
    return markets


def profile_choices() -> list[str]:
    """The runner's profiles a trigger may ask for: the test profile only where the deployment allows it."""
    return ["quick", "standard", *([TEST_PROFILE] if allows_test_profile() else [])]


def benchmark_params() -> dict[str, Param]:
    budget = manual_budget_usd()
    return {
        "target": Param(
            default_target(),
            enum=["local", "aws"],
            title="Target",
            description="`local` benchmarks the machine Airflow runs on; `aws` launches EC2 instances.",
        ),
        "instance_types": Param(
            manual_instance_types(),
            type=["null", "array"],  # null: optional in the UI's form too (target=local needs none)
            items={"type": "string", **explained(INSTANCE_TYPE_PATTERN, TYPES_EXPECTED)},
            uniqueItems=True,
            maxItems=1000,
            title="Instance types or families",
            description="One per line: a type (`m7i.large`), a family (`c7g`) or `all` (current generation). "
            "target=aws only: for target=local the host is this machine. Empty: none "
            "($INSTANCE_BENCHMARKS_MANUAL_INSTANCE_TYPES), the weekly refresh names its own. Runs go one at a "
            "time: a run triggered while the weekly refresh runs is queued until it ends (hours for a whole "
            "catalog).",
        ),
        "repetitions": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=50,
            title="Repetitions",
            description="Independent runs of each benchmark (for the confidence interval). "
            "Empty: the profile's default (quick: STREAM 3, HPL 3; standard: STREAM 5, HPL 3).",
        ),
        "profile": Param(
            "quick",
            enum=profile_choices(),
            title="Profile",
            description="`quick` finishes in about 3 minutes per host; `standard` uses the time budget."
            + (f" `{TEST_PROFILE}`: plumbing checks only, never a figure (${ALLOW_TEST_PROFILE_VARIABLE})."
               if allows_test_profile() else ""),
        ),
        "time_budget_s": Param(
            1800,
            type="integer",
            minimum=60,
            maximum=MAX_TIME_BUDGET_S,
            title="Time budget per instance (seconds)",
            description="Caps HPL's problem size so the suite finishes within it.",
        ),
        "host_time_budget_s": Param(
            None,
            type=["null", "integer"],
            minimum=300,
            maximum=MAX_TIME_BUDGET_S,
            title="Whole-host time budget (seconds, optional)",
            description="Each host's predicted time from launch to terminate: HPL's solves and scaling curve get "
            "what the type's launch, agent, image and STREAM leave of it (at most what the time budget gives "
            f"them). target=aws only. The weekly refresh uses {WEEKLY_HOST_TIME_BUDGET_S}; empty: not capped.",
        ),
        "instances_per_type": Param(
            1,
            type="integer",
            minimum=1,
            maximum=MAX_INSTANCES_PER_TYPE,
            title="Instances per type",
            description="Hosts measured per instance type, each in the next zone where offered: with 2 or more, "
            "a type's interval is computed across hosts, so it holds host-to-host variance. target=aws only "
            "(this machine is one host). The weekly refresh uses 2.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Plan and preview only: nothing is launched or benchmarked.",
        ),
        "skip_measured_since": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Skip types measured since",
            description="A date (YYYY-MM-DD): types with a stored document in the run's region dated on or after "
            "it are skipped at plan with their date. A backfilled week of weekly_refresh sets it to the week's "
            "start, so it measures only what has not been measured since. Empty: measure every type.",
        ),
        "budget_usd": Param(
            budget,
            type=["null", "number"],
            minimum=0,
            title="Budget (USD)",
            description="The most this run may spend: types are taken in order while their predicted cost "
            "fits; the rest are skipped with reason `budget` before anything launches. The default is the "
            "deployment's ($INSTANCE_BENCHMARKS_MANUAL_BUDGET_USD: "
            + ("unset" if budget is None else f"${budget:g}") + "). Empty: no limit.",
        ),
        "price_per_hour": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=1000,
            title="Price per hour (USD, target=local)",
            description="What this machine costs per hour, for price-performance of a local run. "
            "Empty: no price metrics. On AWS, prices come from the Price List API and spot history.",
        ),
        **aws_params(),
        "results_uri": results_uri_param(),
    }


def aws_params() -> dict[str, Param]:
    """target=aws only: the connection, where instances launch, and how (docs/aws.md)."""
    section = "AWS (target=aws)"
    registries = allowed_image_registries()
    return {
        "aws_conn_id": aws_conn_id_param(section=section),
        "region": Param(
            None,
            type=["null", "string"],
            # only where the hourly janitor looks for what a run leaves behind (issue 28 item 13)
            pattern=whole("|".join(literal(region) for region in launch_regions())),
            title="Region",
            description=f"One of {', '.join(launch_regions())} ($INSTANCE_BENCHMARKS_CATALOG_REGIONS, "
            "AWS_DEFAULT_REGION): the regions the janitor sweeps. Empty: the connection's region_name (swept too).",
            section=section,
        ),
        "subnet_ids": Param(
            [],
            type=["null", "array"],  # optional: a cleared field is submitted as null
            items={"type": "string", "pattern": whole(r"subnet-[0-9a-f]{8,17}")},
            uniqueItems=True,
            title="Subnets",
            description="Tried in order when a zone has no capacity. Empty: the default VPC's default subnets. "
            "Instances need a route to SSM, S3 (and ECR): a NAT gateway, VPC endpoints, or public_ip.",
            section=section,
        ),
        "security_group_ids": Param(
            [],
            type=["null", "array"],
            items={"type": "string", "pattern": whole(r"sg-[0-9a-f]{8,17}")},
            uniqueItems=True,
            title="Security groups",
            description="Empty: the project's group with no inbound rule (created once per VPC).",
            section=section,
        ),
        "instance_profile": Param(
            "instance-benchmarks",
            type="string",
            pattern=whole(r"[A-Za-z0-9+=,.@_-]{1,128}"),
            title="Instance profile",
            description="Lets the SSM agent register and the runner upload its document (include/iam/).",
            section=section,
        ),
        "image_registry": Param(
            default_image_repository(),
            type=["null", "string"],
            pattern=image_registry_pattern(registries),
            title="Runner image repository",
            description="e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/instance-benchmarks` "
            "(push with `make images REGISTRY=...`). The default is the deployment's "
            "($INSTANCE_BENCHMARKS_IMAGE_REPOSITORY). Empty: each instance builds the image from "
            f"the bundled context (slower; the Intel image is large). Registries allowed: {', '.join(registries)} "
            "($INSTANCE_BENCHMARKS_IMAGE_REGISTRIES).",
            section=section,
        ),
        "market": Param(
            "on-demand",
            enum=["on-demand", "spot", "spot-then-on-demand"],
            title="Market",
            description="`spot-then-on-demand` falls back to on-demand when spot has no capacity or quota.",
            section=section,
        ),
        "public_ip": Param(
            False,
            type="boolean",
            title="Public IP",
            description="Give instances a public IP (no inbound rule either way), for subnets without NAT.",
            section=section,
        ),
        "agent_timeout_s": Param(
            900,
            type="integer",
            minimum=60,
            maximum=3600,
            title="SSM agent timeout (seconds)",
            description="How long to wait for a new instance's SSM agent before failing with what to check.",
            section=section,
        ),
        "aws_max_attempts": Param(
            10,
            type="integer",
            minimum=1,
            maximum=30,
            title="Attempts per AWS call",
            description="botocore's standard retry mode: throttling and transient errors are retried with "
            "backoff up to this many attempts in all.",
            section=section,
        ),
        "poll_interval_s": Param(
            float(os.environ.get("INSTANCE_BENCHMARKS_POLL_INTERVAL_S") or 15),
            type="number",
            minimum=0.1,
            maximum=300,
            title="Poll interval (seconds)",
            description="How often the deferred waits ask AWS (SSM agent, command status, termination). "
            "Default: $INSTANCE_BENCHMARKS_POLL_INTERVAL_S, else 15.",
            section=section,
        ),
    }
