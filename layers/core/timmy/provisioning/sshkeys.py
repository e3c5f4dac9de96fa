"""SSH keypairs for provisioned nodes, generated in-process.

Lambda has no ``ssh-keygen``, so keys are made with ``cryptography``. Ed25519 keys are small,
fast to generate and accepted by DigitalOcean and every current OpenSSH.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

_MAX_COMMENT_LEN = 200


@dataclass(frozen=True)
class SSHKeyPair:
    """A freshly generated keypair; ``private_key_openssh`` is a secret."""

    private_key_openssh: str
    public_key_openssh: str
    fingerprint_md5: str
    fingerprint_sha256: str

    def __repr__(self) -> str:
        # Keep the private key out of logs and tracebacks that print locals.
        return f"SSHKeyPair(public_key_openssh={self.public_key_openssh!r}, private_key=***)"


def generate_ssh_keypair(comment: str) -> SSHKeyPair:
    """Generate an Ed25519 keypair: OpenSSH private key and a ``ssh-ed25519 AAAA… comment`` line.

    Raises ValueError if the comment would break the single-line public key format.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _check_comment(comment)
    private_key = Ed25519PrivateKey.generate()
    private_openssh = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.OpenSSH,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    public_bare = (
        private_key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.OpenSSH,
            format=serialization.PublicFormat.OpenSSH,
        )
        .decode("ascii")
    )
    public_line = f"{public_bare} {comment}" if comment else public_bare
    return SSHKeyPair(
        private_key_openssh=private_openssh,
        public_key_openssh=public_line,
        fingerprint_md5=md5_fingerprint(public_line),
        fingerprint_sha256=sha256_fingerprint(public_line),
    )


def md5_fingerprint(public_key_openssh: str) -> str:
    """Colon-separated MD5 of the key blob: how DigitalOcean identifies an SSH key."""
    # MD5 here names a public key; it protects nothing, so FIPS builds may still compute it.
    digest = hashlib.md5(_key_blob(public_key_openssh), usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def sha256_fingerprint(public_key_openssh: str) -> str:
    """``SHA256:<unpadded base64>``, the form ``ssh-keygen -l`` prints today."""
    digest = hashlib.sha256(_key_blob(public_key_openssh)).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _key_blob(public_key_openssh: str) -> bytes:
    """The wire-format key blob: the base64 field of an OpenSSH public key line."""
    fields = public_key_openssh.strip().split()
    if len(fields) < 2:
        raise ValueError("not an OpenSSH public key line")
    try:
        return base64.b64decode(fields[1], validate=True)
    except ValueError as exc:
        raise ValueError("not an OpenSSH public key line") from exc


def _check_comment(comment: str) -> None:
    if len(comment) > _MAX_COMMENT_LEN:
        raise ValueError(f"SSH key comment longer than {_MAX_COMMENT_LEN} characters")
    if not comment.isprintable():
        raise ValueError("SSH key comment must be printable and on one line")
