"""Schemathesis against the local stack: the OpenAPI document tells the truth.

Every operation of shared/openapi.json gets generated requests, valid and invalid, over real
HTTP; no answer may be a 5xx, and every answer's status, content type and body must be the ones
the document gives for that operation. Bounded so that the whole run stays well under four
minutes on a two-core machine.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.stack import ROOT

SCHEMA = schemathesis.openapi.from_path(ROOT / "shared" / "openapi.json")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
MAX_EXAMPLES_PER_OPERATION = 100


@SCHEMA.parametrize()
@settings(
    max_examples=MAX_EXAMPLES_PER_OPERATION,
    deadline=None,
    # Reproducible in CI: the same examples on every run.
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(case: Any, gateway_url: str) -> None:
    case.call_and_validate(base_url=gateway_url, checks=CHECKS, timeout=30)
