"""The scheduled reconciler: one run ends, once each, what crashes and lost workflows left
unfinished (``ReconcilerFunction``, every 5 minutes; a timer in ``make dev``).

A run goes through :data:`PASSES` in order. Each pass is idempotent and safe with another
reconciler running at the same time: it reads candidates, then takes each with a conditional
``UPDATE`` guarded by the state it read (one caller gets the row), and ends it with the same
code the workflow would have run, in the workflow's transactions. A pass that raises does not
stop the others; an item that fails is logged, counted and retried by the next run.

Which executions are gone or stuck: :mod:`timmy.reconcile.executions`. What ending means per
state: :mod:`timmy.reconcile.jobs` and :mod:`timmy.reconcile.bootstrap`.
"""

from timmy.reconcile.runner import PASSES, RunReport, run

__all__ = ["PASSES", "RunReport", "run"]
