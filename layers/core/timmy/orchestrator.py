"""Step Functions: start executions and resume waiting tasks (boto3, created lazily)."""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

from timmy.settings import core


class TaskGone(Exception):
    """The task token no longer names a waiting task (timed out, finished, or invalid)."""


_client_lock = threading.Lock()


@functools.cache
def _client() -> Any:
    import boto3  # imported lazily: most handlers never touch Step Functions

    # boto3's default session is not safe to build clients from on several threads at once
    # (the local stack serves requests from many): a session of our own, built under a lock.
    with _client_lock:
        return boto3.session.Session().client("stepfunctions", region_name=core().aws_region)


def reset_client() -> None:
    _client.cache_clear()


def start_execution(state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
    response = _client().start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload, default=str)
    )
    return str(response["executionArn"])


def _task_gone(error: Exception) -> bool:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    return code in {"TaskDoesNotExist", "InvalidToken", "TaskTimedOut"}


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
