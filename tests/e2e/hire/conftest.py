"""Fixtures for the AI-for-Hire tests over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from hire_http import funded


@pytest.fixture
def account(api: httpx.Client) -> Callable[[int], str]:
    return lambda amount: funded(api, amount)
