"""Each function's environment, as Lambda would give it: nothing merged across functions.

A worker gets what Lambda itself sets, the variables of its template entry (Globals and its
own ``Environment.Variables``), and the local stack's stand-ins for AWS-only resources (the
database URL, the moto endpoint). A variable missing from one function's entry stays missing
there, locally as in AWS, even where another function's entry declares it.

The operator's environment (``FREE_TIER_BUDGET_NEW=200 make dev``) overrides a declared
variable only in the entries that declare it, as ``sam local --env-vars`` does; a setting no
entry declares reaches every function, as the app secret's keys do in AWS. The shell's own
variables (``PATH``, ``HOME``, ...) are never handed on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from local.template import ACCOUNT, REGION, FunctionSpec

ROOT = Path(__file__).resolve().parent.parent
LAYER_DIR = ROOT / "layers" / "core"
MEMORY_MB = 512
# Embedded defaults of the local stack (the operator's environment wins): nothing waits on a
# network that may be unreachable.
LOCAL_DEFAULTS = {"BTC_PRICE_FIXED_USD": "100000"}
# moto answers every AWS call; these keep boto3 from looking for real credentials.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def lambda_variables(spec: FunctionSpec) -> dict[str, str]:
    """What the Lambda service sets in every container of ``spec``."""
    name = spec.logical_id
    return {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "_HANDLER": spec.handler,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        # /var/task, then the layer's /opt/python.
        "PYTHONPATH": os.pathsep.join([str(spec.code_dir), str(LAYER_DIR)]),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        **LOCAL_CREDENTIALS,
    }


# The shell's and the tools' variables, not settings of ours.
_SHELL_VARIABLES = {
    "COLUMNS", "DISPLAY", "EDITOR", "HOME", "HOSTNAME", "LANG", "LINES", "LOGNAME", "MAIL",
    "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "OLDPWD", "PAGER", "PATH", "PS1", "PWD",
    "SAM_CLI_TELEMETRY", "SHELL", "SHLVL", "TERM", "TMPDIR", "TZ", "USER", "VIRTUAL_ENV",
}  # fmt: skip
_SHELL_PREFIXES = ("AWS_", "LC_", "PYTHON", "PYTEST_", "SSH_", "XDG_", "GIT_", "PIP_", "TERM_", "_")


def operator_settings(operator: Mapping[str, str], declared: set[str]) -> dict[str, str]:
    """The operator's settings that no function's entry declares (they reach every one)."""
    return {
        key: value
        for key, value in operator.items()
        if key not in declared
        and key not in _SHELL_VARIABLES
        and not key.startswith(_SHELL_PREFIXES)
        and key.isupper()
    }


def function_environment(
    spec: FunctionSpec,
    *,
    stand_ins: Mapping[str, str],
    operator: Mapping[str, str],
    settings: Mapping[str, str],
    overrides: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """The environment of one function's workers.

    ``stand_ins`` replace what only AWS has (DATABASE_URL for the proxy, AWS_ENDPOINT_URL for
    the AWS APIs); ``operator`` is the environment ``make dev`` was started with and
    ``settings`` its :func:`operator_settings`; ``overrides`` are set for every function (None
    removes a variable), as a redeploy with them would.
    """
    env = {**LOCAL_DEFAULTS, **settings, **lambda_variables(spec), **stand_ins}
    for key, value in spec.environment.items():
        env[key] = operator.get(key, value)
    for key, maybe in (overrides or {}).items():
        if maybe is None:
            env.pop(key, None)
        else:
            env[key] = maybe
    return env


def caller_environment(specs: Mapping[str, FunctionSpec]) -> dict[str, str]:
    """Settings for code that calls the services directly in the stack's own process (the
    tests, the benchmarks): every function's variables, the first declaration winning."""
    env: dict[str, str] = dict(LOCAL_DEFAULTS)
    for spec in specs.values():
        for key, value in spec.environment.items():
            env.setdefault(key, value)
    return env


__all__ = [
    "ACCOUNT",
    "LOCAL_DEFAULTS",
    "caller_environment",
    "function_environment",
    "operator_settings",
]
