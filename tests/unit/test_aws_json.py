"""The small SigV4 client for AWS JSON APIs: signatures identical to botocore's, errors in
botocore's shape, and the request a real Step Functions endpoint expects."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from timmy.aws_json import AwsApiError, AwsJsonClient, Credentials, sign

NOW = dt.datetime(2026, 11, 22, 6, 30, 15, tzinfo=dt.UTC)
KEYS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")


@pytest.mark.parametrize("token", [None, "session-token"])
def test_signature_matches_botocore(monkeypatch: pytest.MonkeyPatch, token: str | None) -> None:
    # Given the same request signed by botocore at the same instant
    credentials = Credentials(KEYS.access_key, KEYS.secret_key, token)
    body = json.dumps({"stateMachineArn": "arn:aws:states:eu-west-1:1:stateMachine:x"}).encode()
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "AWSStepFunctions.StartExecution",
    }
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW)
    reference = AWSRequest(
        method="POST",
        url="https://states.eu-west-1.amazonaws.com/",
        data=body,
        headers=headers,
    )
    SigV4Auth(
        BotoCredentials(KEYS.access_key, KEYS.secret_key, token), "states", "eu-west-1"
    ).add_auth(reference)
    # When we sign it
    ours = sign(
        credentials=credentials,
        region="eu-west-1",
        service="states",
        host="states.eu-west-1.amazonaws.com",
        headers=headers,
        body=body,
        now=NOW,
    )
    # Then the signatures are identical
    assert ours["authorization"] == reference.headers["Authorization"]
    assert ours["x-amz-date"] == reference.headers["X-Amz-Date"]


def test_a_call_posts_the_operation_and_returns_the_answer() -> None:
    seen: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"executionArn": "arn:exec", "startDate": 1.5})

    client = AwsJsonClient(
        service="states",
        target_prefix="AWSStepFunctions",
        region="us-east-1",
        credentials=lambda: KEYS,
        client=httpx.Client(transport=httpx.MockTransport(endpoint)),
        clock=lambda: NOW,
    )
    answer = client.call("StartExecution", {"stateMachineArn": "arn:sm", "input": "{}"})
    assert answer == {"executionArn": "arn:exec", "startDate": 1.5}
    request = seen[0]
    assert str(request.url) == "https://states.us-east-1.amazonaws.com/"
    assert request.headers["x-amz-target"] == "AWSStepFunctions.StartExecution"
    assert request.headers["content-type"] == "application/x-amz-json-1.0"
    assert request.headers["x-amz-security-token"] == "session-token"
    assert request.headers["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/states/aws4_request"
    )
    assert json.loads(request.content) == {"stateMachineArn": "arn:sm", "input": "{}"}


def test_errors_carry_the_code_as_botocore_does() -> None:
    def endpoint(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={"__type": "com.amazonaws.swf.base.model#TaskDoesNotExist", "message": "gone"},
        )

    client = AwsJsonClient(
        service="states",
        target_prefix="AWSStepFunctions",
        region="us-east-1",
        credentials=lambda: KEYS,
        client=httpx.Client(transport=httpx.MockTransport(endpoint)),
    )
    with pytest.raises(AwsApiError) as caught:
        client.call("SendTaskSuccess", {"taskToken": "t", "output": "{}"})
    assert caught.value.code == "TaskDoesNotExist"
    assert caught.value.response["Error"]["Code"] == "TaskDoesNotExist"
    assert caught.value.status == 400
