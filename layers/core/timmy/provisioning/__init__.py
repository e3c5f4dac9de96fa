"""Provisioning a Bitcoin full node: DigitalOcean, Tailscale, SSH keys, cloud-init.

Modes: with ``DO_API_TOKEN`` the real DigitalOcean client is used (and Tailscale's, when
``TAILSCALE_API_KEY`` and ``TAILSCALE_TAILNET`` are both set); without it the stub provisioner
answers like DigitalOcean and Tailscale would, offline. See ``timmy.bootstrap.clients``.
"""
