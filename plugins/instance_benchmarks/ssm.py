"""SSM Run Command for the AWS target: the runner's script, sending it, reading its outcome.

The document is uploaded to S3 by the instance itself (SSM keeps only 24,000
characters of output), so the script is: pull the image, run benchrun in it with
the document written to a mounted directory, copy the document to the staging
key, exit with benchrun's status. Every value from a plan or a param reaches the
shell through shlex.quote: an instance type like `m7i.large;reboot` stays a string.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

DOCUMENT = "AWS-RunShellScript"
TERMINAL_STATUSES = frozenset({"Success", "Failed", "Cancelled", "TimedOut", "DeliveryTimedOut",
                               "ExecutionTimedOut", "Undeliverable", "Terminated"})
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
OUTPUT_TAIL_CHARS = 2000


def runner_script(*, image: str, benchrun_args: list[str], staging_uri: str, env: dict[str, str]) -> list[str]:
    """The AWS-RunShellScript `commands` for one benchrun invocation on an instance."""
    if not staging_uri.startswith("s3://"):
        raise ValueError(f"staging_uri must be an s3:// URI, got {staging_uri!r}")
    bad = [name for name in env if not _ENV_NAME.match(name)]
    if bad:
        raise ValueError(f"invalid environment variable names: {bad}")
    env_flags = " ".join(f"-e {shlex.quote(f'{k}={v}')}" for k, v in sorted(env.items()))
    args = " ".join(shlex.quote(a) for a in benchrun_args)
    return [
        "set -uo pipefail",
        f"image={shlex.quote(image)}",
        f"staging={shlex.quote(staging_uri)}",
        'out="$(mktemp -d)" && chmod 0777 "$out"',
        'docker pull --quiet "$image" || { echo "docker pull failed for $image" >&2; exit 3; }',
        "digest=\"$(docker image inspect --format '{{index .RepoDigests 0}}' \"$image\" 2>/dev/null || true)\"",
        # --network none: the benchmarks need no network; SYS_NICE lets numactl bind memory.
        f'docker run --rm --network none --cap-add SYS_NICE -v "$out:/out" {env_flags} '
        f'-e "BENCHRUN_CONTAINER_IMAGE=$image" -e "BENCHRUN_CONTAINER_DIGEST=$digest" '
        f'"$image" {args} --out /out/result.json',
        "status=$?",
        'if [ -s "$out/result.json" ]; then aws s3 cp --only-show-errors "$out/result.json" "$staging" '
        '|| { echo "upload to $staging failed" >&2; exit 4; }; fi',
        'exit "$status"',
    ]


def send(ssm_client: Any, *, instance_id: str, commands: list[str], timeout_s: int, comment: str) -> str:
    """Send the script to one instance; returns the command id."""
    response = ssm_client.send_command(
        DocumentName=DOCUMENT,
        InstanceIds=[instance_id],
        Parameters={"commands": commands, "executionTimeout": [str(int(timeout_s))]},
        TimeoutSeconds=600,  # to be delivered; the execution timeout above bounds the run
        Comment=comment[:100],
    )
    return response["Command"]["CommandId"]


def outcome(ssm_client: Any, *, command_id: str, instance_id: str) -> dict[str, Any]:
    """Status, exit code and output tails of one invocation; `done` once it is terminal."""
    invocation = ssm_client.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
    status = invocation["Status"]
    return {
        "status": status,
        "done": status in TERMINAL_STATUSES,
        "exit_code": invocation.get("ResponseCode"),
        "stdout_tail": (invocation.get("StandardOutputContent") or "")[-OUTPUT_TAIL_CHARS:],
        "stderr_tail": (invocation.get("StandardErrorContent") or "")[-OUTPUT_TAIL_CHARS:],
    }


def agent_online(ssm_client: Any, instance_id: str) -> bool:
    """Whether this instance's SSM agent has registered and answers pings."""
    response = ssm_client.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
    return any(info.get("PingStatus") == "Online" for info in response.get("InstanceInformationList", []))
