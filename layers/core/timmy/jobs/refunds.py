"""A job's refund as a payout source: what the caller is owed back, paid once.

The refund is paid through the one payout path (:mod:`timmy.payouts.service`). The job's
"balance" is its ``refundable_sats`` while no refund payout of it is pending or paid; a
failed payout leaves it claimable again, with a new invoice. A unique index on the payouts
table backs the row lock up: a job never has two live refunds.

Fees: the refund invoice asks for exactly the refundable amount and the caller receives all
of it. Timmy bears the routing fee (its reserve is recorded on the payout, not taken from the
caller), so a refund never costs the caller more than the job did.
"""

from __future__ import annotations

from typing import Final

from timmy.data import jobs as data
from timmy.data import payouts
from timmy.data.jobs import JobState
from timmy.data.payouts import PayoutState
from timmy.db.connection import Db
from timmy.jobs.errors import AlreadyRefunded, JobNotFound, NothingRefundable, RefundInProgress
from timmy.payouts.errors import AmountMismatch
from timmy.payouts.sources import CreditReason

KIND: Final = "job_refund"
# Where something can be owed back (a rejected or expired job owes nothing).
_REFUNDABLE_STATES: Final = frozenset({JobState.COMPLETE, JobState.FAILED})


class JobRefundSource:
    kind = KIND
    bears_fee = False

    def debit(
        self, tx: Db, source_id: str, *, amount_sats: int, debit_sats: int, payment_hash: str
    ) -> int:
        job = data.get(tx, source_id, for_update=True)
        if job is None:
            raise JobNotFound("No job with that id.")
        live = payouts.latest_live(tx, KIND, source_id)
        if live is not None and live.state == PayoutState.PAID:
            raise AlreadyRefunded("This job's refund has already been paid.")
        if live is not None:
            raise RefundInProgress(
                "This job's refund is being paid; check the job for its outcome."
            )
        refundable = job.refundable_sats
        if job.state not in _REFUNDABLE_STATES or refundable <= 0:
            raise NothingRefundable("Nothing is refundable for this job.")
        if amount_sats != refundable:
            raise AmountMismatch(
                f"The invoice asks for {amount_sats} sats; the refundable amount is"
                f" {refundable} sats."
            )
        return 0

    def credit(
        self, tx: Db, source_id: str, sats: int, *, reason: CreditReason, payment_hash: str
    ) -> int:
        # Nothing to move: a failed payout stops being live, so the refund is claimable again.
        return self.balance(tx, source_id)

    def balance(self, tx: Db, source_id: str) -> int:
        job = data.get(tx, source_id)
        if job is None or payouts.latest_live(tx, KIND, source_id) is not None:
            return 0
        return job.refundable_sats


JOB_REFUND: Final = JobRefundSource()
