"""Settings of the jobs capability (read from the environment, cached)."""

from __future__ import annotations

from pydantic import Field

from timmy.settings import EnvSettings, load


class JobSettings(EnvSettings):
    # The job state machine (template: !Ref JobStateMachine).
    job_state_machine_arn: str = ""
    # How long the workflow waits for each invoice. Unset: the invoice expiry
    # (INVOICE_EXPIRY_SECONDS). Tests and demos set a few seconds.
    job_payment_wait_seconds: int | None = Field(default=None, ge=1, le=86_400)


def job_settings() -> JobSettings:
    return load(JobSettings)
