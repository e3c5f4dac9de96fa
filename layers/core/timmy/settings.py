"""Typed settings, read from the environment lazily and cached.

Every capability declares its own settings model (a subclass of :class:`EnvSettings`) next to
its code, so each model names only what it uses. Field ``foo_bar`` is read from ``FOO_BAR``.

In AWS, secrets are not put in plain environment variables: ``TIMMY_SECRET_ARN`` names one
Secrets Manager secret holding a JSON object of the same ``NAME: value`` pairs; values found
there fill fields the environment leaves unset. Locally the environment alone is used.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_SECRET_CACHE_SECONDS = 300


def _app_secret_values() -> dict[str, str]:
    """The JSON object stored in the app secret, or {} when none is configured."""
    arn = os.environ.get("TIMMY_SECRET_ARN", "")
    if not arn:
        return {}
    # Imported here: Parameters pulls in boto3, which only AWS code paths need.
    from aws_lambda_powertools.utilities import parameters

    raw = parameters.get_secret(arn, max_age=_SECRET_CACHE_SECONDS)
    values = json.loads(raw) if isinstance(raw, str) else json.loads(bytes(raw).decode())
    return {str(k): str(v) for k, v in values.items() if v not in (None, "")}


class EnvSettings(BaseModel):
    """Base for settings models: frozen, fields read from upper-cased environment names."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Self:
        env = dict(os.environ if environ is None else environ)
        names = {name.upper(): name for name in cls.model_fields}
        values: dict[str, Any] = {}
        secret_values = _app_secret_values() if environ is None else {}
        for env_name, field_name in names.items():
            raw = env.get(env_name)
            if raw in (None, ""):
                raw = secret_values.get(env_name)
            if raw not in (None, ""):
                values[field_name] = raw
        return cls.model_validate(values)


S = TypeVar("S", bound=EnvSettings)


@functools.cache
def load(model: type[S]) -> S:
    """The cached settings instance of ``model``; ``load.cache_clear()`` re-reads (tests)."""
    return model.from_env()


def bool_from_env(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class CoreSettings(EnvSettings):
    """What the platform itself needs: stage, database, Lightning, workflow wiring."""

    stage: str = "dev"
    dev_mode: bool = False

    # Database: DATABASE_URL locally; in AWS the RDS Proxy endpoint with IAM auth or the
    # managed secret.
    database_url: str = ""
    db_host: str = ""
    db_port: int = 5432
    db_name: str = "timmy"
    db_user: str = "timmy"
    db_iam_auth: bool = False
    db_secret_arn: str = ""
    db_ssl: bool = True
    aws_region: str = "us-east-1"

    # Lightning: LNbits when both URL and invoice key are set, otherwise the stub backend.
    lnbits_url: str = ""
    lnbits_api_key: SecretStr = SecretStr("")
    lnbits_admin_key: SecretStr = SecretStr("")
    stub_node_secret: SecretStr = Field(
        default=SecretStr("11" * 32),
        description="secp256k1 secret (hex) signing the stub backend's BOLT11 invoices",
    )
    lightning_network: Literal["bc", "tb", "tbs", "bcrt"] = "bcrt"
    invoice_expiry_seconds: int = Field(default=600, ge=60, le=86_400)
    public_base_url: str = ""

    @field_validator("dev_mode", "db_iam_auth", "db_ssl", mode="before")
    @classmethod
    def _parse_bool(cls, value: Any) -> bool:
        return bool_from_env(value)

    @property
    def lightning_mode(self) -> str:
        if self.lnbits_url and self.lnbits_api_key.get_secret_value():
            return "lnbits"
        return "stub"


def core() -> CoreSettings:
    return load(CoreSettings)


def reset() -> None:
    load.cache_clear()
