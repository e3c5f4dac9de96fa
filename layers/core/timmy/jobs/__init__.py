"""Jobs: a caller pays a fixed fee for Timmy to evaluate a request, then pays the estimated
work price, and gets the result; whatever was paid beyond the real cost is refundable.

The lifecycle is driven by the job state machine (``shared/statemachines/job.asl.json``)::

    awaiting_eval_payment ─paid→ evaluating ─reject→ rejected
                                    └─accept→ awaiting_work_payment ─paid→ executing ─→ complete
                                    └─accept, free tier "free" (no work invoice)→ executing
    awaiting_*_payment ─invoice not paid in time→ expired
    any step failing for good ─→ failed (everything paid is refundable)

The free tier's part of the work (``timmy.jobs.charging``) is decided when the work is priced.

The ``jobs`` row is the single source of truth (``timmy.data.jobs``); HTTP handlers use
:mod:`timmy.jobs.service`, the workflow's Lambda steps use :mod:`timmy.jobs.workflow`.
"""
