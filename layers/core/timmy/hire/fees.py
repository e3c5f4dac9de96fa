"""What posting a task and submitting a quote cost: the one place the marketplace reads it.

The catalog seam: the catalog (``shared/catalog.yaml``, marketplace fees task 50 / quote 10)
replaces the body of :func:`fees` at merge; until then the typed settings
``HIRE_TASK_FEE_SATS`` and ``HIRE_QUOTE_FEE_SATS`` carry the same defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from timmy.hire.settings import hire_settings


@dataclass(frozen=True, slots=True)
class HireFees:
    task_fee_sats: int
    quote_fee_sats: int


def fees() -> HireFees:
    settings = hire_settings()  # catalog seam: read the catalog's marketplace fees here
    return HireFees(
        task_fee_sats=settings.hire_task_fee_sats, quote_fee_sats=settings.hire_quote_fee_sats
    )
