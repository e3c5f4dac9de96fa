"""Job, bootstrap job and session ids are bearer capabilities: logs carry only their hash."""

from __future__ import annotations

import logging

import httpx
import pytest

from timmy.observability import log_ref, redact_ids


def test_log_ref_is_short_stable_and_not_the_id() -> None:
    job_id = "3f2a9c1d-5b7e-4c1a-9d2f-0a1b2c3d4e5f"
    ref = log_ref(job_id)
    assert ref == log_ref(job_id.upper())
    assert len(ref) == 12
    assert ref not in job_id
    assert log_ref("3f2a9c1d-5b7e-4c1a-9d2f-0a1b2c3d4e50") != ref
    line = f'"GET /api/jobs/{job_id}/refund?x=1 HTTP/1.1" 200 -'
    assert redact_ids(line) == f'"GET /api/jobs/~{ref}/refund?x=1 HTTP/1.1" 200 -'


def every_logged_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = []
    # "httpx" here is this test's own client logging the URLs it requests, not the service.
    for record in (r for r in caplog.records if r.name != "httpx"):
        parts.append(record.getMessage())
        parts.extend(str(value) for value in vars(record).values())
    return "\n".join(parts)


def test_session_and_job_ids_stay_out_of_the_logs(
    api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    session = api.post("/api/sessions", json={"amount_sats": 1000}).json()
    session_id = session["session_id"]
    assert api.get(f"/api/sessions/{session_id}").status_code == 200
    job = api.post("/api/jobs", json={"request": "say hi"}).json()
    job_id = job["job_id"]
    assert api.get(f"/api/jobs/{job_id}").status_code == 200

    logged = every_logged_text(caplog)
    access_lines = [r.getMessage() for r in caplog.records if r.name == "local"]
    assert any(f"/api/sessions/~{log_ref(session_id)}" in line for line in access_lines)
    assert any(f"/api/jobs/~{log_ref(job_id)}" in line for line in access_lines)
    assert session_id not in logged
    assert job_id not in logged
    created = [r for r in caplog.records if r.getMessage() == "session created"]
    assert [getattr(r, "session_ref", None) for r in created] == [log_ref(session_id)]
