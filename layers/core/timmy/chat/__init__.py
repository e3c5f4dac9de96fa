"""The OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions`` paid in
sats from an account or a session (see :mod:`timmy.chat.service`)."""
