"""Settings of the scheduled reconciler (read from the environment, cached)."""

from __future__ import annotations

from typing import Final, Self

from pydantic import Field, model_validator

from timmy.settings import EnvSettings, load

# A reconciler's claim on a row lasts the function's timeout (template.yaml: Timeout: 300):
# older, it belongs to a run that died, and another may take the row.
CLAIM_LEASE_SECONDS: Final = 300


class ReconcileSettings(EnvSettings):
    # A row changed this recently is left alone: its workflow may be writing to it, and
    # DescribeExecution is eventually consistent (a just-started execution may not show yet).
    reconcile_grace_seconds: int = Field(default=120, ge=0, le=3600)
    # An execution still RUNNING whose row has not moved for this long (counted from the
    # invoice's expiry while a job awaits payment) is stuck. It must exceed the longest quiet
    # step of a live workflow: an AI step with its retries, the bootstrap's boot wait and polls.
    reconcile_stuck_after_seconds: int = Field(default=3600, ge=600, le=7 * 86_400)
    # At most this many rows per kind and run; the rest wait for the next run.
    reconcile_batch_size: int = Field(default=50, ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.reconcile_stuck_after_seconds <= self.reconcile_grace_seconds:
            raise ValueError("RECONCILE_STUCK_AFTER_SECONDS must exceed RECONCILE_GRACE_SECONDS")
        return self


def reconcile_settings() -> ReconcileSettings:
    return load(ReconcileSettings)
