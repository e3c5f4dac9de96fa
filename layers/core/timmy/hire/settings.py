"""AI-for-Hire settings: limits, timers, Timmy (the fees are the catalog's)."""

from __future__ import annotations

from pydantic import Field

from timmy.settings import EnvBool, EnvSettings, load

_DAY = 86_400


class HireSettings(EnvSettings):
    # A quote's delivery time when it names none, and the bounds of one.
    hire_delivery_hours_default: int = Field(default=72, ge=1, le=24 * 90)
    # Tests and demos: every accepted quote's deadline is this many seconds away instead.
    hire_delivery_wait_seconds: int | None = Field(default=None, ge=1, le=90 * _DAY)
    # After a delivery, the buyer confirms or disputes within this; silence releases the escrow.
    hire_confirm_window_seconds: int = Field(default=3 * _DAY, ge=1, le=90 * _DAY)
    # Size limits: text is stored as given, so these bound what a caller may store.
    hire_max_title_chars: int = Field(default=200, ge=1)
    hire_max_text_chars: int = Field(default=20_000, ge=1)
    hire_max_message_chars: int = Field(default=4_000, ge=1)
    hire_max_delivery_bytes: int = Field(default=1_000_000, ge=1, le=4_000_000)
    hire_max_messages_listed: int = Field(default=500, ge=1)
    hire_max_tasks_listed: int = Field(default=100, ge=1)
    # The timers' state machine (template: !Ref HireStateMachine) and Timmy's own.
    hire_state_machine_arn: str = ""
    hire_timmy_state_machine_arn: str = ""
    # Timmy quotes open tasks it can do (off: the peer's demos accept quotes[0]).
    hire_timmy_contractor: EnvBool = False


def hire_settings() -> HireSettings:
    return load(HireSettings)
