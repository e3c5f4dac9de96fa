"""The first-boot script that turns a fresh Ubuntu droplet into a Bitcoin Knots full node.

DigitalOcean runs ``user_data`` once, as root, through cloud-init. The script is built from small
named parts (each a function returning a bash fragment) so each concern can be read and tested on
its own: base packages, swap, Docker, Tailscale, firewall, the bitcoind compose project, and a
final marker. Every value spliced into the script is validated first, then shell-quoted.

What the script never contains: cloud API tokens or any secret other than the single-use
Tailscale auth key, which is written to a root-only file, handed to ``tailscale up`` and deleted.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable

from timmy.errors import TimmyError

# DigitalOcean rejects user_data larger than 64 KiB.
USER_DATA_MAX_BYTES = 64 * 1024

# Unofficial but reproducible-build-verified Knots images (binaries from bitcoinknots.org, guix
# signatures checked at image build). Pinned: an unattended major upgrade can change behaviour.
DEFAULT_BITCOIN_IMAGE = "bitcoinknots/bitcoin:28.1"

# A pruned node keeps full validation but only the most recent ~30 GB of blocks, so it fits the
# disk of a small droplet (chainstate, OS and image take roughly another 20 GB).
DEFAULT_PRUNE_MB = 30_000
MIN_PRUNE_MB = 550  # bitcoind refuses smaller prune targets.
DEFAULT_DBCACHE_MB = 1024

BITCOIND_CONTAINER = "bitcoind"
COMPOSE_DIR = "/opt/timmy-node"
BOOTSTRAP_LOG = "/var/log/timmy-bootstrap.log"
DONE_MARKER = "/var/lib/timmy/bootstrap-complete"
_AUTH_KEY_FILE = "/root/.tailscale-authkey"
_SWAP_FILE = "/swapfile"
_SWAP_SIZE = "2G"
_BITCOIN_P2P_PORT = 8333
_TAILSCALE_UDP_PORT = 41641

_HOSTNAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Tailscale auth keys are `tskey-auth-<id>-<secret>`; anything else could not be a key.
_AUTH_KEY_RE = re.compile(r"^tskey-[A-Za-z0-9-]{8,200}$")
# registry/name[:tag][@sha256:digest]: lowercase path, no whitespace or shell/YAML syntax.
_IMAGE_RE = re.compile(
    r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@sha256:[a-f0-9]{64})?$"
)


class UserDataTooLarge(TimmyError):
    """The generated script exceeds DigitalOcean's user_data limit: a bug, not bad input."""

    status = 500
    code = "user_data_too_large"


def build_cloud_init(
    *,
    tailscale_auth_key: str | None,
    hostname: str,
    bitcoin_image: str = DEFAULT_BITCOIN_IMAGE,
    prune_mb: int | None = DEFAULT_PRUNE_MB,
    dbcache_mb: int = DEFAULT_DBCACHE_MB,
    allow_inbound_p2p: bool = False,
    tailscale_ssh: bool = False,
) -> str:
    """Return the ``#!/bin/bash`` user_data script for a new node.

    ``prune_mb=None`` keeps the whole chain (needs a ≥ 1 TB disk). ``allow_inbound_p2p`` opens
    8333/tcp so other nodes can connect in; by default the node is outbound-only.
    ``tailscale_ssh`` hands port 22 on the tailnet to Tailscale SSH (tailnet ACLs decide who gets
    in) instead of sshd with the droplet's authorized key.

    Raises ValueError for an invalid argument and UserDataTooLarge if the result exceeds 64 KiB.
    """
    _check_hostname(hostname)
    _check_image(bitcoin_image)
    _check_prune(prune_mb)
    if dbcache_mb < 4:
        raise ValueError("dbcache_mb must be at least 4")
    if tailscale_auth_key is not None:
        _check_auth_key(tailscale_auth_key)
    use_tailscale = tailscale_auth_key is not None

    parts: list[Callable[[], str]] = [
        _part_header,
        lambda: _part_hostname(hostname),
        _part_base_packages,
        _part_ssh_keys_only,
        _part_swap,
        _part_docker,
    ]
    if tailscale_auth_key is not None:
        key = tailscale_auth_key
        parts.append(lambda: _part_tailscale(key, hostname, ssh=tailscale_ssh))
    parts += [
        lambda: _part_firewall(ssh_on_tailnet_only=use_tailscale, p2p=allow_inbound_p2p),
        lambda: _part_bitcoin(
            _compose_file(bitcoin_image, prune_mb=prune_mb, dbcache_mb=dbcache_mb)
        ),
        _part_bitcoin_cli_wrapper,
        _part_done,
    ]
    script = "".join(part() for part in parts)
    check_user_data_size(script)
    return script


def check_user_data_size(user_data: str) -> None:
    """Raise UserDataTooLarge if ``user_data`` would be rejected by DigitalOcean."""
    size = len(user_data.encode("utf-8"))
    if size > USER_DATA_MAX_BYTES:
        raise UserDataTooLarge(
            f"user_data is {size} bytes; DigitalOcean accepts at most {USER_DATA_MAX_BYTES}"
        )


def node_hostname(job_id: str) -> str:
    """A DNS-safe, stable host name for the node of a bootstrap job: ``timmy-node-<8 chars>``.

    Uses the job id's own leading characters when they are DNS-safe (so a person can match node
    and job at a glance), else a hash of the id.
    """
    if not job_id:
        raise ValueError("job_id must not be empty")
    compact = re.sub(r"[^a-z0-9]", "", job_id.lower())
    short = compact[:8] if len(compact) >= 8 else hashlib.sha256(job_id.encode()).hexdigest()[:8]
    return f"timmy-node-{short}"


# --- validation -----------------------------------------------------------------------------


def _check_hostname(hostname: str) -> None:
    if not _HOSTNAME_RE.fullmatch(hostname):
        raise ValueError("hostname must be 1-63 lowercase letters, digits or inner hyphens")


def _check_image(image: str) -> None:
    if not _IMAGE_RE.fullmatch(image):
        raise ValueError("bitcoin_image is not a valid image reference")


def _check_prune(prune_mb: int | None) -> None:
    if prune_mb is not None and prune_mb < MIN_PRUNE_MB:
        raise ValueError(f"prune_mb must be None (no pruning) or at least {MIN_PRUNE_MB}")


def _check_auth_key(key: str) -> None:
    # Never echo the value: it is a secret.
    if not _AUTH_KEY_RE.fullmatch(key):
        raise ValueError("tailscale_auth_key does not look like a Tailscale auth key")


# --- script parts ---------------------------------------------------------------------------


def _part_header() -> str:
    log = shlex.quote(BOOTSTRAP_LOG)
    return f"""#!/bin/bash
# Timmy node bootstrap: Docker, firewall and Bitcoin Knots (bitcoind) via docker compose.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
umask 022
# Keep a copy of everything on disk so the owner can see how the first boot went.
exec > >(tee -a {log}) 2>&1
echo "timmy-bootstrap: start $(date -u +%FT%TZ)"
trap 'echo "timmy-bootstrap: FAILED at line $LINENO (exit $?)"' ERR

# First boot often races unattended-upgrades for the dpkg lock: wait for it, do not fail.
apt_get() {{
  apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef \\
    -o Dpkg::Options::=--force-confold -y -q "$@"
}}

fetch() {{
  curl -fsSL --retry 5 --retry-delay 3 --retry-connrefused "$@"
}}
"""


def _part_hostname(hostname: str) -> str:
    return f"""
# --- hostname ---
hostnamectl set-hostname {shlex.quote(hostname)}
"""


def _part_base_packages() -> str:
    return """
# --- base packages ---
apt_get update
apt_get install ca-certificates curl gnupg ufw
"""


def _part_ssh_keys_only() -> str:
    # The droplet is reached with the generated key only: no passwords, ever.
    return """
# --- ssh: key-only login ---
install -m 0755 -d /etc/ssh/sshd_config.d
cat > /etc/ssh/sshd_config.d/60-timmy.conf <<'TIMMY_SSHD'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
TIMMY_SSHD
systemctl try-reload-or-restart ssh.service
"""


def _part_swap() -> str:
    # Initial block download on a small droplet can be killed by the OOM killer without swap.
    swap = shlex.quote(_SWAP_FILE)
    return f"""
# --- swap ---
if ! swapon --show=NAME --noheadings | grep -q .; then
  fallocate -l {_SWAP_SIZE} {swap}
  chmod 600 {swap}
  mkswap {swap}
  swapon {swap}
  echo '{_SWAP_FILE} none swap sw 0 0' >> /etc/fstab
fi
"""


def _part_docker() -> str:
    return """
# --- docker engine + compose plugin (Docker's own apt repository) ---
. /etc/os-release
docker_repo="https://download.docker.com/linux/${ID}"
install -m 0755 -d /etc/apt/keyrings
fetch "${docker_repo}/gpg" -o /etc/apt/keyrings/docker.asc
chmod a+r /etc/apt/keyrings/docker.asc
echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc]" \\
  "${docker_repo} ${VERSION_CODENAME} stable" > /etc/apt/sources.list.d/docker.list
apt_get update
apt_get install docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin
systemctl enable --now docker
docker compose version
"""


def _part_tailscale(auth_key: str, hostname: str, *, ssh: bool) -> str:
    key_file = shlex.quote(_AUTH_KEY_FILE)
    ssh_flag = " --ssh" if ssh else ""
    # The key goes through a root-only file (not argv, which any local user can read in ps)
    # and is removed as soon as the node has joined. It is single-use and short-lived anyway.
    return f"""
# --- tailscale: install from Tailscale's apt repository, then join the tailnet ---
. /etc/os-release
ts_repo="https://pkgs.tailscale.com/stable/${{ID}}/${{VERSION_CODENAME}}"
fetch "${{ts_repo}}.noarmor.gpg" -o /usr/share/keyrings/tailscale-archive-keyring.gpg
fetch "${{ts_repo}}.tailscale-keyring.list" -o /etc/apt/sources.list.d/tailscale.list
apt_get update
apt_get install tailscale
systemctl enable --now tailscaled
( umask 077; cat > {key_file} <<'TIMMY_TS_AUTHKEY'
{auth_key}
TIMMY_TS_AUTHKEY
)
tailscale up --auth-key=file:{_AUTH_KEY_FILE} --hostname={shlex.quote(hostname)}{ssh_flag}
rm -f {key_file}
tailscale ip -4
"""


def _part_firewall(*, ssh_on_tailnet_only: bool, p2p: bool) -> str:
    if ssh_on_tailnet_only:
        ssh_rule = "ufw allow in on tailscale0 to any port 22 proto tcp"
        ssh_note = "# SSH is reachable only from the tailnet, never from the public internet."
    else:
        ssh_rule = "ufw allow 22/tcp"
        ssh_note = "# No tailnet: SSH stays reachable on the public address (key-only login)."
    # With a tailnet, open WireGuard's port so peers connect directly rather than via a relay.
    extra_rules = f"ufw allow {_TAILSCALE_UDP_PORT}/udp\n" if ssh_on_tailnet_only else ""
    if p2p:
        extra_rules += f"ufw allow {_BITCOIN_P2P_PORT}/tcp\n"
    return f"""
# --- firewall ---
ufw --force reset
ufw default deny incoming
ufw default allow outgoing
{ssh_note}
{ssh_rule}
{extra_rules}ufw --force enable
ufw status verbose
"""


def _compose_file(image: str, *, prune_mb: int | None, dbcache_mb: int) -> str:
    flags = [
        "-printtoconsole",
        "-server=1",
        # RPC answers on the host's loopback only; use bitcoin-cli on the node (cookie auth).
        "-rpcbind=127.0.0.1",
        "-rpcallowip=127.0.0.1",
        f"-dbcache={dbcache_mb}",
    ]
    if prune_mb is not None:
        flags.append(f"-prune={prune_mb}")
    command = "\n".join(f"      - {flag}" for flag in flags)
    # Host networking on purpose: ports Docker publishes bypass UFW's rules, host-networked
    # sockets do not, so the firewall above really is the node's firewall.
    return f"""name: timmy-node
services:
  bitcoind:
    image: {image}
    container_name: {BITCOIND_CONTAINER}
    restart: unless-stopped
    network_mode: host
    # bitcoind flushes its caches on shutdown; a hard kill costs a long reindex.
    stop_grace_period: 5m
    volumes:
      - bitcoin-data:/home/bitcoin/.bitcoin
    command:
{command}
    logging:
      driver: json-file
      options:
        max-size: "10m"
        max-file: "3"
volumes:
  bitcoin-data: {{}}
"""


def _part_bitcoin(compose_yaml: str) -> str:
    compose_dir = shlex.quote(COMPOSE_DIR)
    return f"""
# --- bitcoin knots (bitcoind) ---
install -m 0755 -d {compose_dir}
cat > {compose_dir}/compose.yaml <<'TIMMY_COMPOSE'
{compose_yaml}TIMMY_COMPOSE
cd {compose_dir}
docker compose pull
docker compose up -d
cd /
"""


def _part_bitcoin_cli_wrapper() -> str:
    # `bitcoin-cli getblockchaininfo` on the node just works, through the container's cookie.
    return f"""
# --- bitcoin-cli on the host ---
cat > /usr/local/bin/bitcoin-cli <<'TIMMY_CLI'
#!/bin/sh
exec docker exec --user bitcoin {BITCOIND_CONTAINER} bitcoin-cli "$@"
TIMMY_CLI
chmod 0755 /usr/local/bin/bitcoin-cli
"""


def _part_done() -> str:
    marker = shlex.quote(DONE_MARKER)
    return f"""
# --- done ---
install -m 0755 -d "$(dirname {marker})"
date -u +%FT%TZ > {marker}
echo "timmy-bootstrap: complete $(date -u +%FT%TZ)"
"""
