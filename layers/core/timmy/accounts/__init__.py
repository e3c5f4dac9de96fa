"""Prepaid accounts: a balance in sats behind a bearer token (the peer's ``X-Token``)."""
