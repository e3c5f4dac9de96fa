"""Payouts: every sat that leaves Timmy, through one path (see :mod:`timmy.payouts.service`).

Sources (what a payout is paid from) plug in through :mod:`timmy.payouts.sources`; the
scheduled reconciler calls :func:`reconcile_pending_payouts`.
"""

from timmy.payouts.service import reconcile_pending_payouts

__all__ = ["reconcile_pending_payouts"]
