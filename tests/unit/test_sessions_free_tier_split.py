"""How a session request's real cost is split between the free tier's pool and the balance."""

from __future__ import annotations

import pytest

from timmy.data.pool import Serve
from timmy.sessions.requests import Hold, Settlement, settlement


def hold(estimate: int, pool: int) -> Hold:
    return Hold(
        estimate_sats=estimate,
        balance_sats=estimate - pool,
        pool_sats=pool,
        serve=Serve.GATE if pool == 0 else (Serve.FREE if pool == estimate else Serve.PARTIAL),
    )


@pytest.mark.parametrize(
    ("actual", "estimate", "pool", "minimum", "expected"),
    [
        # free: the pool pays the real cost; the over-reservation is what it gets back
        (12, 128, 128, 1, Settlement(cost_sats=12, absorbed_sats=12, charged_sats=0)),
        # partial: the caller pays max(0, actual - absorbed) (the seed's refund math)
        (88, 615, 50, 1, Settlement(cost_sats=88, absorbed_sats=50, charged_sats=38)),
        (30, 615, 50, 1, Settlement(cost_sats=30, absorbed_sats=30, charged_sats=0)),
        # gate: the caller pays everything
        (88, 615, 0, 1, Settlement(cost_sats=88, absorbed_sats=0, charged_sats=88)),
        # the minimum prices a cheap request, whoever pays it
        (3, 100, 100, 100, Settlement(cost_sats=100, absorbed_sats=100, charged_sats=0)),
        (3, 100, 50, 100, Settlement(cost_sats=100, absorbed_sats=50, charged_sats=50)),
        # never more than the estimate the caller agreed to
        (900, 615, 50, 1, Settlement(cost_sats=615, absorbed_sats=50, charged_sats=565)),
    ],
)
def test_examples(
    actual: int, estimate: int, pool: int, minimum: int, expected: Settlement
) -> None:
    assert settlement(actual, hold(estimate, pool), minimum) == expected


def test_every_split_is_exact_and_within_both_reservations() -> None:
    for estimate in range(1, 25):
        for pool in range(estimate + 1):
            held = hold(estimate, pool)
            for minimum in range(1, estimate + 1):
                for actual in range(2 * estimate + 2):
                    split = settlement(actual, held, minimum)
                    assert split.cost_sats == min(max(actual, minimum), estimate)
                    assert split.absorbed_sats + split.charged_sats == split.cost_sats
                    assert split.absorbed_sats == min(split.cost_sats, pool)
                    assert 0 <= split.charged_sats <= held.balance_sats
