"""The host's teardown: terminate the instance as soon as its benchmarks have ended, and wait for it deferred.

Extract, validate and store read the staged documents from S3, never the instance, so the teardown
follows run_hpl and runs beside them: an instance is not paid for while its document is judged
(issue 28 item 12). TerminateInstances returns at once; the wait for `terminated` is the provider's
EC2StateSensorTrigger in the triggerer, so no worker slot is held for it (it was up to 600 s).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context

# How long AWS may take to report an instance terminated before the teardown fails saying so (the janitor
# sweeps it within the hour; its tags and time-to-live bound it either way).
TERMINATED_WITHIN = datetime.timedelta(minutes=10)


class TerminateHostOperator(AwsBaseOperator[EC2Hook]):
    """Terminate the provisioned host (a no-op for target=local) and wait, deferred, until AWS says terminated.

    :param state: provision's output (templated: an XComArg in the DAG); empty when nothing was provisioned
    """

    aws_hook_class = EC2Hook
    template_fields: Sequence[str] = aws_template_fields("state")

    def __init__(self, *, state: dict[str, Any] | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state

    def execute(self, context: Context) -> None:
        from airflow.providers.amazon.aws.triggers.ec2 import EC2StateSensorTrigger

        from instance_benchmarks import pipeline
        from instance_benchmarks.hosts.ec2 import AwsSettings

        params = context["params"]
        handle = pipeline.terminate(self.state, params=params, wait=False)
        if handle is None or handle["target"] != "aws":
            return
        settings = AwsSettings.from_params(params)
        self.log.info("Waiting (deferred) for %s (%s) to be terminated", handle["host_id"], handle["instance_type"])
        self.defer(
            trigger=EC2StateSensorTrigger(instance_id=handle["host_id"], target_state="terminated",
                                          aws_conn_id=settings.aws_conn_id, region_name=settings.region,
                                          poll_interval=settings.poll_interval_s,
                                          botocore_config=settings.botocore_config),
            method_name="execute_complete",
            timeout=TERMINATED_WITHIN,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        self.log.info("%s is terminated", self.state["handle"]["host_id"])
