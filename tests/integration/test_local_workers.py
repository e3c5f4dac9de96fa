"""The local stack plays Lambda: each function in processes of its own, one event at a time
each, with the environment of its own template entry, and logs that name it."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import httpx
import pytest

from local.stack import LocalStack


def test_concurrent_requests_keep_their_own_event_and_route_arguments(
    api: httpx.Client, gateway_url: str
) -> None:
    # Given four jobs
    job_ids = [
        api.post("/api/jobs", json={"request": f"job {n}"}).json()["job_id"] for n in range(4)
    ]
    # When 8 clients read them all at once, each its own job, 10 times
    mixups: list[tuple[str, Any]] = []
    barrier = threading.Barrier(8)

    def client(n: int) -> None:
        job_id = job_ids[n % 4]
        with httpx.Client(base_url=gateway_url, timeout=30) as http:
            barrier.wait()
            for _ in range(10):
                shown = http.get(f"/api/jobs/{job_id}").json()
                if shown.get("job_id") != job_id:
                    mixups.append((job_id, shown))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Then every response speaks of its own request
    assert mixups == []


def test_a_function_gets_its_own_template_entry_and_no_other(stack: LocalStack) -> None:
    create_job = stack.functions.environment("CreateJobFunction")
    create_bootstrap = stack.functions.environment("CreateBootstrapFunction")
    get_job = stack.functions.environment("GetJobFunction")
    # Its own Environment.Variables, and Globals...
    assert create_job["JOB_STATE_MACHINE_ARN"].endswith(":stateMachine:JobStateMachine")
    assert create_bootstrap["BOOTSTRAP_STATE_MACHINE_ARN"].endswith("BootstrapStateMachine")
    for env in (create_job, create_bootstrap, get_job):
        assert env["STAGE"] == "local"
        assert env["POWERTOOLS_SERVICE_NAME"] == "timmy"
    # ...but not another function's
    assert "BOOTSTRAP_STATE_MACHINE_ARN" not in create_job
    assert "JOB_STATE_MACHINE_ARN" not in create_bootstrap
    assert "JOB_STATE_MACHINE_ARN" not in get_job
    # What Lambda sets, and the AWS APIs reached over HTTP, as boto3 reaches AWS
    assert get_job["AWS_LAMBDA_FUNCTION_NAME"] == "GetJobFunction"
    assert get_job["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    # Nothing else of this process's environment
    assert "HOME" not in get_job
    assert "PYTEST_CURRENT_TEST" not in get_job


def test_each_function_runs_in_a_process_of_its_own(stack: LocalStack, api: httpx.Client) -> None:
    api.get("/api/healthz")
    api.post("/api/jobs", json={"request": "hello"})
    workers = {name: pool.pids() for name, pool in stack.functions.pools.items() if pool.pids()}
    assert {"HealthFunction", "CreateJobFunction"} <= set(workers)
    assert not set(workers["HealthFunction"]) & set(workers["CreateJobFunction"])
    assert os.getpid() not in {pid for pids in workers.values() for pid in pids}


def test_logs_name_the_function_that_wrote_them(
    api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api.post("/api/sessions", json={"amount_sats": 1000})
    created = [r for r in caplog.records if r.getMessage() == "session created"]
    assert [r.name for r in created] == ["lambda.CreateSessionFunction"]
    assert [getattr(r, "function_name", None) for r in created] == ["CreateSessionFunction"]


def test_a_changed_setting_reaches_the_functions_as_a_redeploy_would(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = stack.functions.environment("GetJobFunction")
    monkeypatch.setenv("MAX_REQUEST_CHARS", "50")
    assert stack.functions.environment("GetJobFunction")["MAX_REQUEST_CHARS"] == "50"
    monkeypatch.delenv("MAX_REQUEST_CHARS")
    assert stack.functions.environment("GetJobFunction") == before
