"""Each handler emits its business metric, read back from what Powertools' Metrics prints.

Powertools flushes metrics as one CloudWatch Embedded Metric Format line on stdout at the end
of a decorated handler; these tests capture stdout and read the values back. The handler
modules are loaded afresh here; where the outcome needs state that is long to build (a paid
refund, a settled job), the one service function the handler calls is replaced.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from timmy.data.invoices import Invoice, InvoiceState, PaymentPurpose
from timmy.jobs.views import JobRefunded, RefundOut
from timmy.jobs.workflow import Settlement, WorkPricing
from timmy.payments import Confirmation, ConfirmResult
from timmy.reconcile.runner import RunReport

ROOT = Path(__file__).resolve().parents[2]
JOB_ID = "3f2c8a4e-9b1d-4c6e-8f0a-2d5b7e9c1a43"


class Context:
    function_name = "Test"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:Test"
    function_version = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def function(directory: str) -> ModuleType:
    """The function's module, loaded afresh by path (every function's file is app.py)."""
    name = f"metrics_{directory}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / directory / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the module's annotations through it
    spec.loader.exec_module(module)
    return module


def sample(name: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    return {**event, **fields}


def emitted(capsys: pytest.CaptureFixture[str]) -> dict[str, list[float]]:
    """Every metric in the EMF lines printed so far: name → its values."""
    found: dict[str, list[float]] = {}
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "Timmy"
            for metric in directive["Metrics"]:
                assert metric["Unit"] == "Count"
                values = document[metric["Name"]]
                found.setdefault(metric["Name"], []).extend(
                    values if isinstance(values, list) else [values]
                )
    return found


def invoke(module: ModuleType, event: dict[str, Any], handler: str = "handler") -> Any:
    return getattr(module, handler)(event, Context())


def test_a_created_job_is_counted(clean_db: None, capsys: pytest.CaptureFixture[str]) -> None:
    answer = invoke(function("jobs_create"), sample("CreateJobFunction"))

    assert answer["statusCode"] == 201
    assert emitted(capsys) == {"JobsCreated": [1.0]}


def test_a_refused_job_creation_counts_nothing(
    clean_db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = invoke(function("jobs_create"), sample("CreateJobFunction", body='{"request": ""}'))

    assert answer["statusCode"] == 400
    assert emitted(capsys) == {}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("sent", {"RefundsSent": [1.0], "RefundedSats": [42.0]}),
        ("pending", {"RefundsPending": [1.0]}),
    ],
)
def test_refunds_count_what_was_sent(
    clean_db: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    state: str,
    expected: dict[str, list[float]],
) -> None:
    module = function("jobs_refund")
    refund = RefundOut(state=state, amount_sats=42, payment_hash="ab" * 32)  # type: ignore[arg-type]
    answer = JobRefunded(job_id=JOB_ID, refunded=state == "sent", refund=refund, trust_tier="new")
    monkeypatch.setattr(module, "refund_job", lambda job_id, invoice: answer)

    assert invoke(module, sample("RefundJobFunction"))["statusCode"] == 200
    assert emitted(capsys) == expected


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (Confirmation.PAID_NOW, {"InvoicesPaid": [1.0], "SatsReceived": [21.0]}),
        (Confirmation.ALREADY_PAID, {}),
        (Confirmation.NOT_PAID, {}),
    ],
)
def test_a_webhook_counts_the_payments_it_confirmed(
    clean_db: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outcome: Confirmation,
    expected: dict[str, list[float]],
) -> None:
    module = function("lightning_webhook")
    now = datetime.now(UTC)
    invoice = Invoice(
        payment_hash="ab" * 32,
        purpose=PaymentPurpose.JOB,
        owner_id=str(uuid.uuid4()),
        amount_sats=21,
        payment_request="lnbcrt210n1",
        state=InvoiceState.PAID,
        preimage=None,
        has_task_token=False,
        resumed_at=None,
        expires_at=now,
        paid_at=now,
        created_at=now,
    )
    result = ConfirmResult(outcome, invoice)
    monkeypatch.setattr(module, "confirm_payment", lambda payment_hash: result)

    assert invoke(module, sample("LightningWebhookFunction"))["statusCode"] == 200
    assert emitted(capsys) == expected


@pytest.mark.parametrize(("accepted", "metric"), [(True, "JobsAccepted"), (False, "JobsRejected")])
def test_evaluations_are_counted(
    clean_db: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    accepted: bool,
    metric: str,
) -> None:
    module = function("job_steps")
    monkeypatch.setattr(module.workflow, "evaluate", lambda job_id: accepted)

    invoke(module, {"job_id": JOB_ID}, "evaluate_handler")

    assert emitted(capsys) == {metric: [1.0]}


@pytest.mark.parametrize(
    ("serve", "expected"),
    [("free", {"PoolGrants": [1.0]}), ("partial", {"PoolGrants": [1.0]}), ("gate", {})],
)
def test_a_pool_grant_is_counted_when_the_work_is_priced(
    clean_db: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    serve: str,
    expected: dict[str, list[float]],
) -> None:
    module = function("job_steps")
    pricing = WorkPricing(serve=serve, payment_hash=None, charge_sats=0)
    monkeypatch.setattr(module.workflow, "price_work", lambda job_id: pricing)

    invoke(module, {"job_id": JOB_ID}, "price_work_handler")

    assert emitted(capsys) == expected


def test_a_settled_job_counts_the_sats_it_earned(
    clean_db: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = function("job_steps")
    settled = Settlement(actual_cost_sats=123, refundable_sats=7)
    monkeypatch.setattr(module.workflow, "settle", lambda job_id: settled)

    invoke(module, {"job_id": JOB_ID}, "settle_handler")

    assert emitted(capsys) == {"JobsCompleted": [1.0], "JobSatsEarned": [123.0]}


def test_the_reconciler_counts_what_it_ended(
    clean_db: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = function("reconciler")
    report = RunReport(ended={"jobs": 2, "payouts": 1}, errors={"jobs": 0, "payouts": 1})
    monkeypatch.setattr(module.reconcile, "run", lambda: report)

    invoke(module, sample("ReconcilerFunction"))

    assert emitted(capsys) == {"ReconcilerEnded": [3.0], "ReconcilerErrors": [1.0]}
