"""Powertools Logger and Metrics shared by every function (HTTP handlers and workflow steps).

Tracing comes from Lambda's active tracing (template Globals ``Tracing: Active``); the
Powertools Tracer is not used because importing the X-Ray SDK (and botocore with it) costs
about 360 ms per cold start on our measurements.
"""

from __future__ import annotations

import hashlib
import re

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="timmy")
metrics = Metrics(namespace="Timmy", service="timmy")

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def log_ref(bearer_id: object) -> str:
    """What logs say instead of a job, bootstrap job or session id.

    Those ids are bearer capabilities (a job id alone claims its refund, a bootstrap job id
    fetches its SSH key), so whoever reads the logs must not be able to use them. The first
    12 hex digits of the id's sha256 still let an operator who holds an id find its lines.
    """
    return hashlib.sha256(str(bearer_id).lower().encode()).hexdigest()[:12]


def redact_ids(text: str) -> str:
    """``text`` with every UUID (our job, bootstrap and session ids) replaced by ``~<ref>``."""
    return _UUID.sub(lambda match: "~" + log_ref(match.group()), text)
