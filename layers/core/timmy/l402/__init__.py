"""L402 pay-per-request: credentials (pure), the mechanism routes opt into (service)."""
