"""L402 credential verification on one core, against the raw HMAC chain it cannot avoid.

Every row is a bounded loop over the same pool of credentials, minted exactly as
``timmy.l402.service.challenge`` mints them (Aperture's identifier: version 0, the payment
hash, a random token id; a random 32-byte root key; the caveats ``services=timmy:0``,
``timmy_capabilities=chat``, ``timmy_valid_until=<unix>``), each sent as
``Authorization: L402 <standard base64>:<hex preimage>``. Minting is never timed.

* **verify (no database)**: ``credentials.present(header)`` (split the header, check the
  preimage's form, base64 → v2 binary → macaroon, Aperture's identifier, sha256(preimage) ==
  payment hash) then ``credentials.verify(macaroon, root_key, capability="chat", now=…)`` (the
  HMAC chain, the caveats). Every iteration decodes and verifies the whole header string from
  scratch: nothing decoded or verified is kept between iterations. What the service adds is
  the database read of the token (its root key).
* **raw chain, hmac.digest** (the target's baseline): only the libmacaroons chain over the same
  identifier and caveats, with the stdlib's one-shot HMAC, ``hmac.digest(key, msg, "sha256")``:
  ``k = HMAC(b"macaroons-key-generator", root_key)``, ``sig = HMAC(k, identifier)``, then
  ``sig = HMAC(sig, caveat)`` for each of the 3 caveats: 5 HMAC-SHA256 per credential.
* **raw chain, hmac.new** (information only): the same chain with
  ``hmac.new(key, msg, hashlib.sha256).digest()``.

Each row runs ``--runs`` times (``--n`` iterations each, the rows interleaved so all see the
same machine); best and median reported. The ratio is verify/s over chains/s (1.0 would mean
decoding, the preimage check and the caveats cost nothing); target >= 0.8 against the
hmac.digest chain. Where CPython 3.12 spends the rest (about 7 µs beside a 6.5 µs chain where
this was written): six frozen dataclasses built per credential (the macaroon, its 3 caveats,
the identifier, the presented credential; ~2.6 µs), the v2 reading itself (~1 µs), base64
and sha256(preimage) (~0.6 µs), the caveats (~1 µs), and the calls between them.

Usage: .venv/bin/python bench/l402.py [--n 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core")]

from timmy import macaroons  # noqa: E402
from timmy.l402 import credentials  # noqa: E402
from timmy.l402.credentials import Identifier, Verdict  # noqa: E402

MAX_N = 1_000_000
POOL = 256  # distinct credentials, cycled
CAPABILITY = "chat"
KEY_GENERATOR = b"macaroons-key-generator"  # libmacaroons' key derivation label
TARGET = 0.8


def mint_pool(now: int) -> list[tuple[str, bytes, bytes, tuple[bytes, ...]]]:
    """(Authorization header, root key, identifier, caveats) as the service would issue them."""
    pool = []
    for _ in range(POOL):
        preimage = os.urandom(32)
        root_key = os.urandom(32)
        identifier = Identifier(hashlib.sha256(preimage).digest(), os.urandom(32))
        macaroon = credentials.mint(
            root_key, identifier, capability=CAPABILITY, valid_until=now + 3600
        )
        header = f"L402 {macaroons.to_base64(macaroon)}:{preimage.hex()}"
        caveats = tuple(caveat.identifier for caveat in macaroon.caveats)
        pool.append((header, root_key, macaroon.identifier, caveats))
    return pool


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000, help=f"iterations per run (max {MAX_N})")
    parser.add_argument("--runs", type=int, default=5, help="runs per row (best and median)")
    args = parser.parse_args()
    n = max(POOL, min(args.n, MAX_N))
    runs = max(1, min(args.runs, 50))

    now = int(time.time())
    pool = mint_pool(now)
    cycled = [pool[i % POOL] for i in range(n)]
    headers = [(header, root_key) for header, root_key, _, _ in cycled]
    chains = [(root_key, ident, *caveats) for _, root_key, ident, caveats in cycled]

    present, verify, granted = credentials.present, credentials.verify, Verdict.GRANTED
    digest, new, sha256 = hmac.digest, hmac.new, hashlib.sha256

    def verify_run() -> None:
        for header, root_key in headers:
            presented = present(header)
            verify(presented.macaroon, root_key, capability=CAPABILITY, now=now)

    def digest_run() -> None:
        for root_key, identifier, c1, c2, c3 in chains:
            sig = digest(digest(KEY_GENERATOR, root_key, "sha256"), identifier, "sha256")
            sig = digest(sig, c1, "sha256")
            sig = digest(sig, c2, "sha256")
            sig = digest(sig, c3, "sha256")

    def new_run() -> None:
        for root_key, identifier, c1, c2, c3 in chains:
            sig = new(new(KEY_GENERATOR, root_key, sha256).digest(), identifier, sha256).digest()
            sig = new(sig, c1, sha256).digest()
            sig = new(sig, c2, sha256).digest()
            sig = new(sig, c3, sha256).digest()

    # Correctness first (untimed): every credential verifies, and both chains reproduce its
    # signature, so the rows compute the same thing.
    for header, root_key, identifier, caveats in pool:
        presented = present(header)
        assert verify(presented.macaroon, root_key, capability=CAPABILITY, now=now) is granted
        sig = digest(digest(KEY_GENERATOR, root_key, "sha256"), identifier, "sha256")
        for caveat in caveats:
            sig = digest(sig, caveat, "sha256")
        assert sig == presented.macaroon.signature

    rows: dict[str, Callable[[], None]] = {
        "verify (present + verify)": verify_run,
        "raw chain, hmac.digest": digest_run,
        "raw chain, hmac.new": new_run,
    }
    rates: dict[str, list[float]] = {label: [] for label in rows}
    for run in rows.values():  # warm up
        run()
    for _ in range(runs):
        for label, run in rows.items():
            started = time.perf_counter()
            run()
            rates[label].append(n / (time.perf_counter() - started))

    best = {label: max(values) for label, values in rates.items()}
    median = {label: statistics.median(values) for label, values in rates.items()}
    print(f"L402 verification, single core, {runs} runs of {n} credentials (no database)")
    print(f"{'row':<28} {'best/s':>10} {'median/s':>10} {'best µs':>8} {'median µs':>9}")
    for label in rows:
        print(
            f"{label:<28} {best[label]:>10.0f} {median[label]:>10.0f}"
            f" {1e6 / best[label]:>8.2f} {1e6 / median[label]:>9.2f}"
        )
    verify_label = "verify (present + verify)"
    for baseline, note in (
        ("raw chain, hmac.digest", f"target >= {TARGET}"),
        ("raw chain, hmac.new", "information only"),
    ):
        print(
            f"ratio verify / {baseline}: best {best[verify_label] / best[baseline]:.3f},"
            f" median {median[verify_label] / median[baseline]:.3f}   ({note})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
