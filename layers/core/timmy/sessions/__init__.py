"""Sessions: a balance paid in advance over Lightning and spent request by request.

A caller deposits (``create_session``), pays the deposit invoice, receives a macaroon bound to
the session, and spends the balance with ``run_request``; ``create_topup`` refills it. Modules:

* :mod:`timmy.sessions.settings` — deposit bounds, minimum request cost, lifetimes, secret;
* :mod:`timmy.sessions.service` — create, read (polling payments), top up;
* :mod:`timmy.sessions.requests` — estimate → free-tier decision → hold → execute →
  reconcile, never below a zero balance (nor an empty pool);
* :mod:`timmy.sessions.payments` — the on-paid handlers crediting deposits and top-ups;
* :mod:`timmy.sessions.auth` — the macaroon key and ``Authorization: Bearer`` parsing;
* :mod:`timmy.sessions.views` — the shapes callers see.

Nothing is imported here so that each handler loads only what it uses.
"""
