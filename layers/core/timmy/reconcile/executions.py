"""Is a workflow's execution alive, gone, or stuck?

* **gone**: Step Functions has no such execution (``ExecutionDoesNotExist``: never started,
  or lost with a restart of the local stack), or it is no longer ``RUNNING`` (it failed, timed
  out or was aborted without its last step ending the row). Nothing will ever move the row.
* **stuck**: still ``RUNNING``, but its row has not moved for longer than
  ``RECONCILE_STUCK_AFTER_SECONDS`` past the last moment it legitimately could stay quiet.
* **alive**: anything else; the reconciler leaves it to its workflow.

An execution is named after its job, so a row whose ARN was never recorded (a crash right
after StartExecution) is looked up by the ARN it would have.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from timmy import orchestrator


class Liveness(enum.StrEnum):
    ALIVE = "alive"
    GONE = "gone"
    STUCK = "stuck"


def liveness(
    execution_arn: str | None,
    *,
    state_machine_arn: str,
    name: str,
    quiet_since: datetime,
    now: datetime,
    stuck_after_seconds: int,
) -> Liveness:
    arn = execution_arn or (
        orchestrator.execution_arn_of(state_machine_arn, name) if state_machine_arn else None
    )
    status = None if arn is None else orchestrator.execution_status(arn)
    if status != "RUNNING":
        return Liveness.GONE
    if quiet_since < now - timedelta(seconds=stuck_after_seconds):
        return Liveness.STUCK
    return Liveness.ALIVE
