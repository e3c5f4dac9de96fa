"""What posting a task and submitting a quote cost: the one place the marketplace reads it,
from the catalog's marketplace fees (``shared/catalog.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass

from timmy.catalog import catalog


@dataclass(frozen=True, slots=True)
class HireFees:
    task_fee_sats: int
    quote_fee_sats: int


def fees() -> HireFees:
    marketplace = catalog().marketplace
    return HireFees(
        task_fee_sats=marketplace.task_fee_sats, quote_fee_sats=marketplace.quote_fee_sats
    )
