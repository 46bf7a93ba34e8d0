"""Turns decoded request bodies into token prompts and sampling parameters, checking every value.

Every check raises ``APIError`` naming the field and the reason, so a bad request gets a 400 (or 404
for an unknown model) and never reaches the generate loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from kaito_runtime.inference.errors import APIError, invalid
from kaito_runtime.inference.generate_kwargs import check_generate_kwargs
from kaito_runtime.inference.loader import LoadedModel
from kaito_runtime.inference.sampling import SamplingParams
from kaito_runtime.inference.schemas import (
    BATCHABLE_GENERATE_KEYS,
    ChatCompletionRequest,
    ChatMessage,
    CompletionRequest,
    GenerateKwargs,
    KaitoChatRequest,
)

MAX_N = 16
MAX_STOP = 16
# torch.Generator.manual_seed accepts seeds in [-2**63, 2**64 - 1].
SEED_MIN = -(2**63)
SEED_MAX = 2**64 - 1


@dataclass(frozen=True)
class Prompt:
    """One tokenized prompt and the text it came from."""

    text: str
    ids: list[int]


@dataclass(frozen=True)
class KaitoPlan:
    """How to answer one /chat request: the batch loop (``params``) or transformers' ``generate``."""

    prompt: Prompt
    params: SamplingParams | None
    generate_kwargs: dict[str, Any] | None
    decode_kwargs: dict[str, Any]


class Translator:
    """Validates requests against one loaded model (its tokenizer, context window and names)."""

    def __init__(
        self,
        loaded: LoadedModel,
        served_model_name: str,
        default_adapter: str,
        *,
        max_batch_size: int = 16,
    ) -> None:
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.context = loaded.context_length
        self.served_model_name = served_model_name
        self.default_adapter = default_adapter
        self.max_batch_size = max_batch_size
        self.vocab_size = _vocab_size(loaded)

    # ---- models and prompts ----

    def adapter_for(self, model: str | None) -> str:
        """The adapter a request's ``model`` selects; 404 for a name this server does not serve."""
        if model is None or model == self.served_model_name:
            return self.default_adapter
        if model in self.loaded.adapter_names:
            return model
        served = ", ".join([self.served_model_name, *self.loaded.adapter_names])
        raise APIError(
            404,
            f"model: {model!r} is not served here (served: {served})",
            param="model",
            code="model_not_found",
        )

    def chat_prompt(self, messages: list[ChatMessage]) -> Prompt:
        """Applies the chat template to OpenAI messages."""
        if not messages:
            raise invalid("messages", "must contain at least one message")
        if not self.loaded.has_chat_template:
            raise invalid("messages", "the model has no chat template; start the server with --chat-template")
        plain: list[dict[str, str]] = []
        for i, message in enumerate(messages):
            if not message.role:
                raise invalid(f"messages[{i}].role", "must not be empty")
            plain.append({"role": message.role, "content": _content_text(message, i)})
        try:
            text = self.tokenizer.apply_chat_template(plain, tokenize=False, add_generation_prompt=True)
        except Exception as exc:  # jinja raises its own errors, e.g. on a role the template rejects
            raise invalid("messages", f"the chat template rejected these messages: {exc}") from exc
        return self.text_prompt(str(text), "messages", special=False)

    def text_prompt(self, text: str, param: str, *, special: bool = True) -> Prompt:
        """Tokenizes a plain-text prompt; 400 if it is empty or fills the context window."""
        if not text:
            raise invalid(param, "must not be empty")
        ids = list(self.tokenizer(text, add_special_tokens=special)["input_ids"])
        if not ids:
            raise invalid(param, "tokenizes to no tokens")
        if len(ids) >= self.context:
            raise invalid(
                param,
                f"is {len(ids)} tokens; the context window is {self.context} tokens, "
                "leaving no room to generate",
            )
        return Prompt(text, ids)

    # ---- OpenAI ----

    def openai_params(
        self, req: ChatCompletionRequest | CompletionRequest, prompt_tokens: int, max_tokens: int | None
    ) -> SamplingParams:
        """Sampling parameters of an OpenAI request, checked against the prompt's length."""
        room = self.context - prompt_tokens
        if max_tokens is None:
            max_tokens = room
        elif max_tokens <= 0:
            raise invalid("max_tokens", f"must be at least 1, got {max_tokens}")
        elif max_tokens > room:
            raise invalid(
                "max_tokens",
                f"{max_tokens} is more than the context window allows: the prompt has {prompt_tokens} tokens "
                f"and the context window is {self.context} tokens (room for {room})",
            )
        if not 1 <= req.n <= MAX_N:
            raise invalid("n", f"must be between 1 and {MAX_N}, got {req.n}")
        temperature = 1.0 if req.temperature is None else req.temperature
        _check_range("temperature", temperature, 0.0, 2.0)
        top_p = 1.0 if req.top_p is None else req.top_p
        _check_range("top_p", top_p, 0.0, 1.0, low_open=True)
        presence = req.presence_penalty or 0.0
        frequency = req.frequency_penalty or 0.0
        _check_range("presence_penalty", presence, -2.0, 2.0)
        _check_range("frequency_penalty", frequency, -2.0, 2.0)
        top_k = req.top_k if req.top_k is not None else 0
        if top_k < -1:
            raise invalid("top_k", f"must be -1, 0 (off) or positive, got {top_k}")
        repetition = 1.0 if req.repetition_penalty is None else req.repetition_penalty
        if not (math.isfinite(repetition) and repetition > 0):
            raise invalid("repetition_penalty", f"must be > 0, got {repetition}")
        min_tokens = req.min_tokens or 0
        if not 0 <= min_tokens <= max_tokens:
            raise invalid("min_tokens", f"must be between 0 and max_tokens ({max_tokens}), got {min_tokens}")
        return SamplingParams(
            max_new_tokens=max_tokens,
            min_new_tokens=min_tokens,
            do_sample=temperature > 0,
            temperature=temperature,
            top_k=max(top_k, 0),
            top_p=top_p,
            repetition_penalty=repetition,
            presence_penalty=presence,
            frequency_penalty=frequency,
            seed=self._seed(req.seed, req.n),
            stop=self._stops(req.stop),
            logit_bias=self._logit_bias(req.logit_bias),
        )

    def check_chat_unsupported(self, req: ChatCompletionRequest) -> None:
        """400 for OpenAI features this server does not implement (rather than ignoring them)."""
        if req.logprobs:
            raise invalid("logprobs", "log probabilities are not supported by this server")
        if req.tools:
            raise invalid("tools", "tool calling is not supported by this server")
        if req.response_format and req.response_format.get("type", "text") != "text":
            raise invalid("response_format", "only {'type': 'text'} is supported")

    def check_completion_unsupported(self, req: CompletionRequest) -> None:
        """400 for legacy-completion features this server does not implement."""
        if req.logprobs is not None:
            raise invalid("logprobs", "log probabilities are not supported by this server")
        if req.suffix:
            raise invalid("suffix", "suffix (insertion) is not supported by this server")
        if req.best_of is not None and req.best_of != req.n:
            raise invalid("best_of", "best_of other than n is not supported by this server")

    def completion_prompts(self, req: CompletionRequest) -> list[Prompt]:
        """The prompts of a legacy completion (a string or a list of strings)."""
        if isinstance(req.prompt, str):
            return [self.text_prompt(req.prompt, "prompt")]
        if not req.prompt:
            raise invalid("prompt", "must not be an empty list")
        return [self.text_prompt(p, f"prompt[{i}]") for i, p in enumerate(req.prompt)]

    def _seed(self, seed: int | None, n: int) -> int | None:
        """The request's seed; choice j is seeded with seed + j, so all n seeds must suit torch."""
        highest = SEED_MAX - (n - 1)
        if seed is not None and not SEED_MIN <= seed <= highest:
            raise invalid(
                "seed", f"must be between {SEED_MIN} and {highest} (seed + n - 1 <= {SEED_MAX}), got {seed}"
            )
        return seed

    def _stops(self, stop: str | list[str] | None) -> tuple[str, ...]:
        if stop is None:
            return ()
        stops = [stop] if isinstance(stop, str) else stop
        if len(stops) > MAX_STOP:
            raise invalid("stop", f"at most {MAX_STOP} stop sequences, got {len(stops)}")
        if any(not s for s in stops):
            raise invalid("stop", "stop sequences must not be empty")
        return tuple(stops)

    def _logit_bias(self, bias: dict[str, float] | None) -> tuple[tuple[int, float], ...]:
        if not bias:
            return ()
        out = []
        for key, value in bias.items():
            if not (key.isascii() and key.isdigit()) or int(key) >= self.vocab_size:
                raise invalid("logit_bias", f"key {key!r} is not a token id below {self.vocab_size}")
            _check_range(f"logit_bias[{key}]", value, -100.0, 100.0)
            out.append((int(key), value))
        return tuple(out)

    # ---- KAITO /chat ----

    def kaito_plan(self, req: KaitoChatRequest) -> KaitoPlan:
        """How to answer a /chat request; 400 naming the field for any bad value."""
        if req.messages is not None:
            prompt = self.chat_prompt(req.messages)
        elif req.prompt is None:
            raise invalid("prompt", "is required (text generation parameter prompt required)")
        else:
            if not req.prompt:
                raise invalid("prompt", "must not be empty")
            prompt = self._kaito_text_prompt((req.prefix or "") + req.prompt)
        check_generate_kwargs(req.generate_kwargs, vocab_size=self.vocab_size, max_rows=self.max_batch_size)
        try:
            kwargs = msgspec.convert(req.generate_kwargs, GenerateKwargs)
        except msgspec.ValidationError as exc:
            raise invalid("generate_kwargs", str(exc).replace("`$.", "`generate_kwargs.")) from exc
        new_tokens = self._kaito_new_tokens(kwargs, len(prompt.ids))
        if len(prompt.ids) + new_tokens > self.context:
            if req.handle_long_generation != "hole":
                raise invalid(
                    "prompt",
                    f"{len(prompt.ids)} prompt tokens + {new_tokens} new tokens exceed the context window of "
                    f"{self.context} tokens (set handle_long_generation='hole' to drop the prompt's start)",
                )
            keep = self.context - new_tokens
            if keep <= 0:
                raise invalid(
                    "generate_kwargs.max_new_tokens", f"{new_tokens} does not fit the context window"
                )
            prompt = replace(prompt, ids=prompt.ids[-keep:])
        eos = kwargs.eos_token_id
        eos_ids = frozenset([eos] if isinstance(eos, int) else eos) if eos is not None else None
        self._check_kaito_values(kwargs)
        min_new = (
            kwargs.min_new_tokens
            if kwargs.min_new_tokens is not None
            else kwargs.min_length - len(prompt.ids)
        )
        decode_kwargs = {
            "skip_special_tokens": True,
            "clean_up_tokenization_spaces": req.clean_up_tokenization_spaces,
        }
        extra = {k: v for k, v in req.generate_kwargs.items() if k not in BATCHABLE_GENERATE_KEYS}
        if kwargs.num_beams > 1 or extra:
            gen = dict(req.generate_kwargs)
            gen.pop("max_length", None)
            gen["max_new_tokens"] = new_tokens
            gen.setdefault("do_sample", kwargs.do_sample)
            gen.setdefault("top_k", kwargs.top_k)
            gen.setdefault("pad_token_id", self.loaded.pad_token_id)
            if eos_ids is None:
                gen.setdefault("eos_token_id", sorted(self.loaded.eos_token_ids))
            return KaitoPlan(prompt, None, gen, decode_kwargs)
        params = SamplingParams(
            max_new_tokens=new_tokens,
            min_new_tokens=max(0, min(min_new, new_tokens)),
            do_sample=kwargs.do_sample,
            temperature=kwargs.temperature,
            top_k=kwargs.top_k or 0,
            top_p=kwargs.top_p,
            typical_p=kwargs.typical_p,
            repetition_penalty=kwargs.repetition_penalty,
            eos_token_ids=eos_ids,
        )
        return KaitoPlan(prompt, params, None, decode_kwargs)

    def _kaito_text_prompt(self, text: str) -> Prompt:
        ids = list(self.tokenizer(text)["input_ids"])
        if not ids:
            raise invalid("prompt", "tokenizes to no tokens")
        return Prompt(text, ids)

    def _kaito_new_tokens(self, kwargs: GenerateKwargs, prompt_tokens: int) -> int:
        if kwargs.max_new_tokens is not None:
            if kwargs.max_new_tokens <= 0:
                raise invalid(
                    "generate_kwargs.max_new_tokens", f"must be at least 1, got {kwargs.max_new_tokens}"
                )
            return kwargs.max_new_tokens
        new = kwargs.max_length - prompt_tokens
        if new <= 0:
            raise invalid(
                "generate_kwargs.max_length",
                f"{kwargs.max_length} leaves no room to generate after the prompt's {prompt_tokens} tokens "
                "(max_length counts the prompt; raise it or set max_new_tokens)",
            )
        return new

    def _check_kaito_values(self, kwargs: GenerateKwargs) -> None:
        if kwargs.num_beams < 1:
            raise invalid("generate_kwargs.num_beams", f"must be at least 1, got {kwargs.num_beams}")
        if kwargs.min_length < 0:
            raise invalid("generate_kwargs.min_length", f"must be >= 0, got {kwargs.min_length}")
        if kwargs.do_sample:
            if not (math.isfinite(kwargs.temperature) and kwargs.temperature > 0):
                raise invalid(
                    "generate_kwargs.temperature", f"must be > 0 when sampling, got {kwargs.temperature}"
                )
            _check_range("generate_kwargs.top_p", kwargs.top_p, 0.0, 1.0, low_open=True)
            _check_range("generate_kwargs.typical_p", kwargs.typical_p, 0.0, 1.0, low_open=True)
        if kwargs.top_k is not None and kwargs.top_k < 0:
            raise invalid("generate_kwargs.top_k", f"must be >= 0, got {kwargs.top_k}")
        if not (math.isfinite(kwargs.repetition_penalty) and kwargs.repetition_penalty > 0):
            raise invalid(
                "generate_kwargs.repetition_penalty", f"must be > 0, got {kwargs.repetition_penalty}"
            )


def _vocab_size(loaded: LoadedModel) -> int:
    """Token ids below this are valid for both the tokenizer and the model's output layer."""
    size = len(loaded.tokenizer)
    config = getattr(loaded.model, "config", None)
    model_vocab = getattr(config, "vocab_size", None)
    if isinstance(model_vocab, int) and model_vocab > 0:
        size = min(size, model_vocab)
    return size


def _content_text(message: ChatMessage, index: int) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for j, part in enumerate(content):
        if part.type != "text" or part.text is None:
            raise invalid(
                f"messages[{index}].content[{j}]", f"only text parts are supported, got {part.type!r}"
            )
        parts.append(part.text)
    return "".join(parts)


def _check_range(param: str, value: float, low: float, high: float, *, low_open: bool = False) -> None:
    ok = math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise invalid(param, f"must be in {bracket}{low}, {high}], got {value}")
