"""Applies the SQL migrations: run by a CloudFormation custom resource after the database
exists, and invocable directly (``{}``) to migrate by hand."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from timmy.db.connection import open_connection
from timmy.db.migrate import apply_migrations
from timmy.freetier import seed_pool
from timmy.observability import logger


def migrate() -> list[str]:
    conn = open_connection()
    try:
        applied = apply_migrations(conn)
    finally:
        conn.close()
    seed_pool()  # the generosity pool's first boot; never re-seeded
    return applied


def _send_cfn_response(event: dict[str, Any], context: Any, status: str, reason: str) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": event.get("PhysicalResourceId") or "timmy-migrations",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
        }
    ).encode()
    url = str(event["ResponseURL"])
    if not url.startswith("https://"):
        raise ValueError("custom resource ResponseURL must be https")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method="PUT", headers={"content-type": ""}
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    is_custom_resource = "RequestType" in event and "ResponseURL" in event
    if not is_custom_resource:
        return {"applied": migrate()}
    if event["RequestType"] == "Delete":
        # Never drop data with the stack; the cluster keeps a final snapshot.
        _send_cfn_response(event, context, "SUCCESS", "nothing to do on delete")
        return {"applied": []}
    try:
        applied = migrate()
    except Exception as error:
        logger.exception("migration failed")
        _send_cfn_response(event, context, "FAILED", f"migration failed: {type(error).__name__}")
        raise
    _send_cfn_response(event, context, "SUCCESS", f"applied {len(applied)} migrations")
    return {"applied": applied}
