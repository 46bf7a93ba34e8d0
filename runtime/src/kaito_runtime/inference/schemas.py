"""Request bodies, decoded and type-checked by msgspec: KAITO's /chat and OpenAI's completions APIs.

Unknown top-level fields are ignored (OpenAI clients send fields a server may not model); the fields
modelled here are type-checked, and ``validate`` in ``requests`` checks their values.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class KaitoChatRequest(msgspec.Struct):
    """KAITO's ``POST /chat`` body (transformers text-generation pipeline arguments)."""

    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    return_full_text: bool = True
    clean_up_tokenization_spaces: bool = False
    prefix: str | None = None
    handle_long_generation: Literal["hole"] | None = None
    generate_kwargs: dict[str, Any] = msgspec.field(default_factory=dict)


class GenerateKwargs(msgspec.Struct):
    """The ``generate_kwargs`` keys the batching loop implements, with KAITO's defaults."""

    max_length: int = 200
    max_new_tokens: int | None = None
    min_length: int = 0
    min_new_tokens: int | None = None
    do_sample: bool = True
    early_stopping: bool | str = False
    num_beams: int = 1
    temperature: float = 1.0
    top_k: int | None = 10
    top_p: float = 1.0
    typical_p: float = 1.0
    repetition_penalty: float = 1.0
    pad_token_id: int | None = None
    eos_token_id: int | list[int] | None = None


BATCHABLE_GENERATE_KEYS = frozenset(GenerateKwargs.__struct_fields__)


class ContentPart(msgspec.Struct):
    """One part of a message's content list; only ``text`` parts are supported."""

    type: str
    text: str | None = None


class ChatMessage(msgspec.Struct):
    """An OpenAI chat message."""

    role: str
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(msgspec.Struct):
    """OpenAI ``stream_options``."""

    include_usage: bool = False


class _SamplingFields(msgspec.Struct):
    model: str | None = None
    n: int = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    # Extensions also accepted by vLLM.
    top_k: int | None = None
    repetition_penalty: float | None = None
    min_tokens: int | None = None


class ChatCompletionRequest(_SamplingFields, kw_only=True):
    """OpenAI ``POST /v1/chat/completions``."""

    messages: list[ChatMessage]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None


class CompletionRequest(_SamplingFields, kw_only=True):
    """OpenAI ``POST /v1/completions``."""

    prompt: str | list[str]
    max_tokens: int | None = 16
    echo: bool = False
    suffix: str | None = None
    logprobs: int | None = None
    best_of: int | None = None


KAITO_CHAT_DECODER = msgspec.json.Decoder(KaitoChatRequest)
CHAT_COMPLETION_DECODER = msgspec.json.Decoder(ChatCompletionRequest)
COMPLETION_DECODER = msgspec.json.Decoder(CompletionRequest)
