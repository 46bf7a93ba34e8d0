"""Loads the tokenizer and the base model (4/8-bit for QLoRA) and wraps it in a peft LoRA adapter.

On the CPU, bitsandbytes 0.50's Linear4bit repacks its weight into an inference-only layout after any
eval-mode forward, and backward through that layout silently drops gradients. Every Linear4bit layer
therefore gets ``support_avx512bf16_for_cpu = False`` (see :func:`disable_cpu_repack`). CUDA-only
calls are guarded by ``torch.cuda.is_available()``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from kaito_runtime.tuning.config import PHI3_TARGET_MODULES, TrainingConfig
from kaito_runtime.tuning.errors import ConfigError
from kaito_runtime.tuning.jsonlog import log_event

log = logging.getLogger("kaito.tuning.model")

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
_DEFAULT_TARGETS = {"phi3": PHI3_TARGET_MODULES}


def torch_dtype(name: str) -> torch.dtype | str:
    """The torch dtype for a config name ("auto" passes through to transformers)."""
    return "auto" if name == "auto" else _DTYPES[name]


def load_tokenizer(cfg: TrainingConfig) -> Any:
    """The base model's tokenizer, with a pad token and the configured chat template if any."""
    from transformers import AutoTokenizer

    m = cfg.model
    try:
        tok = AutoTokenizer.from_pretrained(
            m.pretrained_model_name_or_path,
            local_files_only=m.local_files_only,
            trust_remote_code=m.trust_remote_code,
        )
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"ModelConfig.pretrained_model_name_or_path: cannot load a tokenizer from "
            f"{m.pretrained_model_name_or_path!r}: {e}"
        ) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if m.chat_template:
        tok.chat_template = _read_template(m.chat_template)
    return tok


def _read_template(value: str) -> str:
    if "{" in value or "\n" in value:
        return value
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"ModelConfig.chat_template: {value!r} is neither a Jinja template nor a file")
    return path.read_text(encoding="utf-8")


def device_map_for(cfg: TrainingConfig, world_size: int, local_rank: int) -> Any:
    """Where the model's weights go: one GPU per process when distributed, CPU when there is no GPU."""
    if not torch.cuda.is_available():
        return None
    if world_size > 1:
        return {"": local_rank}
    return cfg.model.device_map


def quantization_config(cfg: TrainingConfig) -> Any:
    """A transformers BitsAndBytesConfig for QLoRA, or None for LoRA."""
    q = cfg.quantization
    if not (q.load_in_4bit or q.load_in_8bit):
        return None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(  # type: ignore[no-untyped-call]
        load_in_4bit=q.load_in_4bit,
        load_in_8bit=q.load_in_8bit,
        bnb_4bit_quant_type=q.bnb_4bit_quant_type,
        bnb_4bit_compute_dtype=_DTYPES[q.bnb_4bit_compute_dtype],
        bnb_4bit_use_double_quant=q.bnb_4bit_use_double_quant,
    )


def disable_cpu_repack(model: torch.nn.Module) -> int:
    """Stops bitsandbytes' CPU inference repack on every Linear4bit layer; returns how many there are."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        return 0
    n = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):  # type: ignore[attr-defined]
            module.support_avx512bf16_for_cpu = False
            n += 1
    return n


def target_modules(cfg: TrainingConfig, model_type: str) -> list[str] | str:
    """The configured LoRA targets, or the model type's default (Phi-3's fused layers; else all-linear)."""
    configured = cfg.lora.target_modules
    if configured is not None:
        return configured
    return _DEFAULT_TARGETS.get(model_type, "all-linear")


def load_base_model(cfg: TrainingConfig, *, world_size: int = 1, local_rank: int = 0) -> Any:
    """The base causal LM, quantized for QLoRA and prepared for k-bit training."""
    from transformers import AutoModelForCausalLM

    m = cfg.model
    quant = quantization_config(cfg)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            m.pretrained_model_name_or_path,
            dtype=torch_dtype(m.torch_dtype),
            device_map=device_map_for(cfg, world_size, local_rank),
            local_files_only=m.local_files_only,
            trust_remote_code=m.trust_remote_code,
            quantization_config=quant,
        )
    except OSError as e:
        raise ConfigError(
            f"ModelConfig.pretrained_model_name_or_path: cannot load a model from "
            f"{m.pretrained_model_name_or_path!r}: {e}"
        ) from None
    if quant is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(  # type: ignore[no-untyped-call]
            model, use_gradient_checkpointing=cfg.training.gradient_checkpointing
        )
        if not torch.cuda.is_available():
            n = disable_cpu_repack(model)
            log_event(log, "disabled the bitsandbytes CPU repack", layers=n)
    model.config.use_cache = False
    return model


def add_lora(model: Any, cfg: TrainingConfig) -> Any:
    """Wraps the model in a trainable LoRA adapter."""
    from peft import LoraConfig, get_peft_model

    lo = cfg.lora
    targets = target_modules(cfg, getattr(model.config, "model_type", ""))
    peft_cfg = LoraConfig(
        r=lo.r,
        lora_alpha=lo.lora_alpha,  # type: ignore[arg-type]  # peft annotates int, accepts float
        lora_dropout=lo.lora_dropout,
        target_modules=targets,
        bias=lo.bias,
        task_type=lo.task_type,
        use_rslora=lo.use_rslora,
        modules_to_save=lo.modules_to_save,
    )
    try:
        peft_model = get_peft_model(model, peft_cfg)
    except ValueError as e:
        raise ConfigError(f"LoraConfig.target_modules: {e}") from None
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in peft_model.parameters())
    log_event(
        log, "LoRA adapter added", target_modules=targets, trainable_params=trainable, total_params=total
    )
    return peft_model
