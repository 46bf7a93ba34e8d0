"""Which ``generate_kwargs`` a KAITO /chat request may set, and checks of the values that reach ``generate``.

A request's ``generate_kwargs`` end up as keyword arguments of transformers' ``generate``, which also
accepts keys that load and run code (``custom_generate`` with ``trust_remote_code``) or take Python
objects (an assistant model, a streamer, logits processors). Only options of transformers'
``GenerationConfig`` are accepted (the set is read from ``GenerationConfig`` itself, so it follows
the installed transformers), less those refused in ``REFUSED``; every refusal is a 400 naming
``generate_kwargs.<key>`` and why. Token ids must lie inside the vocabulary (an id outside it makes
an indexing error inside the model, on a GPU a device-side assert), and the rows a ``generate`` call
may run at once (``num_beams``, ``num_return_sequences``) are capped at the server's batch size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from transformers import GenerationConfig

from kaito_runtime.inference.errors import invalid

_CODE = "loads and runs code named by the request"
_OBJECT = (
    "takes a Python object (a model, tokenizer, callable or processor), which a JSON request cannot supply"
)
_SERVER = "is a server-side setting (cache, compilation, batching), not a per-request option"
_OUTPUT = "changes what generate returns; /chat answers text only"
_TOKENIZER = "needs the tokenizer passed to generate, which this server does not do"

REFUSED: dict[str, str] = {
    "trust_remote_code": _CODE,
    "custom_generate": _CODE,
    "assistant_model": _OBJECT,
    "assistant_tokenizer": _OBJECT,
    "tokenizer": _OBJECT,
    "streamer": _OBJECT,
    "logits_processor": _OBJECT,
    "stopping_criteria": _OBJECT,
    "prefix_allowed_tokens_fn": _OBJECT,
    "synced_gpus": _OBJECT,
    "negative_prompt_ids": _OBJECT,
    "negative_prompt_attention_mask": _OBJECT,
    "generation_config": _OBJECT,
    "constraints": _OBJECT,
    "watermarking_config": _OBJECT,
    "cache_implementation": _SERVER,
    "cache_config": _SERVER,
    "max_cache_len": _SERVER,
    "compile_config": _SERVER,
    "disable_compile": _SERVER,
    "continuous_batching_config": _SERVER,
    "prefill_chunk_size": _SERVER,
    "use_cache": _SERVER,
    "low_memory": _SERVER,
    "output_attentions": _OUTPUT,
    "output_hidden_states": _OUTPUT,
    "output_scores": _OUTPUT,
    "output_logits": _OUTPUT,
    "return_dict_in_generate": _OUTPUT,
    "stop_strings": _TOKENIZER,
    "token_healing": _TOKENIZER,
}

ACCEPTED: frozenset[str] = frozenset(
    key
    for key in vars(GenerationConfig())  # type: ignore[no-untyped-call]
    if not key.startswith("_") and key != "transformers_version"
) - frozenset(REFUSED)

# Keys whose value is a token id, or (nested) lists of token ids.
TOKEN_ID_KEYS = frozenset(
    {
        "eos_token_id",
        "pad_token_id",
        "bos_token_id",
        "decoder_start_token_id",
        "forced_bos_token_id",
        "forced_eos_token_id",
        "suppress_tokens",
        "begin_suppress_tokens",
        "bad_words_ids",
        "force_words_ids",
    }
)

ROW_KEYS = ("num_beams", "num_return_sequences")


def check_generate_kwargs(kwargs: dict[str, Any], *, vocab_size: int, max_rows: int) -> None:
    """400 naming ``generate_kwargs.<key>`` for a refused or unknown key, a token id outside
    ``[0, vocab_size)``, or more than ``max_rows`` beams or returned sequences."""
    for key, value in kwargs.items():
        param = f"generate_kwargs.{key}"
        if key in REFUSED:
            raise invalid(param, f"is not accepted: it {REFUSED[key]}")
        if key not in ACCEPTED:
            raise invalid(param, "is not an option of transformers' GenerationConfig")
        if key in TOKEN_ID_KEYS and value is not None:
            _check_ids(param, _leaves(value), vocab_size)
        elif key == "sequence_bias":
            _check_ids(param, _sequence_bias_ids(param, value), vocab_size)
    for key in ROW_KEYS:
        rows = kwargs.get(key)
        if rows is None:
            continue
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise invalid(f"generate_kwargs.{key}", f"must be a positive integer, got {rows!r}")
        if rows > max_rows:
            raise invalid(
                f"generate_kwargs.{key}",
                f"{rows} is more than this server's batch size ({max_rows}, --max-batch-size) allows",
            )


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _sequence_bias_ids(param: str, value: Any) -> Iterator[Any]:
    if not isinstance(value, list):
        raise invalid(param, "must be a list of [token ids, bias] pairs")
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], list)):
            raise invalid(param, f"must be a list of [token ids, bias] pairs, got item {pair!r}")
        yield from pair[0]


def _check_ids(param: str, ids: Iterator[Any], vocab_size: int) -> None:
    for token in ids:
        if isinstance(token, bool) or not isinstance(token, int):
            raise invalid(param, f"token ids must be integers, got {token!r}")
        if not 0 <= token < vocab_size:
            raise invalid(param, f"token id {token} is outside the vocabulary [0, {vocab_size})")
