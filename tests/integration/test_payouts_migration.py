"""Migration 0010 turns the refunds stored on job rows into payouts, one invoice once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pg8000.native
import pytest

from timmy.db.connection import connect_kwargs
from timmy.db.migrate import available_migrations
from timmy.settings import CoreSettings

PAYOUTS_VERSION = 10


@pytest.fixture
def before_payouts(database_url: str) -> Iterator[pg8000.native.Connection]:
    """A fresh database migrated up to, not including, 0010."""
    admin = pg8000.native.Connection(**connect_kwargs(CoreSettings(database_url=database_url)))
    name = f"timmy_premig_{uuid.uuid4().hex[:8]}"
    admin.run(f'CREATE DATABASE "{name}"')
    base, _, query = database_url.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    conn = pg8000.native.Connection(**connect_kwargs(CoreSettings(database_url=url)))
    try:
        for migration in available_migrations():
            if migration.version < PAYOUTS_VERSION:
                conn.execute_simple(migration.sql)
        yield conn
    finally:
        conn.close()
        admin.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _refunded_job(conn: pg8000.native.Connection, refund_hash: str, state: str) -> str:
    job_id = str(uuid.uuid4())
    eval_hash = uuid.uuid4().hex * 2
    conn.run(
        "INSERT INTO invoices (payment_hash, purpose, owner_id, amount_sats, payment_request,"
        " expires_at) VALUES (:h, 'job', :id, 10, 'lnbcrt100n1x', now())",
        h=eval_hash,
        id=job_id,
    )
    conn.run(
        "INSERT INTO jobs (id, request, eval_fee_sats, eval_payment_hash, eval_paid_sats, state,"
        " refundable_sats, refund_state, refund_payment_hash, refund_bolt11,"
        " refund_attempted_at, refunded_at)"
        " VALUES (:id, 'x', 10, :eh, 10, 'failed', 10, :state, :rh, 'lnbcrt100n1refund',"
        " now(), CASE WHEN :state = 'sent' THEN now() END)",
        id=job_id,
        eh=eval_hash,
        state=state,
        rh=refund_hash,
    )
    return job_id


def test_legacy_refunds_become_payouts_and_a_reused_invoice_counts_once(
    before_payouts: pg8000.native.Connection,
) -> None:
    conn = before_payouts
    shared, other = "aa" * 32, "bb" * 32
    first = _refunded_job(conn, shared, "sent")
    second = _refunded_job(conn, shared, "sent")  # the old bug: the same invoice again
    pending = _refunded_job(conn, other, "pending")

    (migration,) = [m for m in available_migrations() if m.version == PAYOUTS_VERSION]
    conn.execute_simple(migration.sql)

    rows = conn.run("SELECT source_id, payment_hash, state, amount_sats FROM payouts")
    assert sorted(map(tuple, rows)) == sorted(
        [(first, shared, "paid", 10), (pending, other, "pending", 10)]
    )
    # The second job was never really paid: no payout, so its refund is claimable again
    assert second not in {row[0] for row in rows}
    columns = {
        row[0]
        for row in conn.run(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'jobs'"
        )
    }
    assert not {c for c in columns if c.startswith("refund_") or c == "refunded_at"}
