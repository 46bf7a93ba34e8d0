"""GPU memory a preset needs (inference in 16 bits, LoRA, 4-bit QLoRA) and the node-count rule.

The estimate is computed from the architecture, never looked up:

    inference = W16 · (1 + 0.20)
    tuning    = (W + A + S + L) · (1 + 0.20)

- W16 = params x 2 bytes (fp16/bf16 weights). W is W16 for LoRA; for QLoRA the decoder's linear
  weights take 4 bits plus 0.127 bits of double-quantised constants per parameter (Dettmers et al.
  2023, "QLoRA", §3 Double Quantization) while embeddings and LM head stay in 16 bits (bitsandbytes
  quantises nn.Linear only; transformers skips lm_head).
- A = trainable LoRA parameters (r = 8 as in KAITO's default ConfigMaps) x 16 bytes: fp32 weight,
  gradient and Adam's two moments (EleutherAI, "Transformer Math 101", 2023; ZeRO, Rajbhandari et
  al. 2019, §3.1: 16 bytes per parameter for mixed-precision Adam).
- S = activations kept for the backward pass, s·b·h·34 bytes per layer (Korthikanti et al. 2022,
  "Reducing Activation Recomputation in Large Transformer Models", eq. 1, without the 5·a·s/h
  attention-score term that fused SDPA/flash attention never materialises), at the tuning sequence
  length s = 1024 and micro-batch b = 1 (KAITO's per_device_train_batch_size), no checkpointing.
- L = fp32 logits and their gradient, s·b·vocab·4·2 bytes.
- 20 % overhead for the CUDA context, allocator fragmentation and (inference) a modest KV cache:
  the common serving rule M = P·4B/(32/Q)·1.2 (Substratus, "Calculating GPU memory for serving
  LLMs", 2023). Long prompts beyond that are bounded by the runtime's max tokens, not reserved here.

Node count: nodes = max(count, ceil(need / GPU memory per node)); a preset that cannot span nodes
must fit one node, and tuning always runs on one node.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import msgspec

from kaito.presets.models import Method, Preset
from kaito.presets.skus import GPUSku, get_sku

GIB: Final = 2**30
BYTES_16BIT: Final = 2
NF4_BITS: Final = 4.0
DOUBLE_QUANT_CONSTANT_BITS: Final = 0.127
ADAM_BYTES_PER_TRAINABLE: Final = 16
ACTIVATION_BYTES_PER_TOKEN_HIDDEN: Final = 34
LOGIT_BYTES: Final = 4 * 2
OVERHEAD: Final = 0.20
DEFAULT_LORA_RANK: Final = 8
DEFAULT_TUNING_SEQ_LEN: Final = 1024
DEFAULT_MICRO_BATCH: Final = 1

Mode = Literal["inference", "lora", "qlora"]


class MemoryEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """GPU memory, in bytes, by component; `total` is what must fit."""

    mode: Mode
    weights: int
    adapter_state: int = 0
    activations: int = 0
    logits: int = 0
    overhead: int

    @property
    def total(self) -> int:
        """Everything that must fit in GPU memory."""
        return self.weights + self.adapter_state + self.activations + self.logits + self.overhead

    @property
    def total_gib(self) -> float:
        """total in GiB."""
        return self.total / GIB


def weight_bytes(preset: Preset, mode: Mode) -> int:
    """Bytes of the model's weights as loaded for the mode."""
    arch = preset.architecture
    if mode != "qlora":
        return arch.params * BYTES_16BIT
    quantised = arch.linear_params * (NF4_BITS + DOUBLE_QUANT_CONSTANT_BITS) / 8
    return int(quantised) + (arch.params - arch.linear_params) * BYTES_16BIT


def estimate(
    preset: Preset,
    mode: Mode,
    *,
    lora_rank: int = DEFAULT_LORA_RANK,
    seq_len: int = DEFAULT_TUNING_SEQ_LEN,
    micro_batch: int = DEFAULT_MICRO_BATCH,
) -> MemoryEstimate:
    """The GPU memory a preset needs for inference or for tuning with LoRA or QLoRA."""
    if mode != "inference" and mode not in preset.tuning_methods:
        supported = ", ".join(preset.tuning_methods) or "none"
        raise ValueError(f"preset {preset.name} does not support {mode} tuning (supported: {supported})")
    weights = weight_bytes(preset, mode)
    if mode == "inference":
        return MemoryEstimate(mode=mode, weights=weights, overhead=int(weights * OVERHEAD))
    arch = preset.architecture
    adapter = arch.lora_params(preset.lora_target_modules, lora_rank) * ADAM_BYTES_PER_TRAINABLE
    tokens = seq_len * micro_batch
    activations = tokens * arch.hidden * ACTIVATION_BYTES_PER_TOKEN_HIDDEN * arch.layers
    logits = tokens * arch.vocab * LOGIT_BYTES
    base = weights + adapter + activations + logits
    return MemoryEstimate(
        mode=mode,
        weights=weights,
        adapter_state=adapter,
        activations=activations,
        logits=logits,
        overhead=int(base * OVERHEAD),
    )


class NodePlan(msgspec.Struct, frozen=True, kw_only=True):
    """How many nodes of an instance type a workspace needs, and why."""

    nodes: int
    need_bytes: int
    sku: GPUSku | None
    # Set when the SKU is unknown and the plan falls back to resource.count unchecked.
    note: str | None = None


class CannotFitError(ValueError):
    """The preset cannot run on this instance type at all; the message says why, with figures."""


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def plan_nodes(preset: Preset, instance_type: str, count: int = 1, method: Method | None = None) -> NodePlan:
    """Nodes for a workspace: max(count, ceil(need / GPU memory per node)).

    `method` None means inference. Raises CannotFitError when the preset cannot run on the SKU:
    tuning or a preset that cannot span nodes needing more than one node, or a method it lacks.
    """
    if count < 1:
        raise ValueError(f"resource.count must be at least 1, not {count}")
    mode: Mode = method or "inference"
    try:
        need = estimate(preset, mode).total
    except ValueError as err:
        raise CannotFitError(str(err)) from None
    what = f"{preset.name} {mode}" if method else f"{preset.name} inference"
    sku = get_sku(instance_type)
    if sku is None:
        return NodePlan(
            nodes=count,
            need_bytes=need,
            sku=None,
            note=f"instance type {instance_type} is not in the GPU SKU table: GPU memory not checked "
            f"({what} needs {_gib(need)}); using resource.count = {count}",
        )
    per_node = int(sku.gpu_memory_gib * GIB)
    by_memory = math.ceil(need / per_node)
    if by_memory > 1 and (method is not None or not preset.distributed_inference):
        why = "tuning runs on a single node" if method else f"{preset.name} cannot span nodes"
        raise CannotFitError(
            f"{what} needs {_gib(need)} of GPU memory but one {sku.describe()} node has "
            f"{_gib(per_node)}, and {why}; choose an instance type with more GPU memory"
            + ("" if method != "lora" or "qlora" not in preset.tuning_methods else " or use method qlora")
        )
    return NodePlan(nodes=max(count, by_memory), need_bytes=need, sku=sku)
