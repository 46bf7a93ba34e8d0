"""The tuning job's config schema, its lora/qlora defaults and the default ConfigMap they render to.

The controller mounts a ConfigMap whose key ``training_config.yaml`` holds ``training_config:`` with
KAITO's section names (ModelConfig, QuantizationConfig, LoraConfig, TrainingArguments,
DatasetConfig, DataCollator). It is decoded strictly with msgspec: an unknown key or a wrong type is
an error naming the key's path, raised before any model loads.

This module imports only msgspec and PyYAML (never torch), because the controller renders its
default ConfigMaps from :func:`default_config` through :func:`render_default_configmap_data`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml

from kaito_runtime.tuning.errors import ConfigError

Method = Literal["lora", "qlora"]
METHODS: tuple[Method, ...] = ("lora", "qlora")

CONFIG_FILE_KEY = "training_config.yaml"
"""The ConfigMap key (and file name under /mnt/config) of the training config."""

DEFAULT_CONFIGMAP_NAMES: dict[Method, str] = {
    "lora": "lora-params-template",
    "qlora": "qlora-params-template",
}
"""KAITO's names for the default ConfigMaps, one per method."""

PHI3_TARGET_MODULES = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
"""Phi-3's linear layers in transformers (fused qkv and gate_up; no q_proj/k_proj/v_proj)."""

TorchDtype = Literal["auto", "bfloat16", "float16", "float32"]
ComputeDtype = Literal["bfloat16", "float16", "float32"]
Strategy = Literal["no", "steps", "epoch"]
Scheduler = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "cosine_with_min_lr",
    "warmup_stable_decay",
]
Optimizer = Literal[
    "adamw_torch",
    "adamw_torch_fused",
    "adafactor",
    "sgd",
    "adamw_bnb_8bit",
    "adamw_8bit",
    "paged_adamw_8bit",
    "paged_adamw_32bit",
]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every config section: unknown keys are errors."""


class ModelConfig(_Section):
    """How the base model is loaded (transformers ``from_pretrained`` arguments)."""

    pretrained_model_name_or_path: str = "/workspace/tfs/weights"
    torch_dtype: TorchDtype = "auto"
    device_map: Literal["auto", "cpu"] | None = "auto"
    local_files_only: bool = True
    trust_remote_code: bool = False
    chat_template: str | None = None
    """A Jinja chat template (inline, or a path to a file) used instead of the tokenizer's."""


class QuantizationConfig(_Section):
    """bitsandbytes quantization of the base model; 4- or 8-bit loading makes the run QLoRA."""

    quant_method: Literal["bitsandbytes"] = "bitsandbytes"
    load_in_4bit: bool = False
    load_in_8bit: bool = False
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = "nf4"
    bnb_4bit_compute_dtype: ComputeDtype = "float32"
    bnb_4bit_use_double_quant: bool = False


class LoraConfig(_Section):
    """The LoRA adapter (peft ``LoraConfig``); no target modules means the model type's default."""

    r: PositiveInt = 8
    lora_alpha: PositiveFloat = 8
    lora_dropout: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.0
    target_modules: list[str] | str | None = None
    bias: Literal["none", "all", "lora_only"] = "none"
    task_type: Literal["CAUSAL_LM"] = "CAUSAL_LM"
    use_rslora: bool = False
    modules_to_save: list[str] | None = None


class TrainingArguments(_Section):
    """The subset of transformers ``TrainingArguments`` the job exposes."""

    output_dir: str = "/mnt/results"
    num_train_epochs: PositiveFloat = 3.0
    max_steps: Annotated[int, msgspec.Meta(ge=-1)] = -1
    per_device_train_batch_size: PositiveInt = 1
    per_device_eval_batch_size: PositiveInt = 1
    gradient_accumulation_steps: PositiveInt = 1
    learning_rate: PositiveFloat = 2e-4
    lr_scheduler_type: Scheduler = "linear"
    warmup_steps: NonNegativeInt = 0
    weight_decay: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    max_grad_norm: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    optim: Optimizer = "adamw_torch"
    save_strategy: Strategy = "steps"
    save_steps: PositiveInt = 100
    save_total_limit: PositiveInt | None = 2
    eval_strategy: Strategy = "no"
    eval_steps: PositiveInt | None = None
    logging_steps: PositiveInt = 10
    seed: int = 42
    bf16: bool = False
    fp16: bool = False
    gradient_checkpointing: bool = False
    ddp_find_unused_parameters: bool | None = False
    dataloader_num_workers: NonNegativeInt = 0


DataFormat = Literal["auto", "parquet", "jsonl", "json", "csv"]
DataSchema = Literal["auto", "messages", "prompt_completion", "instruction"]


class DatasetConfig(_Section):
    """Which input file(s) to read, how their columns map to a chat, and the eval split."""

    dataset_path: str | None = None
    """A file under the data directory (for volume inputs); every downloaded file is used if unset."""
    format: DataFormat = "auto"
    schema: DataSchema = "auto"
    messages_column: str = "messages"
    prompt_column: str = "prompt"
    completion_column: str = "completion"
    instruction_column: str = "instruction"
    context_column: str = "context"
    response_column: str = "response"
    system_prompt: str | None = None
    shuffle_dataset: bool = True
    shuffle_seed: int = 42
    train_test_split: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1.0
    """The fraction of rows used for training; the rest is the eval split (1 means no eval)."""
    max_seq_length: Annotated[int, msgspec.Meta(ge=8)] = 1024


class DataCollator(_Section):
    """KAITO's collator section. Only causal LM is supported, so ``mlm: true`` is ignored with a warning
    (KAITO does the same for tokenizers without a mask token, which Phi-3's is)."""

    mlm: bool = False


class TrainingConfig(
    msgspec.Struct,
    forbid_unknown_fields=True,
    kw_only=True,
    rename={
        "model": "ModelConfig",
        "quantization": "QuantizationConfig",
        "lora": "LoraConfig",
        "training": "TrainingArguments",
        "dataset": "DatasetConfig",
        "collator": "DataCollator",
    },
):
    """All sections of the training config, under KAITO's section names."""

    model: ModelConfig = msgspec.field(default_factory=ModelConfig)
    quantization: QuantizationConfig = msgspec.field(default_factory=QuantizationConfig)
    lora: LoraConfig = msgspec.field(default_factory=LoraConfig)
    training: TrainingArguments = msgspec.field(default_factory=TrainingArguments)
    dataset: DatasetConfig = msgspec.field(default_factory=DatasetConfig)
    collator: DataCollator = msgspec.field(default_factory=DataCollator)

    @property
    def method(self) -> Method:
        """qlora when the base model is quantized, lora otherwise (KAITO's rule)."""
        q = self.quantization
        return "qlora" if q.load_in_4bit or q.load_in_8bit else "lora"


class _ConfigFile(msgspec.Struct, forbid_unknown_fields=True):
    training_config: TrainingConfig


def _check_semantics(cfg: TrainingConfig) -> None:
    """Cross-field rules msgspec's per-field constraints cannot express."""
    where = "training_config"
    q, t, lo, d = cfg.quantization, cfg.training, cfg.lora, cfg.dataset
    if q.load_in_4bit and q.load_in_8bit:
        raise ConfigError(
            f"{where}.QuantizationConfig: load_in_4bit and load_in_8bit cannot both be true; pick one"
        )
    if t.bf16 and t.fp16:
        raise ConfigError(f"{where}.TrainingArguments: bf16 and fp16 cannot both be true; pick one")
    if t.max_steps == 0:
        raise ConfigError(f"{where}.TrainingArguments.max_steps: must be -1 (use epochs) or a positive count")
    if t.eval_strategy != "no" and d.train_test_split >= 1:
        raise ConfigError(
            f"{where}.TrainingArguments.eval_strategy: {t.eval_strategy!r} needs an eval split; "
            "set DatasetConfig.train_test_split below 1"
        )
    if t.eval_strategy == "steps" and t.eval_steps is None:
        raise ConfigError(f"{where}.TrainingArguments.eval_steps: required when eval_strategy is 'steps'")
    if isinstance(lo.target_modules, str) and lo.target_modules != "all-linear":
        raise ConfigError(
            f"{where}.LoraConfig.target_modules: a string must be 'all-linear'; "
            f"got {lo.target_modules!r} (use a list of module names)"
        )
    if isinstance(lo.target_modules, list) and not lo.target_modules:
        raise ConfigError(f"{where}.LoraConfig.target_modules: an empty list matches nothing")
    if not t.output_dir:
        raise ConfigError(f"{where}.TrainingArguments.output_dir: must not be empty")


def parse_config(text: str, *, source: str = CONFIG_FILE_KEY) -> TrainingConfig:
    """Decodes and validates the YAML text of a training config; raises ConfigError naming the key."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping with key 'training_config', got {type(raw).__name__}"
        )
    try:
        cfg = msgspec.convert(raw, _ConfigFile).training_config
    except msgspec.ValidationError as e:
        raise ConfigError(f"{source}: {_readable(str(e))}") from None
    _check_semantics(cfg)
    return cfg


def load_config(path: str | Path) -> TrainingConfig:
    """Reads and validates the training config file (the mounted ConfigMap key)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the training config: {e.strerror or e}") from None
    return parse_config(text, source=str(p))


def _readable(message: str) -> str:
    """Turns msgspec's ``... - at `$.a.b` `` into ``a.b: ...`` so the key leads the message."""
    text, sep, path = message.rpartition(" - at ")
    if not sep:
        return message
    key = path.strip("`").removeprefix("$").removeprefix(".")
    return f"{key}: {text}" if key else text


def default_config(method: Method) -> TrainingConfig:
    """The default config for a method, the one source of the controller's default ConfigMaps."""
    if method not in METHODS:
        raise ConfigError(f"method: must be one of {', '.join(METHODS)}; got {method!r}")
    quantization = (
        QuantizationConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype="bfloat16",
            bnb_4bit_use_double_quant=True,
        )
        if method == "qlora"
        else QuantizationConfig()
    )
    return TrainingConfig(
        model=ModelConfig(torch_dtype="bfloat16", local_files_only=True, device_map="auto"),
        quantization=quantization,
        lora=LoraConfig(r=8, lora_alpha=8, lora_dropout=0.0),
        training=TrainingArguments(
            output_dir="/mnt/results",
            ddp_find_unused_parameters=False,
            per_device_train_batch_size=1,
            save_strategy="steps",
            save_steps=100,
        ),
        dataset=DatasetConfig(shuffle_dataset=True, train_test_split=1.0),
    )


def to_yaml(cfg: TrainingConfig) -> str:
    """The YAML text of a config, every field explicit, which :func:`parse_config` reads back equal."""
    data: dict[str, Any] = {"training_config": msgspec.to_builtins(cfg)}
    text: str = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    return text


def render_default_configmap_data(method: Method) -> dict[str, str]:
    """The ``data`` of the default ConfigMap for a method: ``{"training_config.yaml": <YAML>}``."""
    return {CONFIG_FILE_KEY: to_yaml(default_config(method))}
