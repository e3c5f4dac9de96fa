"""The input models every workflow step handler parses (functions/job_steps, bootstrap_steps).

A step's input is what its state machine's ``Payload`` builds; a Catch puts ``{"Error",
"Cause"}`` at its ResultPath, which :class:`StepError` reads. Step handlers validate with these
and pass the fields on to one service function.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class StepError(BaseModel):
    """What a Catch puts at its ResultPath: the error's name and its cause (a JSON string)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    error: str = Field(alias="Error", max_length=256)
    cause: str | None = Field(default=None, alias="Cause")


class JobStep(BaseModel):
    """A step of one job's or one bootstrap job's workflow."""

    job_id: UUID

    @property
    def job_ref(self) -> str:
        """The id as the data layer spells it: lower-case, hyphenated."""
        return str(self.job_id)


class PollStep(JobStep):
    """A look at something the workflow waits for; ``attempt`` counts the earlier looks."""

    attempt: int = Field(ge=0, le=10_000)


class FailStep(JobStep):
    """The step that ends a workflow that failed, with what its Catch caught."""

    error: StepError


class BootstrapFailStep(FailStep):
    """A failed bootstrap's last step also carries what its cleanup removed."""

    cleanup: dict[str, Any]
