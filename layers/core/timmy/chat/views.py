"""OpenAI's request and response shapes for ``/v1`` (``Chat`` prefix: OpenAPI merges every
function's names). Unknown request fields are tolerated: the SDKs send some of their own."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr


class ChatContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text"] = Field(description="Only text parts are accepted")
    text: StrictStr


class ChatRequestMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: StrictStr | list[ChatContentPart] | None = None
    name: StrictStr | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class ChatStreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: StrictBool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1, max_length=200)
    messages: list[ChatRequestMessage] = Field(min_length=1, max_length=1000)
    max_tokens: int | None = Field(default=None, ge=1, description="Legacy name of the next")
    max_completion_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Output cap (default: the model's max_output_tokens); it sizes the hold",
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=1, description="Only 1 is supported")
    stream: StrictBool | None = False
    stream_options: ChatStreamOptions | None = None
    stop: StrictStr | list[StrictStr] | None = Field(default=None)
    user: StrictStr | None = None

    def stop_sequences(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)


class ChatModelPricing(BaseModel):
    sats_per_mtok_input: int = Field(description="Sats per million input tokens (rounded up)")
    sats_per_mtok_output: int = Field(description="Sats per million output tokens (rounded up)")
    max_output_tokens: int


class ChatModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    pricing: ChatModelPricing


class ChatModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ChatModel]


class ChatAnswerMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: str | None = None


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatAnswerMessage
    logprobs: None = None
    finish_reason: str


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage
    system_fingerprint: str | None = None
