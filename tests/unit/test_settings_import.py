"""Importing the layer and every function does no I/O: settings and secrets are read at the
first invocation, never at import (a cold start pays for what it uses, and a bad setting is
reported by the configuration check instead of an import crash)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: every network call and Secrets Manager read is recorded and
# refused, then the whole layer and every function's app.py are imported.
SCRIPT = r"""
import importlib, importlib.util, json, pathlib, pkgutil, socket, sys

attempts = []

def refuse(*args, **kwargs):
    attempts.append(repr(args[:2]))
    raise OSError("no I/O at import")

socket.getaddrinfo = refuse
socket.create_connection = refuse
socket.socket.connect = refuse

root = pathlib.Path(sys.argv[1])
sys.path[:0] = [str(root / "layers" / "core")]

from aws_lambda_powertools.utilities import parameters

parameters.get_secret = refuse

import timmy

for module in pkgutil.walk_packages(timmy.__path__, "timmy."):
    importlib.import_module(module.name)
functions = sorted((root / "functions").glob("*/app.py"))
for app in functions:
    name = f"fn_{app.parent.name}"
    spec = importlib.util.spec_from_file_location(name, app)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)

from timmy import settings

print(json.dumps({
    "attempts": attempts,
    "functions": len(functions),
    "loaded": settings.load.cache_info().currsize,
}))
"""


def test_importing_every_module_and_function_reads_no_setting_and_no_secret() -> None:
    env = {
        **os.environ,
        "TIMMY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:timmy-app",
        "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:timmy-db",
        "DB_SSL": "enabled",  # invalid: an import that loaded settings would fail on it
        "STAGE": "prod",
    }
    env.pop("SERVER_SECRET", None)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["attempts"] == []
    assert report["functions"] >= 20
    assert report["loaded"] == 0
