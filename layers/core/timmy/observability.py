"""Powertools Logger and Metrics shared by every function (HTTP handlers and workflow steps).

Tracing comes from Lambda's active tracing (template Globals ``Tracing: Active``); the
Powertools Tracer is not used because importing the X-Ray SDK (and botocore with it) costs
about 360 ms per cold start on our measurements.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="timmy")
metrics = Metrics(namespace="Timmy", service="timmy")
