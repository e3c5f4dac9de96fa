"""Step Functions: start executions and resume waiting tasks.

One client, :class:`timmy.aws_json.AwsJsonClient` over httpx, with botocore's standard retry
mode (throttling, 5xx and connection errors; jittered backoff; 3 attempts), whenever the
process has credentials in its environment and either runs in Lambda or is given an endpoint
(``AWS_ENDPOINT_URL_SFN`` / ``AWS_ENDPOINT_URL``: a moto server, a VPC endpoint). boto3 remains
only for an in-process moto (``mock_aws``), which intercepts botocore and nothing else; it is
configured with the same standard retry mode.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from timmy.settings import core


class TaskGone(Exception):
    """The task token no longer names a waiting task (timed out, finished, or invalid)."""


def _endpoint() -> str | None:
    # The SDKs' standard endpoint overrides (a local emulator, a VPC endpoint).
    return os.environ.get("AWS_ENDPOINT_URL_SFN") or os.environ.get("AWS_ENDPOINT_URL") or None


class _StepFunctionsOverHttp:
    """The calls we make, over the small SigV4 client (see :mod:`timmy.aws_json`)."""

    def __init__(self, region: str) -> None:
        from timmy.aws_json import AwsJsonClient

        self._api = AwsJsonClient(
            service="states", target_prefix="AWSStepFunctions", region=region, endpoint=_endpoint()
        )

    def start_execution(self, **params: Any) -> dict[str, Any]:
        return self._api.call("StartExecution", params)

    def send_task_success(self, **params: Any) -> dict[str, Any]:
        return self._api.call("SendTaskSuccess", params)

    def send_task_failure(self, **params: Any) -> dict[str, Any]:
        return self._api.call("SendTaskFailure", params)

    def describe_execution(self, **params: Any) -> dict[str, Any]:
        return self._api.call("DescribeExecution", params)


@functools.cache
def _client() -> Any:
    region = core().aws_region
    in_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    if "AWS_ACCESS_KEY_ID" in os.environ and (in_lambda or _endpoint()):
        # No boto3 import on the cold-start path of the handlers that need us.
        return _StepFunctionsOverHttp(region)
    import boto3  # an in-process moto (mock_aws) serves only botocore's calls
    from botocore.config import Config

    # A session of our own: boto3's default one is not safe to build clients from on
    # several threads at once (the concurrency tests call us from many).
    return boto3.session.Session().client(
        "stepfunctions",
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )


def reset_client() -> None:
    _client.cache_clear()


def start_execution(state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
    """Start the execution ``name`` (once: a second start of the same name is no error)."""
    try:
        response = _client().start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload, default=str)
        )
    except Exception as error:
        # Our names are unique ids: an execution of that name is ours, started by an earlier
        # attempt whose answer was lost (the retry meets it once it has ended, or its input
        # was written in another key order).
        if _error_code(error) == "ExecutionAlreadyExists":
            return execution_arn_of(state_machine_arn, name)
        raise
    return str(response["executionArn"])


def _error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _task_gone(error: Exception) -> bool:
    return _error_code(error) in {"TaskDoesNotExist", "InvalidToken", "TaskTimedOut"}


def send_task_success(task_token: str, output: dict[str, Any]) -> None:
    try:
        _client().send_task_success(taskToken=task_token, output=json.dumps(output, default=str))
    except Exception as error:
        if _task_gone(error):
            raise TaskGone(str(error)) from error
        raise


def send_task_failure(task_token: str, error: str, cause: str) -> None:
    try:
        _client().send_task_failure(taskToken=task_token, error=error, cause=cause[:32_000])
    except Exception as exc:
        if _task_gone(exc):
            raise TaskGone(str(exc)) from exc
        raise


def describe_execution(execution_arn: str) -> dict[str, Any]:
    return dict(_client().describe_execution(executionArn=execution_arn))


def execution_arn_of(state_machine_arn: str, name: str) -> str:
    """The ARN an execution started as ``name`` gets (known before, or without, starting it)."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def execution_status(execution_arn: str) -> str | None:
    """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE; None when Step
    Functions has no such execution (never started, or lost with a local restart)."""
    try:
        described = describe_execution(execution_arn)
    except Exception as error:
        if _error_code(error) == "ExecutionDoesNotExist":
            return None
        raise
    return str(described["status"])
