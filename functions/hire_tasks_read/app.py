"""GET /api/v1/ai-for-hire/tasks and GET /api/v1/ai-for-hire/tasks/{task_id} (no auth)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from timmy.accounts import tokens
from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.data.hire import TaskStatus
from timmy.hire import service
from timmy.hire.views import HireTaskDetail, HireTaskList

app = HttpApi()


@app.get(
    "/api/v1/ai-for-hire/tasks",
    summary="The marketplace's tasks, newest first",
    tags=["ai-for-hire"],
    responses={
        200: response_doc("The tasks", HireTaskList),
        400: response_doc("status is not a task status"),
    },
)
def list_tasks(
    status: Annotated[TaskStatus | None, Query(description="Only tasks in this status")] = None,
) -> HireTaskList:
    return service.list_tasks(status)


@app.get(
    "/api/v1/ai-for-hire/tasks/<task_id>",
    summary="A task with its quotes (oldest first) and deliveries",
    description=(
        "No auth needed. Deliveries show their content (content_base64) only to the buyer and"
        " the accepted contractor, who send their X-Token; everyone else sees metadata."
    ),
    tags=["ai-for-hire"],
    responses={
        200: response_doc("The task", HireTaskDetail),
        401: response_doc("invalid_token: a token was sent and names no account"),
        404: response_doc("not_found"),
    },
)
def task_detail(task_id: str) -> HireTaskDetail:
    token = tokens.presented(header(app, "x-token"), header(app, "authorization"))
    return service.task_detail(task_id, token)


handler = make_handler(app)
