"""timmy.upstream, the one retrying HTTP helper, against httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from timmy import upstream
from timmy.upstream import RetryPolicy

Answer = httpx.Response | Exception


class Script:
    """Answers in order (the last answer repeats); records every request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def run(
    script: Script,
    method: str = "GET",
    *,
    idempotent: bool | None = None,
    retryable: Callable[[httpx.Response], bool] | None = None,
    **policy: object,
) -> tuple[httpx.Response, list[float]]:
    slept: list[float] = []
    client = httpx.Client(transport=httpx.MockTransport(script))
    response = upstream.request(
        client,
        method,
        "https://api.example/v1/thing?secret=1",
        policy=RetryPolicy(sleep=slept.append, **policy),  # type: ignore[arg-type]
        idempotent=idempotent,
        retryable=retryable,
        json={"a": 1} if method == "POST" else None,
    )
    return response, slept


def test_a_success_is_returned_at_once() -> None:
    script = Script(httpx.Response(200, json={"ok": True}))

    response, slept = run(script)

    assert response.json() == {"ok": True}
    assert (len(script.requests), slept) == (1, [])


def test_5xx_on_a_read_is_retried_with_exponential_backoff_then_returned() -> None:
    script = Script(httpx.Response(503))

    response, slept = run(script, attempts=4)

    assert response.status_code == 503  # the caller maps the last answer to its own error
    assert len(script.requests) == 4
    assert slept == [0.5, 1.0, 2.0]


def test_backoff_is_capped() -> None:
    _, slept = run(Script(httpx.Response(500)), attempts=5, base_delay=1.0, max_delay=3.0)

    assert slept == [1.0, 2.0, 3.0, 3.0]


def test_jitter_draws_below_the_exponential_ceiling() -> None:
    draws = iter([0.5, 0.25])
    slept: list[float] = []
    policy = RetryPolicy(
        attempts=3, base_delay=1.0, jitter=True, random=lambda: next(draws), sleep=slept.append
    )
    client = httpx.Client(transport=httpx.MockTransport(Script(httpx.Response(500))))

    upstream.request(client, "GET", "https://api.example/", policy=policy)

    assert slept == [0.5 * 1.0, 0.25 * 2.0]


def test_a_429_waits_for_retry_after_seconds() -> None:
    script = Script(httpx.Response(429, headers={"retry-after": "7"}), httpx.Response(200))

    response, slept = run(script)

    assert response.status_code == 200
    assert slept == [7.0]


def test_retry_after_as_an_http_date_and_its_cap() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    script = Script(
        httpx.Response(429, headers={"retry-after": when}),
        httpx.Response(429, headers={"retry-after": "3600"}),
        httpx.Response(200),
    )

    _, slept = run(script, max_retry_after=30.0)

    assert 15.0 <= slept[0] <= 20.0
    assert slept[1] == 30.0


def test_an_unreadable_retry_after_falls_back_to_backoff() -> None:
    script = Script(httpx.Response(429, headers={"retry-after": "soon"}), httpx.Response(200))

    assert run(script)[1] == [0.5]


def test_a_4xx_is_final() -> None:
    script = Script(httpx.Response(404))

    response, slept = run(script)

    assert (response.status_code, len(script.requests), slept) == (404, 1, [])


@pytest.mark.parametrize(
    "never_sent",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("no SYN-ACK"), httpx.PoolTimeout("x")],
)
def test_a_post_that_never_left_is_sent_again(never_sent: Exception) -> None:
    script = Script(never_sent, httpx.Response(201))

    response, _ = run(script, "POST")

    assert response.status_code == 201
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    "maybe_sent",
    [
        httpx.ReadTimeout("after sending"),
        httpx.WriteTimeout("while sending"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("closed mid-answer"),
    ],
)
def test_a_post_that_may_have_arrived_is_never_repeated(maybe_sent: Exception) -> None:
    script = Script(maybe_sent, httpx.Response(201))

    with pytest.raises(type(maybe_sent)) as raised:
        run(script, "POST")

    assert len(script.requests) == 1
    assert upstream.may_have_been_sent(raised.value)


def test_a_5xx_to_a_post_is_not_repeated_but_a_429_is() -> None:
    refused_then_ok = Script(httpx.Response(429), httpx.Response(201))
    failed = Script(httpx.Response(502), httpx.Response(201))

    assert run(refused_then_ok, "POST")[0].status_code == 201
    assert run(failed, "POST")[0].status_code == 502
    assert (len(refused_then_ok.requests), len(failed.requests)) == (2, 1)


def test_a_post_the_caller_declares_safe_is_retried_like_a_read() -> None:
    script = Script(httpx.ReadTimeout("lost"), httpx.Response(500), httpx.Response(201))

    response, slept = run(script, "POST", idempotent=True)

    assert response.status_code == 201
    assert slept == [0.5, 1.0]


def test_a_delete_the_caller_declares_unsafe_is_not_retried_after_sending() -> None:
    script = Script(httpx.Response(500), httpx.Response(204))

    assert run(script, "DELETE", idempotent=False)[0].status_code == 500


def test_errors_exhausting_the_attempts_raise_the_last_one() -> None:
    script = Script(httpx.ConnectError("refused"))

    with pytest.raises(httpx.ConnectError) as raised:
        run(script, attempts=3)

    assert len(script.requests) == 3
    assert not upstream.may_have_been_sent(raised.value)


def test_statuses_that_are_verdicts_are_never_retried() -> None:
    script = Script(httpx.Response(520), httpx.Response(200))

    response, _ = run(script, no_retry_statuses=frozenset({520}))

    assert response.status_code == 520


def test_a_body_signalled_retry_uses_the_callers_rule() -> None:
    throttled = httpx.Response(400, json={"__type": "ThrottlingException"})
    script = Script(throttled, httpx.Response(400, json={"__type": "Other"}))

    def rule(response: httpx.Response) -> bool:
        return bool(upstream.json_object(response).get("__type") == "ThrottlingException")

    response, _ = run(script, "POST", idempotent=True, retryable=rule)

    assert response.json() == {"__type": "Other"}
    assert len(script.requests) == 2


def test_the_clients_it_makes_never_follow_redirects() -> None:
    script = Script(httpx.Response(302, headers={"location": "https://elsewhere.example/"}))
    client = upstream.new_client(timeout=3.0, transport=httpx.MockTransport(script))

    response = upstream.request(client, "GET", "https://api.example/", policy=upstream.NO_RETRIES)

    assert response.status_code == 302
    assert len(script.requests) == 1
    assert client.timeout.connect == 3.0


def test_retry_logs_name_the_path_but_not_the_query(caplog: pytest.LogCaptureFixture) -> None:
    run(Script(httpx.Response(503), httpx.Response(200)))

    assert "/v1/thing" in caplog.text
    assert "secret" not in caplog.text


def test_a_policy_needs_an_attempt() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


def test_redact_hides_every_secret() -> None:
    assert upstream.redact("key k1 and k2", ("k1", "k2", "")) == "key *** and ***"
