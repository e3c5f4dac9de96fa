"""The node's SSH private key (and the Tailscale auth key) in Secrets Manager, until delivered.

One secret per job, named ``timmy/<stage>/bootstrap/<job_id>/ssh`` (the IAM policies of the
functions that touch it are scoped to the ``timmy/<stage>/bootstrap/`` prefix), holding a JSON
object: ``private_key``, ``public_key`` and, once minted, ``tailscale_auth_key``. Nothing here
logs or echoes a value.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from uuid import UUID

from timmy import runtime
from timmy.errors import UpstreamUnavailable
from timmy.settings import core

_NOT_FOUND = "ResourceNotFoundException"
_ALREADY_EXISTS = "ResourceExistsException"


class SecretStoreUnavailable(UpstreamUnavailable):
    """Secrets Manager failed or throttled; nothing was decided. Retry later."""

    code = "secret_store_unavailable"


class SecretsManagerError(Exception):
    """Secrets Manager refused a request for a reason retrying cannot fix (e.g. access denied)."""


def secret_prefix() -> str:
    return f"timmy/{core().stage}/bootstrap/"


def secret_name(job_id: UUID) -> str:
    return f"{secret_prefix()}{job_id}/ssh"


@functools.cache
def _client() -> Any:
    import boto3  # imported lazily: only the bootstrap functions use Secrets Manager

    # A session of our own: boto3's default one is not safe to build clients from on
    # several threads at once (the concurrency tests call us from many).
    return boto3.session.Session().client("secretsmanager", region_name=core().aws_region)


def reset() -> None:
    _client.cache_clear()


runtime.register(__name__, "reset")


def create(name: str, payload: dict[str, str], *, job_id: UUID) -> bool:
    """Create the secret; False (and nothing changed) if a secret of that name already exists."""
    try:
        _client().create_secret(
            Name=name,
            SecretString=json.dumps(payload),
            Description=f"SSH key of Timmy bootstrap job {job_id}; deleted once delivered",
            Tags=[{"Key": "timmy:bootstrap-job", "Value": str(job_id)}],
        )
    except _aws_errors() as error:
        if _code(error) == _ALREADY_EXISTS:
            return False
        raise _translate(error) from None
    return True


def read(name: str) -> dict[str, str] | None:
    """The secret's JSON object, or None if there is no such secret (or it is being deleted)."""
    try:
        response = _client().get_secret_value(SecretId=name)
    except _aws_errors() as error:
        if _code(error) == _NOT_FOUND or _marked_for_deletion(error):
            return None
        raise _translate(error) from None
    value = json.loads(str(response["SecretString"]))
    if not isinstance(value, dict):
        raise SecretsManagerError("the bootstrap secret does not hold a JSON object")
    return {str(k): str(v) for k, v in value.items()}


def put(name: str, payload: dict[str, str]) -> None:
    try:
        _client().put_secret_value(SecretId=name, SecretString=json.dumps(payload))
    except _aws_errors() as error:
        raise _translate(error) from None


def delete(name: str) -> None:
    """Delete at once, without the recovery window; a secret that is already gone is fine."""
    try:
        _client().delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    except _aws_errors() as error:
        if _code(error) == _NOT_FOUND:
            return
        raise _translate(error) from None


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def _marked_for_deletion(error: Exception) -> bool:
    # A secret scheduled for deletion answers InvalidRequestException to reads.
    return _code(error) == "InvalidRequestException" and "deletion" in str(error).lower()


def _aws_errors() -> tuple[type[Exception], ...]:
    """What boto3 raises: an answer (ClientError) or no answer at all (BotoCoreError)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


def _translate(error: Exception) -> Exception:
    """Retryable failures become SecretStoreUnavailable, refusals a value-free error."""
    code = _code(error)
    if not code:
        # No answer at all (connection failure, timeout): nothing was decided.
        return SecretStoreUnavailable(f"Secrets Manager is unavailable ({type(error).__name__})")
    if code in {"ThrottlingException", "InternalServiceError", "InternalFailure"}:
        return SecretStoreUnavailable(f"Secrets Manager is unavailable ({code})")
    return SecretsManagerError(f"Secrets Manager refused the request ({code})")
