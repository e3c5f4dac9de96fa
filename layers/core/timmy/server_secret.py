"""SERVER_SECRET, the one master secret, and the keys derived from it.

Every key Timmy signs with is ``HMAC-SHA256(SERVER_SECRET, label)`` for a label of its own
(:class:`KeyLabel`), so no two uses share a key and the master secret itself signs nothing.
Without ``SERVER_SECRET`` a fixed development secret is used, but only when ``DEV_MODE`` is
true or ``STAGE`` is ``local``; anywhere else the settings refuse to load (the function answers
``configuration_error``) rather than sign with a secret anyone can read here.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from typing import Self

from pydantic import SecretStr, model_validator

from timmy.errors import ConfigurationError
from timmy.settings import EnvBool, EnvSettings, load

MIN_SERVER_SECRET_CHARS = 16
# Only ever used when DEV_MODE is on or the stage is "local" (see ``ServerSecretSettings``).
_DEV_SERVER_SECRET = b"timmy-dev-server-secret-not-for-production"


class KeyLabel(enum.StrEnum):
    """What a derived key is for. Changing a label invalidates every token signed with it."""

    NOSTR_TOKEN = "timmy/nostr-token"  # noqa: S105 - a label, not a secret
    SESSION_MACAROON = "timmy/session-macaroon"


class ServerSecretSettings(EnvSettings):
    stage: str = "dev"
    dev_mode: EnvBool = False
    server_secret: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _usable(self) -> Self:
        self.key_material()  # raises ValueError naming SERVER_SECRET
        return self

    @property
    def allows_dev_secret(self) -> bool:
        return self.dev_mode or self.stage == "local"

    def key_material(self) -> bytes:
        """The secret keys are derived from; ValueError when this deployment has none."""
        value = self.server_secret.get_secret_value().encode()
        if not value:
            if not self.allows_dev_secret:
                raise ValueError(
                    "SERVER_SECRET must be set (only DEV_MODE or STAGE=local use a dev key)"
                )
            return _DEV_SERVER_SECRET
        if len(value) < MIN_SERVER_SECRET_CHARS:
            raise ValueError(f"SERVER_SECRET must be at least {MIN_SERVER_SECRET_CHARS} characters")
        return value


def server_secret_settings() -> ServerSecretSettings:
    return load(ServerSecretSettings)


def derive_key(label: KeyLabel, config: ServerSecretSettings | None = None) -> bytes:
    """The 32-byte key for ``label``: ``HMAC-SHA256(SERVER_SECRET, label)``.

    Raises ConfigurationError when SERVER_SECRET is unusable, also for a ``config`` built
    without validation.
    """
    config = config or server_secret_settings()
    try:
        secret = config.key_material()
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return hmac.new(secret, KeyLabel(label).encode(), hashlib.sha256).digest()
