"""SSH keypairs generated in-process: loadable, usable, and fingerprinted as OpenSSH does."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_ssh_private_key,
    load_ssh_public_key,
)

from timmy.provisioning.sshkeys import (
    generate_ssh_keypair,
    md5_fingerprint,
    sha256_fingerprint,
)

MD5_RE = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){15}$")
SHA256_RE = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}$")


def test_private_key_loads_back_and_matches_the_public_line() -> None:
    # Given a fresh keypair
    pair = generate_ssh_keypair("timmy-node-abc")

    # When the private key is loaded back with cryptography
    private = load_ssh_private_key(pair.private_key_openssh.encode(), password=None)

    # Then it is Ed25519, in OpenSSH format, and its public half is the published line
    assert isinstance(private, Ed25519PrivateKey)
    assert pair.private_key_openssh.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert pair.private_key_openssh.rstrip().endswith("-----END OPENSSH PRIVATE KEY-----")
    derived = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    assert pair.public_key_openssh == f"{derived} timmy-node-abc"


def test_public_line_is_ssh_ed25519_with_the_comment() -> None:
    pair = generate_ssh_keypair("bootstrap job 42")

    key_type, blob, comment = pair.public_key_openssh.split(" ", 2)

    assert key_type == "ssh-ed25519"
    assert blob.startswith("AAAA")
    assert comment == "bootstrap job 42"
    assert "\n" not in pair.public_key_openssh


def test_a_signature_made_with_the_private_key_verifies_against_the_public_line() -> None:
    pair = generate_ssh_keypair("sig-test")
    private = load_ssh_private_key(pair.private_key_openssh.encode(), password=None)
    public = load_ssh_public_key(pair.public_key_openssh.encode())
    assert isinstance(private, Ed25519PrivateKey)
    assert isinstance(public, Ed25519PublicKey)

    signature = private.sign(b"provision me a node")

    public.verify(signature, b"provision me a node")  # raises if it does not verify
    with pytest.raises(InvalidSignature):
        public.verify(signature, b"a different message")


def test_fingerprints_have_the_right_format_and_are_stable() -> None:
    pair = generate_ssh_keypair("fp")

    assert MD5_RE.fullmatch(pair.fingerprint_md5)
    assert SHA256_RE.fullmatch(pair.fingerprint_sha256)
    # Stable: recomputed from the public line (with or without comment) they are the same.
    bare = " ".join(pair.public_key_openssh.split()[:2])
    assert md5_fingerprint(pair.public_key_openssh) == pair.fingerprint_md5
    assert md5_fingerprint(bare) == pair.fingerprint_md5
    assert sha256_fingerprint(bare) == pair.fingerprint_sha256


def test_md5_fingerprint_is_the_md5_of_the_key_blob() -> None:
    import hashlib

    pair = generate_ssh_keypair("md5")
    blob = base64.b64decode(pair.public_key_openssh.split()[1])

    expected = hashlib.md5(blob, usedforsecurity=False).hexdigest()

    assert pair.fingerprint_md5.replace(":", "") == expected


def test_each_call_makes_a_new_key() -> None:
    first, second = generate_ssh_keypair("a"), generate_ssh_keypair("a")

    assert first.private_key_openssh != second.private_key_openssh
    assert first.fingerprint_md5 != second.fingerprint_md5


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_fingerprints_agree_with_ssh_keygen(tmp_path: Path) -> None:
    # Given the keypair written out as OpenSSH files
    pair = generate_ssh_keypair("cross-check")
    private_file = tmp_path / "id_ed25519"
    private_file.write_text(pair.private_key_openssh)
    private_file.chmod(0o600)
    public_file = tmp_path / "id_ed25519.pub"
    public_file.write_text(pair.public_key_openssh + "\n")

    # When OpenSSH's own tool fingerprints them
    md5 = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", str(public_file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sha = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    derived_public = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(private_file)], capture_output=True, text=True, check=True
    ).stdout

    # Then both fingerprints match, and ssh-keygen derives the same public key
    assert f"MD5:{pair.fingerprint_md5}" in md5
    assert pair.fingerprint_sha256 in sha
    assert derived_public.split()[:2] == pair.public_key_openssh.split()[:2]


def test_repr_never_shows_the_private_key() -> None:
    pair = generate_ssh_keypair("repr")

    text = repr(pair)

    assert "PRIVATE KEY" not in text
    assert pair.private_key_openssh.splitlines()[1] not in text


@pytest.mark.parametrize("comment", ["two\nlines", "tab\there", "x" * 201])
def test_a_comment_that_would_break_the_public_line_is_refused(comment: str) -> None:
    with pytest.raises(ValueError, match="comment"):
        generate_ssh_keypair(comment)


@pytest.mark.parametrize("line", ["", "ssh-ed25519", "ssh-ed25519 not*base64"])
def test_fingerprint_of_something_that_is_not_a_key_line_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="OpenSSH public key"):
        md5_fingerprint(line)
