"""The errors a bootstrap caller (or the provisioning workflow) can meet."""

from __future__ import annotations

from timmy.errors import Conflict, NotFound


class BootstrapJobNotFound(NotFound):
    code = "bootstrap_job_not_found"


class JobNotProvisioning(Conflict):
    """A workflow step found its job in a state it cannot work on (unpaid, failed, ready)."""

    code = "bootstrap_job_not_provisioning"
