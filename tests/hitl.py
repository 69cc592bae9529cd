"""Answering Airflow's human-in-the-loop tasks in tests as the REST API's Required Actions endpoint does (the HITL
detail recorded, then the task resumed), or letting their time run out and running the scheduler's own sweep."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any


def answer_waiting(dag_id: str, task_id: str, choose: Callable[[Any], tuple[str, dict[str, Any]] | None]) -> int:
    """Each task instance of `task_id` awaiting input gets what `choose(ti)` says: (option, params input), or
    None to let its deadline pass. Returns how many were waiting."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    timed_out = False
    with create_session() as session:
        waiting = session.scalars(select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id,
            TaskInstance.state == TaskInstanceState.AWAITING_INPUT).options(
                joinedload(TaskInstance.hitl_detail))).all()
        for ti in waiting:
            choice = choose(ti)
            if choice is None:
                ti.trigger_timeout = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
                timed_out = True
                continue
            detail = ti.hitl_detail
            detail.chosen_options, detail.params_input = [choice[0]], choice[1]
            detail.responded_at = datetime.datetime.now(datetime.UTC)
            session.add(detail)
            handle_event_submit(TriggerEvent(detail.as_resume_event_payload(timedout=False)), task_instance=ti,
                                session=session)
    if timed_out:
        SchedulerJobRunner(job=Job()).check_awaiting_input_timeouts()
    return len(waiting)
