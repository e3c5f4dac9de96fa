"""``make dev`` runs the reconciler on a timer: it invokes the function's handler, and stops
cleanly (as on Ctrl-C)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from paid_sessions import paid_session
from test_sessions_abandoned_holds import dead_request, state

from local.schedule import Schedule


def test_the_timer_runs_the_reconciler_until_stopped(clean_db: None, stack: Any) -> None:
    # Given a session request that died holding 5 sats
    session_id = paid_session(50)
    dead_request(session_id, hold=5, age_seconds=1200)

    schedule = Schedule(stack, 0.05).start()
    try:
        deadline = time.monotonic() + 30
        while state("sessions", "id", session_id, "balance_sats") != 50:
            assert time.monotonic() < deadline, "the timer never reconciled"
            time.sleep(0.05)
    finally:
        schedule.stop()

    # Then the hold came back through the scheduled function, and the timer has stopped
    assert schedule.runs >= 1
    assert not schedule.running
    runs = schedule.runs
    time.sleep(0.2)
    assert schedule.runs == runs


def test_the_interval_must_be_positive(stack: Any) -> None:
    with pytest.raises(ValueError, match="positive"):
        Schedule(stack, 0)
