"""The AI capability's errors; their class names are what the job workflow's Retry matches.

* :class:`RetryableAIError` (503 ``ai_unavailable``): timeouts, connection failures, HTTP 408,
  429 and 5xx. Trying again later may succeed.
* :class:`PermanentAIError` (502 ``ai_failed``): any other 4xx and an answer of the wrong
  shape. Trying again will not help.
"""

from __future__ import annotations

from timmy.errors import UpstreamBadGateway, UpstreamUnavailable


class RetryableAIError(UpstreamUnavailable):
    code = "ai_unavailable"


class PermanentAIError(UpstreamBadGateway):
    code = "ai_failed"
