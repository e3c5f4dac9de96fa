"""The errors a job caller (or the job workflow) can meet, each with its status and code."""

from __future__ import annotations

from timmy.errors import Conflict, NotFound, UpstreamUnavailable


class JobNotFound(NotFound):
    """No job has this id (a malformed id included: it cannot name one either)."""

    code = "job_not_found"


class NothingRefundable(Conflict):
    code = "nothing_refundable"


class AlreadyRefunded(Conflict):
    code = "already_refunded"


class RefundInProgress(Conflict):
    code = "refund_in_progress"


class JobStateError(Conflict):
    """A workflow step found the job in a state it cannot act on (never expected)."""

    code = "job_state_conflict"


class WorkflowUnavailable(UpstreamUnavailable):
    code = "workflow_unavailable"
