"""Every sample in events/ is a valid event for its function (``sam local invoke -e``).

A sample is accepted when its handler parses and validates it: an HTTP event answers without
a 400 (its input is wrong) or a 5xx, and a workflow-step event returns without a validation
error. An answer about state or credentials still counts as accepted: a 404 for an id absent
from this test database, a 401 for a signed sample that has since gone stale, a 409.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from local.workers import FunctionError
from timmy.data.invoices import PaymentPurpose

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLE_HASH = "ab" * 32


def samples() -> list[Path]:
    return sorted(EVENTS.glob("*.json"))


def test_every_function_has_a_sample_event(stack: LocalStack) -> None:
    have = {path.stem for path in samples()}
    missing = set(stack.functions.specs) - have
    assert not missing, f"add events/<Function>.json for: {sorted(missing)}"
    unknown = have - set(stack.functions.specs)
    assert not unknown, f"events without a function: {sorted(unknown)}"


@pytest.fixture
def seeded_invoice(clean_db: None) -> None:
    """The invoice the samples name, issued by the stub node and paid there."""
    from timmy.db.connection import db

    db().execute(
        "INSERT INTO stub_lightning_invoices (payment_hash, preimage, amount_sats,"
        " payment_request, paid) VALUES (:h, :p, 21, 'lnbcrt210n1sample', true)",
        h=SAMPLE_HASH,
        p="00" * 32,
    )
    # Of no bootstrap job: paying it moves nothing on (an unknown purpose would be refused).
    db().execute(
        "INSERT INTO invoices (payment_hash, purpose, owner_id, amount_sats, payment_request,"
        " expires_at) VALUES (:h, :purpose, 'events', 21, 'lnbcrt210n1sample',"
        " now() + interval '10 minutes')",
        h=SAMPLE_HASH,
        purpose=PaymentPurpose.BOOTSTRAP,
    )


@pytest.mark.parametrize("path", samples(), ids=lambda p: p.stem)
def test_sample_event_is_accepted_by_its_handler(
    path: Path, stack: LocalStack, seeded_invoice: None
) -> None:
    event: dict[str, Any] = json.loads(path.read_text())
    try:
        result = stack.functions.invoke(path.stem, event)
    except FunctionError as error:  # the step raised, as Lambda reports it
        if error.error_type == "ValidationError":  # a workflow step rejected its sample
            pytest.fail(f"{path.name} does not validate: {error}")
        if not error.error_type.endswith("NotFound"):  # NotFound or a subclass: accepted
            raise
        return
    if isinstance(result, dict) and "statusCode" in result:
        assert result["statusCode"] < 500, result
        content_type = {k.lower(): v for k, v in (result.get("headers") or {}).items()}.get(
            "content-type", "application/json"
        )
        if result["statusCode"] < 400 and "json" not in content_type:
            return  # a page, a script or an image (the web app, a QR code)
        body = json.loads(result["body"] or "{}")
        if result["statusCode"] == 402 and "error" not in body:
            # The peer's payment challenge (a top-up's invoice), not an error envelope.
            assert body["status"] == "payment_required", result
        elif result["statusCode"] >= 400:
            assert result["statusCode"] in {401, 402, 403, 404, 409}, result
            assert body["error"]["code"] != "route_not_found", "the sample's route is wrong"
