"""The local gateway runs each request on its own thread, like separate warm containers: one
request must never see another's event or path parameters."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from local.stack import LocalStack


def event(value: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": f"/echo/{value}",
        "rawQueryString": f"q={value}",
        "queryStringParameters": {"q": value},
        "headers": {"x-value": value},
        "requestContext": {
            "http": {"method": "GET", "path": f"/echo/{value}", "sourceIp": "127.0.0.1"},
            "requestId": value,
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def test_concurrent_requests_keep_their_own_event_and_route_arguments(stack: LocalStack) -> None:
    # Given a validating resolver whose handler yields the thread mid-request
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.get("/echo/<value>")
    def echo(value: str) -> dict[str, str]:
        time.sleep(0.002)
        return {
            "value": value,
            "path": app.current_event.path,
            "header": app.current_event.headers["x-value"],
        }

    # When 8 threads resolve 25 requests each at the same time
    mixups: list[dict[str, str]] = []
    barrier = threading.Barrier(8)

    def client(n: int) -> None:
        barrier.wait()
        for k in range(25):
            value = f"{n}-{k}"
            body = json.loads(app.resolve(event(value), None)["body"])
            if body != {"value": value, "path": f"/echo/{value}", "header": value}:
                mixups.append(body)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every response speaks of its own request
    assert mixups == []
