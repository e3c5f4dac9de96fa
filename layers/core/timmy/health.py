"""The health report."""

from __future__ import annotations

from timmy import __version__
from timmy.db.connection import ping
from timmy.settings import core


def report() -> dict[str, str]:
    from timmy.ai import provider_mode
    from timmy.provisioning import provisioner_mode

    database = "up" if ping() else "down"
    return {
        "status": "ok" if database == "up" else "degraded",
        "database": database,
        "lightning_mode": core().lightning_mode,
        "ai_mode": provider_mode(),
        "provisioner_mode": provisioner_mode(),
        "version": __version__,
    }
