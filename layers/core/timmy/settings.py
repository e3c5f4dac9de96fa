"""Typed settings, read from the environment lazily and cached.

Every capability declares its own settings model (a subclass of :class:`EnvSettings`) next to
its code, so each model names only what it uses. Field ``foo_bar`` is read from ``FOO_BAR``;
an empty variable counts as unset. Parsing is strict: a value that is not of the field's type
is an error naming the variable, never a quiet default. Booleans are :data:`EnvBool`.

In AWS, secrets are not put in plain environment variables: ``TIMMY_SECRET_ARN`` names one
Secrets Manager secret holding a JSON object of the same ``NAME: value`` pairs; values found
there fill fields the environment leaves unset. Locally the environment alone is used.
:func:`read_secret_json` is the one reader of Secrets Manager JSON (this app secret and the
database's managed secret).

Every model is registered when its module is imported. Each Lambda entry point calls
:func:`validate_all` before it handles an event (``timmy.runtime.check_configuration``), so a
bad value in any setting its code imports fails every invocation at once with one
:class:`~timmy.errors.ConfigurationError` naming the variables, instead of passing start-up and
breaking the one request that happens to read it. Import time stays free of I/O: the app
secret is only read then, at the first invocation.

pydantic-settings is not used: this one source is all Timmy needs, and importing it (with the
argparse, dotenv and shlex it pulls in for sources Timmy has no use for) costs every cold start
15-25 ms on top of pydantic.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from timmy.errors import ConfigurationError

_SECRET_CACHE_SECONDS = 300
_HEX32 = re.compile(r"[0-9a-fA-F]{64}")

# The only spellings a boolean variable may take (any case, surrounding blanks ignored).
# Anything else (``ture``, ``enabled``, ``yes``) is a configuration error: read as false it
# would quietly turn off what it names (``DB_SSL=enabled`` once meant no TLS).
TRUE_WORDS = frozenset({"true", "1"})
FALSE_WORDS = frozenset({"false", "0"})


def _strict_bool(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError("must be true or false (or 1 or 0)")


EnvBool = Annotated[bool, BeforeValidator(_strict_bool)]
"""The boolean type of every settings model: ``true``/``1`` or ``false``/``0``, nothing else."""


def read_secret_json(arn: str, *, variable: str) -> dict[str, Any]:
    """The JSON object stored in the Secrets Manager secret ``arn`` (named by ``variable``).

    Read with Powertools Parameters, cached for five minutes (so a rotated secret is picked up
    by warm functions). A secret that does not hold a JSON object is a ConfigurationError.
    """
    # Imported here: Parameters pulls in boto3, which only AWS code paths need.
    from aws_lambda_powertools.utilities import parameters

    raw = parameters.get_secret(arn, max_age=_SECRET_CACHE_SECONDS)
    try:
        value = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{variable}: the secret must hold a JSON object")
    return value


def _app_secret_values() -> dict[str, str]:
    """The app secret's ``NAME: value`` pairs, or {} when none is configured."""
    arn = os.environ.get("TIMMY_SECRET_ARN", "")
    if not arn:
        return {}
    values = read_secret_json(arn, variable="TIMMY_SECRET_ARN")
    return {str(k): str(v) for k, v in values.items() if v not in (None, "")}


class EnvSettings(BaseModel):
    """Base for settings models: frozen, fields read from upper-cased environment names."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _MODELS.append(cls)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The model read from ``environ``, or from the process environment merged with the
        app secret when ``environ`` is None. Raises pydantic's ValidationError."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        secret_values = _app_secret_values() if environ is None else {}
        for field_name in cls.model_fields:
            env_name = field_name.upper()
            raw = env.get(env_name)
            if raw in (None, ""):
                raw = secret_values.get(env_name)
            if raw not in (None, ""):
                values[field_name] = raw
        return cls.model_validate(values)


S = TypeVar("S", bound=EnvSettings)

# Every settings model whose module has been imported, in import order.
_MODELS: list[type[EnvSettings]] = []


def models() -> tuple[type[EnvSettings], ...]:
    """Every settings model imported so far."""
    return tuple(_MODELS)


def problems(error: ValidationError) -> list[str]:
    """One line per invalid setting: the variable's name and what is wrong, never the value."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        names = ".".join(str(part) for part in item["loc"]).upper()
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{names}: {message}" if names else message)
    return lines


@functools.cache
def load(model: type[S]) -> S:
    """The cached settings instance of ``model``; ``load.cache_clear()`` re-reads (tests).

    Raises :class:`ConfigurationError` when the environment holds an invalid value.
    """
    try:
        return model.from_env()
    except ValidationError as exc:
        raise ConfigurationError(*problems(exc)) from None


def validate_all() -> None:
    """Load every imported settings model, or raise one ConfigurationError naming them all.

    Cheap once loaded (each model is cached), so entry points call it on every invocation.
    """
    found: list[str] = []
    for model in models():
        try:
            load(model)
        except ConfigurationError as exc:
            found.extend(exc.problems)
    if found:
        raise ConfigurationError(*dict.fromkeys(found))


def validate_environment(environ: Mapping[str, str]) -> None:
    """Validate every imported settings model against ``environ`` (not the process's, no app
    secret, nothing cached), or raise one ConfigurationError naming every problem."""
    found: list[str] = []
    for model in models():
        try:
            model.from_env(environ)
        except ValidationError as exc:
            found.extend(problems(exc))
    if found:
        raise ConfigurationError(*dict.fromkeys(found))


class CoreSettings(EnvSettings):
    """What the platform itself needs: stage, database, Lightning, workflow wiring."""

    stage: str = "dev"
    dev_mode: EnvBool = False

    # Database: DATABASE_URL locally; in AWS the RDS Proxy endpoint with IAM auth or the
    # managed secret.
    database_url: str = ""
    db_host: str = ""
    db_port: int = 5432
    db_name: str = "timmy"
    db_user: str = "timmy"
    db_iam_auth: EnvBool = False
    db_secret_arn: str = ""
    db_ssl: EnvBool = True
    aws_region: str = "us-east-1"

    # Lightning: LIGHTNING_BACKEND names the node; unset, LNbits when both URL and invoice key
    # are set, otherwise the stub backend (the behaviour before the setting existed).
    lightning_backend: Literal["stub", "lnbits", "phoenixd"] | None = None
    lnbits_url: str = ""
    lnbits_api_key: SecretStr = SecretStr("")
    lnbits_admin_key: SecretStr = SecretStr("")
    phoenixd_url: str = ""
    phoenixd_password: SecretStr = SecretStr("")  # the full-access http-password
    phoenixd_webhook_secret: SecretStr = SecretStr("")
    stub_node_secret: SecretStr = Field(
        default=SecretStr("11" * 32),
        description="secp256k1 secret (hex) signing the stub backend's BOLT11 invoices",
    )
    lightning_network: Literal["bc", "tb", "tbs", "bcrt"] = "bcrt"
    invoice_expiry_seconds: int = Field(default=600, ge=60, le=86_400)
    public_base_url: str = ""

    @field_validator("public_base_url", "lnbits_url", "phoenixd_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("must be an absolute http(s):// URL")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("must not carry credentials, a query or a fragment")
        return value.rstrip("/")

    @field_validator("stub_node_secret")
    @classmethod
    def _secp256k1_hex(cls, value: SecretStr) -> SecretStr:
        if not _HEX32.fullmatch(value.get_secret_value()):
            raise ValueError("must be 64 hexadecimal characters")
        return value

    @model_validator(mode="after")
    def _lightning_complete(self) -> Self:
        if self.lnbits_url and not self.lnbits_api_key.get_secret_value():
            raise ValueError("LNBITS_URL is set but LNBITS_API_KEY (its invoice key) is not")
        if self.lightning_backend == "lnbits" and not self.lnbits_url:
            raise ValueError("LIGHTNING_BACKEND is lnbits but LNBITS_URL is not set")
        if self.lightning_backend == "phoenixd":
            missing = [
                name
                for name, value in (
                    ("PHOENIXD_URL", self.phoenixd_url),
                    ("PHOENIXD_PASSWORD", self.phoenixd_password.get_secret_value()),
                    # Without it no webhook could be verified: every one would be refused.
                    ("PHOENIXD_WEBHOOK_SECRET", self.phoenixd_webhook_secret.get_secret_value()),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"LIGHTNING_BACKEND is phoenixd but not set: {', '.join(missing)}")
        return self

    @property
    def lightning_mode(self) -> str:
        """The backend in use: ``stub``, ``lnbits`` or ``phoenixd``."""
        if self.lightning_backend is not None:
            return self.lightning_backend
        if self.lnbits_url and self.lnbits_api_key.get_secret_value():
            return "lnbits"
        return "stub"


def core() -> CoreSettings:
    return load(CoreSettings)


def public_base_url(request_domain: str | None = None, forwarded_proto: str | None = None) -> str:
    """The base URL callers reach this service at, without a trailing slash: the one place
    absolute URLs (webhooks, links in messages, the URL a NIP-98 event must sign) start from.

    ``PUBLIC_BASE_URL`` when configured; otherwise the API Gateway domain of the request
    (``requestContext.domainName``, set by API Gateway, not by the client). Client headers such
    as ``X-Forwarded-Host`` or ``Host`` are never used: a caller could point links at another
    site or replay an event signed for another service. ``forwarded_proto`` (API Gateway sets
    it) may only choose between https and http. Empty when neither is known.
    """
    configured = core().public_base_url
    if configured:
        return configured
    if not request_domain:
        return ""
    proto = (forwarded_proto or "").split(",")[0].strip().lower()
    return f"{'http' if proto == 'http' else 'https'}://{request_domain}"


def reset() -> None:
    load.cache_clear()
