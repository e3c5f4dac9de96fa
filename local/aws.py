"""AWS, locally: a moto server on loopback that the workers reach over HTTP, as boto3 reaches
AWS (``AWS_ENDPOINT_URL``), with Step Functions executing state machines.

The server runs on a thread of the stack's process, so its ASL interpreter can hand Lambda
tasks to the stack's workers. It does so through one internal seam of moto: the
``boto_client_for`` function its interpreter uses to build the ``lambda`` client. moto is
pinned in pyproject.toml and ``tests/workflows/test_payment_wait.py`` fails loudly if the
seam moves.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

from local.environment import LOCAL_CREDENTIALS
from local.template import REGION, StateMachineSpec
from local.workers import FunctionError, Functions

logger = logging.getLogger("local")
ROLE_ARN = "arn:aws:iam::123456789012:role/local-stepfunctions"


class WorkerLambdaClient:
    """Stands in for the boto3 ``lambda`` client inside moto's ASL interpreter."""

    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def invoke(self, **params: Any) -> dict[str, Any]:
        payload = params.get("Payload") or b"{}"
        if isinstance(payload, bytes | bytearray):
            payload = payload.decode()
        event = json.loads(payload) if isinstance(payload, str) else payload
        try:
            result = self.functions.invoke(params["FunctionName"], event)
        except FunctionError as error:
            body = {"errorType": error.error_type, "errorMessage": str(error)}
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps(body).encode()),
            }
        return {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": io.BytesIO(json.dumps(result, default=str).encode()),
        }


def install_lambda_seam(functions: Functions) -> Callable[[], None]:
    """Route the ASL interpreter's Lambda invocations to the workers; returns the undo."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils.boto_client_for
    client = WorkerLambdaClient(functions)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if service == "lambda":
            return client
        return original(region=region, service=service, state_credentials=state_credentials)

    lambda_eval_utils.boto_client_for = boto_client_for

    def uninstall() -> None:
        lambda_eval_utils.boto_client_for = original

    return uninstall


class MotoServer:
    """moto's server on a free loopback port, executing state machines."""

    def __init__(self, functions: Functions) -> None:
        self.functions = functions
        self._server: Any = None
        self._uninstall_seam: Callable[[], None] | None = None
        self.endpoint = ""

    def start(self) -> MotoServer:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        # Without it moto only records executions; with it the ASL interpreter runs them.
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._uninstall_seam = install_lambda_seam(self.functions)
        return self

    def stepfunctions(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "stepfunctions",
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def create_state_machines(self, machines: list[StateMachineSpec]) -> dict[str, str]:
        client = self.stepfunctions()
        return {
            m.logical_id: create_state_machine(client, m.logical_id, m.definition) for m in machines
        }

    def stop(self) -> None:
        if self._uninstall_seam is not None:
            self._uninstall_seam()
            self._uninstall_seam = None
        if self._server is not None:
            self._server.stop()
            self._server = None


def create_state_machine(client: Any, name: str, definition: str) -> str:
    response = client.create_state_machine(
        name=name, definition=definition, roleArn=ROLE_ARN, type="STANDARD"
    )
    return str(response["stateMachineArn"])
