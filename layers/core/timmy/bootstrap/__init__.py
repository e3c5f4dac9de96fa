"""Bootstrap: pay one Lightning invoice, get a Bitcoin full node on DigitalOcean.

``service`` answers the two HTTP endpoints (create a job, report its state and deliver the SSH
key once); ``steps`` holds the provisioning workflow's steps (BootstrapStateMachine); the
``bootstrap_jobs`` row (``timmy.data.bootstrap``) is the source of truth for both.
"""

from __future__ import annotations

from timmy.errors import Conflict, NotFound

PURPOSE = "bootstrap"


class BootstrapJobNotFound(NotFound):
    code = "bootstrap_job_not_found"


class JobNotProvisioning(Conflict):
    """A workflow step found its job in a state it cannot work on (unpaid, failed, ready)."""

    code = "bootstrap_job_not_provisioning"
