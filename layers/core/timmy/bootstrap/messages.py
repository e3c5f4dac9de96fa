"""What a caller is told about a bootstrap job: the message and the next steps of each state."""

from __future__ import annotations

from typing import Final

from timmy.data.bootstrap import BootstrapJob, BootstrapProgress
from timmy.provisioning import cloudinit
from timmy.provisioning.settings import provisioning_settings

# How each step the workflow records reads to a person.
PROGRESS_TEXT: Final[dict[BootstrapProgress, str]] = {
    BootstrapProgress.AWAITING_PAYMENT: "Waiting for the invoice to be paid.",
    BootstrapProgress.PAID: "Payment received; provisioning is starting.",
    BootstrapProgress.SSH_KEY: "Generating the node's SSH keypair.",
    BootstrapProgress.UPLOAD_SSH_KEY: "Uploading the SSH public key to DigitalOcean.",
    BootstrapProgress.TAILSCALE_KEY: "Creating a Tailscale auth key for the node.",
    BootstrapProgress.CREATE_DROPLET: "Creating the droplet on DigitalOcean.",
    BootstrapProgress.WAIT_FOR_IP: "The droplet is booting; waiting for its public IP address.",
    BootstrapProgress.READY: "The node is ready.",
}

# How a failure reads, by the step that was under way.
FAILED_WHILE: Final[dict[BootstrapProgress, str]] = {
    BootstrapProgress.PAID: "while starting",
    BootstrapProgress.SSH_KEY: "while generating the SSH key",
    BootstrapProgress.UPLOAD_SSH_KEY: "while uploading the SSH key",
    BootstrapProgress.TAILSCALE_KEY: "while creating the Tailscale auth key",
    BootstrapProgress.CREATE_DROPLET: "while creating the droplet",
    BootstrapProgress.WAIT_FOR_IP: "while waiting for the droplet's IP address",
}


def key_file(job_id: str) -> str:
    """Where the caller is told to save the node's private key: named after the node (the
    README's example saves it there too), so two nodes' keys never overwrite each other."""
    return f"~/.ssh/{cloudinit.node_hostname(job_id)}"


def poll_path(job_id: str) -> str:
    return f"/api/bootstrap/{job_id}"


def dev_pay_url(base_url: str, payment_hash: str) -> str:
    return f"{base_url.rstrip('/')}/api/dev/stub/pay/{payment_hash}"


def awaiting_payment(row: BootstrapJob, *, base_url: str, dev_mode: bool) -> tuple[str, list[str]]:
    amount = row.amount_sats
    message = f"Pay the Lightning invoice of {amount} sats to provision your Bitcoin full node."
    poll = f"{base_url.rstrip('/')}{poll_path(row.id)}"
    steps = [
        "Pay invoice.payment_request with any Lightning wallet before invoice.expires_at.",
        f"Poll GET {poll} until state is ready (a few minutes after payment).",
        "The SSH private key is shown exactly once, in the first response with state ready: "
        "be ready to save it.",
    ]
    if dev_mode:
        url = dev_pay_url(base_url, row.payment_hash)
        message += f" Development mode: pay it with POST {url}"
        steps.insert(0, f"Development mode: pay the invoice with POST {url}")
    return message, steps


def provisioning(row: BootstrapJob, *, base_url: str) -> tuple[str, list[str]]:
    progress = row.progress
    message = "Provisioning your Bitcoin full node. " + PROGRESS_TEXT.get(progress, "")
    if progress == BootstrapProgress.WAIT_FOR_IP and row.ip_polls:
        message += f" (checked {row.ip_polls} times so far)"
    poll = f"{base_url.rstrip('/')}{poll_path(row.id)}"
    return message.strip(), [
        f"Keep polling GET {poll}: provisioning usually takes a few minutes.",
        "The SSH private key is shown exactly once, in the first response with state ready: "
        "be ready to save it.",
    ]


def ready(row: BootstrapJob, *, key_in_this_response: bool) -> tuple[str, list[str]]:
    key = key_file(row.id)
    ip = row.node_ip
    tailnet_name = row.tailscale_hostname
    message = "Your Bitcoin full node is ready."
    steps: list[str] = []
    if key_in_this_response:
        steps.append(
            f"Save ssh_private_key now to {key} and run chmod 600 {key}: it is shown "
            "only in this response and is no longer stored anywhere by Timmy."
        )
    else:
        steps.append(f"Use the SSH private key you saved from the first ready response ({key}).")
    if row.tailscale_enabled and tailnet_name:
        steps.append(
            "SSH is open only on the tailnet (the firewall denies it on the public address): "
            "join the same tailnet from your machine, then "
            f"ssh -i {key} root@{tailnet_name}"
        )
    else:
        steps.append(
            f"Connect with ssh -i {key} root@{ip} (key-only login; the firewall allows "
            "nothing else inbound)."
        )
    if provisioning_settings().mode == "stub":
        steps.append(
            "Stub provisioner (no DO_API_TOKEN): no droplet was created, so nothing answers "
            "on this address; the key pair is real."
        )
    steps += [
        "The first boot installs Docker and Bitcoin Knots: follow it with "
        f"tail -f {cloudinit.BOOTSTRAP_LOG} until it prints 'timmy-bootstrap: complete' "
        "(usually 5-10 minutes).",
        f"Check the node with bitcoin-cli getblockchaininfo. {_sync_note()}",
        f"The bitcoind compose project lives in {cloudinit.COMPOSE_DIR} (docker compose logs -f).",
        "lnbits_url is null: LNbits is not installed on the node; add it yourself if you need "
        "a Lightning wallet on top of the node.",
    ]
    return message, steps


def failed(row: BootstrapJob, *, base_url: str) -> tuple[str, list[str]]:
    message = f"Provisioning failed: {row.error_message}"
    steps = [f"Start over with POST {base_url.rstrip('/')}/api/bootstrap (a new invoice)."]
    if row.paid_at is not None:
        steps.append(f"You paid for this job: quote bootstrap_job_id {row.id} to the operator.")
    if row.cleanup_complete is False:
        steps.append(
            "Some cloud resources of this job could not be removed automatically; the operator "
            "has to remove them (they are tagged with the job id)."
        )
    else:
        steps.append("Nothing created for this job was left running.")
    return message, steps


def _sync_note() -> str:
    prune_mb = provisioning_settings().prune_mb
    note = "The initial block download takes hours to days."
    if prune_mb is not None:
        note += f" The node is pruned: it validates everything but keeps ~{prune_mb} MB of blocks."
    return note


def key_note(*, delivered_now: bool, key_missing: bool = False) -> str:
    if key_missing:
        return (
            "The SSH private key of this node is no longer available; ask the operator to add a "
            "new key for you (quote the bootstrap_job_id)."
        )
    if delivered_now:
        return "This is the only time the private key is shown: save it now."
    return (
        "The SSH private key was delivered in an earlier response and is no longer stored. "
        "If it was lost, ask the operator to add a new key for you (quote the bootstrap_job_id)."
    )
