"""Bootstrap: pay one Lightning invoice, get a Bitcoin full node on DigitalOcean.

``service`` answers the two HTTP endpoints (create a job, report its state and deliver the SSH
key once); ``steps`` holds the provisioning workflow's steps (BootstrapStateMachine); the
``bootstrap_jobs`` row (``timmy.data.bootstrap``) is the source of truth for both.
"""

from timmy.bootstrap.errors import BootstrapJobNotFound, JobNotProvisioning

__all__ = ["BootstrapJobNotFound", "JobNotProvisioning"]
