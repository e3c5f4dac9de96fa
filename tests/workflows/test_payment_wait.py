"""A test-only state machine that waits on a task token, run by moto's ASL interpreter with
its Lambda tasks routed to the in-process handlers: the seam the local stack relies on."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from concurrency import wait_until

from local.stack import LocalStack
from local.template import function_arn
from timmy import payments
from timmy.data.invoices import Invoice, PaymentPurpose
from timmy.db.connection import db, transaction

FIXTURE = Path(__file__).parent / "fixtures" / "wait_for_payment.asl.json"


@pytest.fixture
def machine_arn(stack: LocalStack, clean_db: None) -> str:
    definition = FIXTURE.read_text()
    for name in ("PaymentWaitFunction", "PaymentExpireFunction"):
        definition = definition.replace("${" + name + "Arn}", function_arn(name))
    client = boto3.client("stepfunctions", region_name="us-east-1")
    name = f"wait-for-payment-{time.monotonic_ns()}"
    return LocalStack.create_state_machine(client, name, definition)


def issue_invoice() -> Invoice:
    created = payments.request_invoice(50, "workflow test")
    with transaction() as tx:
        # An invoice of no bootstrap job: its on-paid handler finds nothing to move on.
        return payments.record_invoice(tx, created, purpose=PaymentPurpose.BOOTSTRAP, owner_id="wf")


def execution_done(arn: str) -> dict[str, Any] | None:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    described = client.describe_execution(executionArn=arn)
    return None if described["status"] == "RUNNING" else described


def start(machine_arn: str, payment_hash: str, timeout_seconds: int = 60) -> str:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    payload = {"payment_hash": payment_hash, "timeout_seconds": timeout_seconds}
    return str(
        client.start_execution(stateMachineArn=machine_arn, input=json.dumps(payload))[
            "executionArn"
        ]
    )


def token_attached(payment_hash: str) -> bool:
    return bool(
        db().scalar(
            "SELECT task_token IS NOT NULL FROM invoices WHERE payment_hash = :h", h=payment_hash
        )
    )


def test_the_lambda_seam_of_the_pinned_moto_is_where_the_stack_expects_it(
    stack: LocalStack,
) -> None:
    # If this fails, moto moved the seam: update local/aws.py before bumping the pin.
    import moto
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    assert moto.__version__ == "5.2.5"
    assert callable(lambda_eval_utils.boto_client_for)
    assert lambda_eval_utils.boto_client_for.__name__ == "boto_client_for"
    assert lambda_eval_utils.boto_client_for.__module__ == "local.aws"


def test_stub_payment_resumes_the_waiting_workflow(machine_arn: str, stack: LocalStack) -> None:
    # Given a workflow parked on an invoice
    invoice = issue_invoice()
    arn = start(machine_arn, invoice.payment_hash)
    wait_until(lambda: token_attached(invoice.payment_hash))
    # When the dev stub payer pays it (through the real HTTP handler)
    status, _, body = stack.handle_http(
        "POST", f"/api/dev/stub/pay/{invoice.payment_hash}", "", {}, b""
    )
    assert status == 200, body
    assert json.loads(body)["paid"] is True
    # Then the workflow resumes and finishes with the payment
    done = wait_until(lambda: execution_done(arn))
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {
        "payment_hash": invoice.payment_hash,
        "paid": True,
        "amount_sats": 50,
    }


def test_payment_before_the_wait_starts_still_resumes_once(machine_arn: str) -> None:
    # Given an invoice that is paid before its workflow parks on it
    invoice = issue_invoice()
    from timmy.lightning.dev_payer import pay_own_invoice

    assert pay_own_invoice(invoice.payment_hash).paid
    # When the workflow reaches the wait, it is resumed straight away
    arn = start(machine_arn, invoice.payment_hash)
    done = wait_until(lambda: execution_done(arn))
    assert done["status"] == "SUCCEEDED"
    resumed = db().scalar(
        "SELECT resumed_at IS NOT NULL FROM invoices WHERE payment_hash = :h",
        h=invoice.payment_hash,
    )
    assert resumed is True


def test_unpaid_invoice_times_out_and_expires(machine_arn: str) -> None:
    invoice = issue_invoice()
    arn = start(machine_arn, invoice.payment_hash, timeout_seconds=1)
    done = wait_until(lambda: execution_done(arn))
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"expired": True}
    state = db().scalar(
        "SELECT state FROM invoices WHERE payment_hash = :h", h=invoice.payment_hash
    )
    assert state == "expired"
    # And a late confirmation changes nothing and does not crash
    from timmy.lightning.dev_payer import pay_own_invoice

    assert pay_own_invoice(invoice.payment_hash).paid is False
