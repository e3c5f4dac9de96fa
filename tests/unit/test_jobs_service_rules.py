"""Small rules of the job endpoints and workflow that need no database."""

from __future__ import annotations

import uuid

import pytest

from timmy.jobs.errors import JobNotFound
from timmy.jobs.service import parse_job_id
from timmy.jobs.workflow import public_failure
from timmy.quote import InvalidRequestText, validate_request_text


def test_job_ids_are_canonical_uuids_and_anything_else_is_not_found() -> None:
    job_id = uuid.uuid4()
    assert parse_job_id(str(job_id).upper()) == str(job_id)
    assert parse_job_id(f" {job_id} ") == str(job_id)
    for bad in ("", "nope", "1234", str(job_id)[:-1], "../etc/passwd"):
        with pytest.raises(JobNotFound) as caught:
            parse_job_id(bad)
        assert (caught.value.status, caught.value.code) == (404, "job_not_found")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("PermanentAIError", "ai_failed"),
        ("RetryableAIError", "ai_unavailable"),
        ("States.Timeout", "timeout"),
        ("RuntimeError", "internal_error"),
        ("States.Runtime", "internal_error"),
        (None, "internal_error"),
    ],
)
def test_workflow_errors_map_to_public_codes_and_fixed_sentences(
    error: str | None, code: str
) -> None:
    public_code, message = public_failure(error)
    assert public_code == code
    assert message.endswith(".")
    assert error is None or error not in message


def test_a_request_with_a_nul_character_is_refused_before_it_reaches_the_database() -> None:
    with pytest.raises(InvalidRequestText) as caught:
        validate_request_text("before\x00after")
    assert (caught.value.status, caught.value.code) == (400, "invalid_request_text")
    assert validate_request_text("fine\ttext\n") == "fine\ttext\n"
