"""GET /api/sessions/{session_id}: the session's state; polling it confirms pending payments."""

from __future__ import annotations

from timmy.api import HttpApi, make_handler, response_doc
from timmy.sessions.service import get_session
from timmy.sessions.views import SessionView

app = HttpApi()


@app.get(
    "/api/sessions/<session_id>",
    summary="Read a session (and confirm its pending payments)",
    description=(
        "Polling a session that awaits its deposit, or has a pending top-up, asks the Lightning"
        " backend whether that invoice is paid and credits it (exactly once). Once the deposit"
        " is paid, every response carries the session's macaroon: the session id (a random"
        " UUID) is itself the capability to read it, so keep both secret. The macaroon is the"
        " same on every read, expires with the session's lifetime, and is null before payment"
        " and after expiry."
    ),
    tags=["sessions"],
    responses={
        200: response_doc("The session", SessionView),
        404: response_doc("No session has this id (malformed ids included)"),
    },
)
def read_session(session_id: str) -> SessionView:
    return get_session(session_id)


handler = make_handler(app)
