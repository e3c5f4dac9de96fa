"""In Lambda the orchestrator talks to Step Functions over the small SigV4 client: prove it
against a moto server, including the task-gone error a late confirmation meets, and its
botocore-equivalent retries with throttling and failures injected in front of that server."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
from collections.abc import Iterator

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from timmy import orchestrator
from timmy.aws_json import AwsApiError, AwsJsonClient, Credentials
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


# -- retries: botocore's standard mode, against the moto server behind an injecting proxy ------


class Proxy:
    """Forwards requests to the moto server over HTTP, after answering the first ones itself.

    ``script`` holds what to do with each incoming request in turn: an httpx.Response to answer
    instead of moto, an exception to raise instead of sending, ``"lose"`` to forward and then
    lose moto's answer, or ``"forward"``. Once it is empty, everything is forwarded.
    """

    def __init__(self, script: list[httpx.Response | Exception | str]) -> None:
        self.script = script
        self.seen: list[str] = []  # the X-Amz-Target of every request
        self.signatures: list[str] = []
        self._moto = httpx.HTTPTransport()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.headers["x-amz-target"].rsplit(".", 1)[-1])
        self.signatures.append(request.headers["authorization"])
        step = self.script.pop(0) if self.script else "forward"
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        answer = self._moto.handle_request(request)
        answer.read()
        if step == "lose":
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return answer


def throttled(code: str = "ThrottlingException") -> httpx.Response:
    return httpx.Response(400, json={"__type": f"com.amazonaws.swf.service.model#{code}"})


@pytest.fixture
def machine(moto_endpoint: str) -> str:
    admin = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"retry-{len(admin.list_state_machines()['stateMachines'])}"
    return str(
        admin.create_state_machine(
            name=name, definition=DEFINITION, roleArn="arn:aws:iam::123456789012:role/x"
        )["stateMachineArn"]
    )


def proxied(
    moto_endpoint: str, proxy: Proxy, sleeps: list[float], draws: list[float] | None = None
) -> AwsJsonClient:
    from timmy.aws_json import STANDARD_RETRY

    pending = list(draws or [])
    return AwsJsonClient(
        service="states",
        target_prefix="AWSStepFunctions",
        region="us-east-1",
        endpoint=moto_endpoint,
        credentials=lambda: Credentials("testing", "testing"),
        client=httpx.Client(transport=httpx.MockTransport(proxy)),
        retry=dataclasses.replace(
            STANDARD_RETRY,
            sleep=sleeps.append,
            random=lambda: pending.pop(0) if pending else 1.0,
        ),
    )


def start(client: AwsJsonClient, machine: str, name: str) -> dict[str, object]:
    return client.call("StartExecution", {"stateMachineArn": machine, "name": name, "input": "{}"})


@pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException"])
def test_throttling_is_retried_with_jittered_backoff(
    moto_endpoint: str, machine: str, code: str
) -> None:
    proxy = Proxy([throttled(code), throttled(code)])
    sleeps: list[float] = []

    answer = start(proxied(moto_endpoint, proxy, sleeps, draws=[0.5, 0.25]), machine, "t1")

    assert str(answer["executionArn"]).endswith(":t1")
    assert proxy.seen == ["StartExecution"] * 3
    # rand * min(1 s * 2**i, 20 s): the throttling base is 1 s.
    assert sleeps == [0.5 * 1.0, 0.25 * 2.0]


def test_each_attempt_is_signed_afresh(moto_endpoint: str, machine: str) -> None:
    instants = iter([dt.datetime(2026, 12, 2, 18, 0, second, tzinfo=dt.UTC) for second in (1, 2)])
    proxy = Proxy([throttled()])
    client = proxied(moto_endpoint, proxy, [])
    client._clock = lambda: next(instants)

    start(client, machine, "signed")

    assert len(set(proxy.signatures)) == 2


def test_throttling_on_every_attempt_gives_up_after_three(moto_endpoint: str, machine: str) -> None:
    proxy = Proxy([throttled(), throttled(), throttled(), throttled()])
    sleeps: list[float] = []

    with pytest.raises(AwsApiError) as raised:
        start(proxied(moto_endpoint, proxy, sleeps), machine, "t2")

    assert raised.value.code == "ThrottlingException"
    assert len(proxy.seen) == 3
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_on_the_short_base(
    moto_endpoint: str, machine: str, status: int
) -> None:
    proxy = Proxy([httpx.Response(status, text="oops")])
    sleeps: list[float] = []

    answer = start(proxied(moto_endpoint, proxy, sleeps), machine, f"s{status}")

    assert "executionArn" in answer
    assert sleeps == [0.05]  # 50 ms: not a throttle


def test_connection_errors_are_retried(moto_endpoint: str, machine: str) -> None:
    proxy = Proxy([httpx.ConnectError("refused"), httpx.ConnectTimeout("no SYN-ACK")])
    sleeps: list[float] = []

    answer = start(proxied(moto_endpoint, proxy, sleeps), machine, "c1")

    assert "executionArn" in answer
    assert sleeps == [0.05, 0.1]


def test_an_unreachable_endpoint_raises_the_connection_error_after_three_attempts(
    machine: str,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    sleeps: list[float] = []
    client = proxied(closed, Proxy([]), sleeps)
    client._client = httpx.Client()  # no proxy: nothing listens there

    with pytest.raises(httpx.ConnectError):
        start(client, machine, "never")

    assert len(sleeps) == 2


def test_a_lost_answer_to_a_start_is_retried_and_finds_the_same_execution(
    lambda_like: str, machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given StartExecution reached Step Functions but its answer was lost
    proxy = Proxy(["lose"])
    api = orchestrator._client()._api
    monkeypatch.setattr(api, "_client", httpx.Client(transport=httpx.MockTransport(proxy)))
    monkeypatch.setattr(api, "_retry", dataclasses.replace(api._retry, sleep=lambda _s: None))

    # When the orchestrator starts it
    arn = orchestrator.start_execution(machine, "lost-once", {"job_id": "j"})

    # Then the retry found the execution the first attempt started (running, or ended and
    # answered ExecutionAlreadyExists), and there is one
    assert arn.endswith(":lost-once")
    assert proxy.seen[:2] == ["StartExecution", "StartExecution"]
    assert orchestrator.execution_status(arn) in {"RUNNING", "SUCCEEDED"}


def test_a_start_of_an_existing_execution_name_is_no_error(lambda_like: str, machine: str) -> None:
    first = orchestrator.start_execution(machine, "twice", {"job_id": "j"})

    assert orchestrator.start_execution(machine, "twice", {"job_id": "other"}) == first


def test_an_error_that_is_an_answer_is_not_retried(moto_endpoint: str, machine: str) -> None:
    proxy = Proxy([])
    missing = machine.replace(":stateMachine:", ":execution:") + ":nope"

    with pytest.raises(AwsApiError) as raised:
        proxied(moto_endpoint, proxy, []).call("DescribeExecution", {"executionArn": missing})

    assert raised.value.code == "ExecutionDoesNotExist"
    assert proxy.seen == ["DescribeExecution"]


def test_the_orchestrator_in_lambda_retries_through_throttling(
    lambda_like: str, machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The orchestrator's own client (built as in Lambda), its transport replaced by the proxy.
    proxy = Proxy([throttled()])
    api = orchestrator._client()._api
    monkeypatch.setattr(api, "_client", httpx.Client(transport=httpx.MockTransport(proxy)))
    monkeypatch.setattr(api, "_retry", dataclasses.replace(api._retry, sleep=lambda _s: None))

    arn = orchestrator.start_execution(machine, "through-throttling", {"job_id": "j"})

    assert orchestrator.execution_status(arn) in {"RUNNING", "SUCCEEDED"}
    assert proxy.seen[:2] == ["StartExecution", "StartExecution"]
