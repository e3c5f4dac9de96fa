"""GET /v1/models: the models Timmy serves over its OpenAI-compatible API, priced in sats."""

from __future__ import annotations

from timmy.api import HttpApi, make_handler, response_doc
from timmy.chat.service import list_models
from timmy.chat.views import ChatModelList

app = HttpApi(openai_errors=True)


@app.get(
    "/v1/models",
    summary="Models of the OpenAI-compatible API",
    description="Free: any credential sent is ignored. Prices are at the current BTC price.",
    tags=["openai"],
    responses={200: response_doc("The models and their prices", ChatModelList)},
)
def models() -> ChatModelList:
    return list_models()


handler = make_handler(app)
