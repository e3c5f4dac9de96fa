"""In Lambda the orchestrator talks to Step Functions over the small SigV4 client: prove it
against a moto server, including the task-gone error a late confirmation meets."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from timmy import orchestrator
from timmy.aws_json import AwsJsonClient, Credentials
from timmy.runtime import reset_caches

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def lambda_like(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> Iterator[str]:
    """The orchestrator as it runs in Lambda, pointed at the moto server."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "CreateJobFunction")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    reset_caches()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SFN", moto_endpoint)
    yield moto_endpoint
    reset_caches()


def test_start_and_describe_an_execution_without_boto3(lambda_like: str) -> None:
    admin = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        endpoint_url=lambda_like,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    machine = admin.create_state_machine(
        name="http-client-test",
        definition=DEFINITION,
        roleArn="arn:aws:iam::123456789012:role/x",
    )["stateMachineArn"]

    assert type(orchestrator._client()).__name__ == "_StepFunctionsOverHttp"
    arn = orchestrator.start_execution(machine, "run-1", {"job_id": "j"})
    assert arn.endswith(":run-1")
    described = admin.describe_execution(executionArn=arn)
    assert json.loads(described["input"]) == {"job_id": "j"}


def test_a_task_that_is_gone_is_reported_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    # moto's server accepts any token, so the error answer comes from a fake endpoint here
    def endpoint(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"__type": "TaskTimedOut", "message": "too late"})

    client = orchestrator._StepFunctionsOverHttp.__new__(orchestrator._StepFunctionsOverHttp)
    client._api = AwsJsonClient(
        service="states",
        target_prefix="AWSStepFunctions",
        region="us-east-1",
        credentials=lambda: Credentials("a", "b"),
        client=httpx.Client(transport=httpx.MockTransport(endpoint)),
    )
    monkeypatch.setattr(orchestrator, "_client", lambda: client)
    with pytest.raises(orchestrator.TaskGone):
        orchestrator.send_task_success("late-token", {"paid": True})
