"""Loads the tokenizer, the model (dtype, device map, tensor parallel under torchrun) and its adapters."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from kaito_runtime.inference import adapters as adapter_lib
from kaito_runtime.inference.config import ServerConfig
from kaito_runtime.inference.weights import model_directory

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """The model ready to serve, with what the server needs to know about it."""

    model: Any
    tokenizer: Any
    context_length: int
    eos_token_ids: frozenset[int]
    pad_token_id: int
    adapter_names: list[str] = field(default_factory=list)

    @property
    def has_chat_template(self) -> bool:
        """Whether chat messages can be turned into a prompt."""
        return bool(getattr(self.tokenizer, "chat_template", None))


def load(config: ServerConfig, *, world_size: int = 1, env: dict[str, str] | None = None) -> LoadedModel:
    """Loads everything from local files (fetched first with --download-dir); raises with the reason
    when something is missing."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    env = dict(os.environ) if env is None else env
    config = replace(config, model=str(model_directory(config, env)))
    tokenizer = AutoTokenizer.from_pretrained(
        config.model, local_files_only=True, trust_remote_code=config.trust_remote_code
    )
    if config.chat_template is not None:
        tokenizer.chat_template = config.chat_template
    kwargs: dict[str, Any] = {
        "local_files_only": True,
        "trust_remote_code": config.trust_remote_code,
        "dtype": config.dtype if config.dtype == "auto" else getattr(torch, config.dtype),
    }
    if world_size > 1 and config.tensor_parallel and _has_tp_plan(AutoConfig, config):
        from transformers.distributed.configuration_utils import DistributedConfig

        kwargs["distributed_config"] = DistributedConfig(tp_plan="auto")
        log.info("splitting the model over %d ranks with its tensor-parallel plan", world_size)
    elif world_size > 1:
        log.info("each of the %d ranks holds a full replica of the model", world_size)
        local_rank = int(env.get("LOCAL_RANK", "0"))
        kwargs["device_map"] = {"": f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"}
    elif config.device_map is not None:
        kwargs["device_map"] = config.device_map
    model: Any = AutoModelForCausalLM.from_pretrained(config.model, **kwargs)
    model.eval()

    found = adapter_lib.discover(config.adapters_dir)
    if found:
        weights = adapter_lib.strengths(list(found), config.adapter_strengths, env)
        model = adapter_lib.attach(model, found, weights, config.combination_type)
    elif config.adapter_strengths:
        raise adapter_lib.AdapterError(
            f"--adapter-strength given but no adapters found in {config.adapters_dir}"
        )

    eos = _eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        context_length=config.max_model_len or _context_length(model),
        eos_token_ids=eos,
        pad_token_id=int(pad),
        adapter_names=list(found),
    )


def _has_tp_plan(auto_config: Any, config: ServerConfig) -> bool:
    model_config = auto_config.from_pretrained(
        config.model, local_files_only=True, trust_remote_code=config.trust_remote_code
    )
    if getattr(model_config, "base_model_tp_plan", None):
        return True
    log.warning("the model has no tensor-parallel plan in transformers; every rank loads a full replica")
    return False


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(gen_eos, int):
        ids.add(gen_eos)
    elif gen_eos:
        ids.update(int(i) for i in gen_eos)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    if not ids:
        raise ValueError("the model and tokenizer define no end-of-sequence token")
    return frozenset(ids)


def _context_length(model: Any) -> int:
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise ValueError("cannot tell the model's context window; pass --max-model-len")
