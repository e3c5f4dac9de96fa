"""Helpers for the job tests over HTTP: create, pay through the dev stub payer, poll."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

TERMINAL = {"rejected", "complete", "failed", "expired"}


class JobsClient:
    def __init__(self, api: httpx.Client) -> None:
        self.api = api

    def create(self, request: str, **extra: Any) -> dict[str, Any]:
        headers = extra.pop("headers", None)
        response = self.api.post("/api/jobs", json={"request": request, **extra}, headers=headers)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def get(self, job_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def pay(self, payment_hash: str) -> None:
        response = self.api.post(f"/api/dev/stub/pay/{payment_hash}")
        assert response.status_code == 200, response.text
        assert response.json()["paid"] is True, response.text

    def wait_for(
        self, job_id: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        job = self.get(job_id)
        while not predicate(job):
            if time.monotonic() > deadline:
                raise AssertionError(f"job never got there; last seen: {job}")
            time.sleep(0.05)
            job = self.get(job_id)
        return job

    def wait_for_state(self, job_id: str, *states: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_for(job_id, lambda job: job["state"] in states, timeout)

    def run_to_work_invoice(self, request: str, **extra: Any) -> dict[str, Any]:
        created = self.create(request, **extra)
        self.pay(created["eval_invoice"]["payment_hash"])
        return self.wait_for_state(created["job_id"], "awaiting_work_payment", *TERMINAL)

    def run_to_end(self, request: str, **extra: Any) -> dict[str, Any]:
        job = self.run_to_work_invoice(request, **extra)
        if job["state"] != "awaiting_work_payment":
            return job
        self.pay(job["work_invoice"]["payment_hash"])
        return self.wait_for_state(job["job_id"], *TERMINAL)


@pytest.fixture
def jobs(api: httpx.Client) -> JobsClient:
    return JobsClient(api)


@pytest.fixture
def short_payment_wait(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Workflows started during the test give up on an unpaid invoice after 2 seconds."""
    from timmy.runtime import reset_caches

    monkeypatch.setenv("JOB_PAYMENT_WAIT_SECONDS", "2")
    reset_caches()
    yield 2
    monkeypatch.delenv("JOB_PAYMENT_WAIT_SECONDS")
    reset_caches()
