"""The configured Lightning backend, built once per process."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from timmy.settings import core

if TYPE_CHECKING:
    from timmy.lightning.types import LightningBackend


@functools.cache
def backend() -> LightningBackend:
    """The backend LIGHTNING_BACKEND names (by default LNbits when LNBITS_URL and
    LNBITS_API_KEY are set, else the stub)."""
    settings = core()
    if settings.lightning_mode == "phoenixd":
        from timmy.lightning.phoenixd import PhoenixdBackend

        return PhoenixdBackend(
            settings.phoenixd_url,
            settings.phoenixd_password.get_secret_value(),
            network=settings.lightning_network,
        )
    if settings.lightning_mode == "lnbits":
        from timmy.lightning.lnbits import LNbitsBackend

        admin_key = settings.lnbits_admin_key.get_secret_value() or None
        return LNbitsBackend(
            settings.lnbits_url,
            settings.lnbits_api_key.get_secret_value(),
            admin_key,
            network=settings.lightning_network,
        )
    from timmy.lightning.stub import StubBackend

    return StubBackend(
        signing_key=bytes.fromhex(settings.stub_node_secret.get_secret_value()),
        network=settings.lightning_network,
    )


def reset() -> None:
    backend.cache_clear()
