"""The training config: strict decoding, clear errors, and the lora/qlora defaults the controller renders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kaito_runtime.tuning.config import (
    CONFIG_FILE_KEY,
    ConfigError,
    default_config,
    load_config,
    parse_config,
    render_default_configmap_data,
)


def test_config_module_imports_without_torch() -> None:
    code = (
        "import sys, kaito_runtime.tuning.config as c; c.render_default_configmap_data('qlora'); "
        "bad = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": ":".join(sys.path)})


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_default_configmap_round_trips_to_the_default_config(method: str) -> None:
    data = render_default_configmap_data(method)  # type: ignore[arg-type]
    assert list(data) == [CONFIG_FILE_KEY]
    assert parse_config(data[CONFIG_FILE_KEY]) == default_config(method)  # type: ignore[arg-type]


def test_qlora_default_is_4bit_nf4_double_quant_and_lora_default_is_not_quantized() -> None:
    q = default_config("qlora")
    assert q.method == "qlora"
    assert (q.quantization.load_in_4bit, q.quantization.bnb_4bit_quant_type) == (True, "nf4")
    assert q.quantization.bnb_4bit_use_double_quant and q.quantization.bnb_4bit_compute_dtype == "bfloat16"
    lo = default_config("lora")
    assert lo.method == "lora" and not lo.quantization.load_in_4bit
    for cfg in (q, lo):
        assert (cfg.lora.r, cfg.lora.lora_alpha, cfg.lora.lora_dropout) == (8, 8, 0.0)
        assert cfg.training.output_dir == "/mnt/results"


def test_default_configmap_uses_kaito_section_names() -> None:
    doc = yaml.safe_load(render_default_configmap_data("qlora")[CONFIG_FILE_KEY])
    assert set(doc["training_config"]) == {
        "ModelConfig",
        "QuantizationConfig",
        "LoraConfig",
        "TrainingArguments",
        "DatasetConfig",
        "DataCollator",
    }


def test_kaito_v03_qlora_configmap_is_accepted() -> None:
    kaito = """
training_config:
  ModelConfig: {torch_dtype: "bfloat16", local_files_only: true, device_map: "auto"}
  QuantizationConfig: {load_in_4bit: true, bnb_4bit_quant_type: "nf4", bnb_4bit_compute_dtype: "bfloat16",
                       bnb_4bit_use_double_quant: true}
  LoraConfig: {r: 8, lora_alpha: 8, lora_dropout: 0.0}
  TrainingArguments: {output_dir: "/mnt/results", ddp_find_unused_parameters: false, save_strategy: "epoch",
                      per_device_train_batch_size: 1}
  DataCollator: {mlm: true}
  DatasetConfig: {shuffle_dataset: true, train_test_split: 1}
"""
    cfg = parse_config(kaito)
    assert cfg.method == "qlora" and cfg.training.save_strategy == "epoch" and cfg.collator.mlm


def test_missing_sections_take_defaults_and_phi3_targets_are_chosen_later() -> None:
    cfg = parse_config("training_config: {}")
    assert cfg.method == "lora" and cfg.lora.target_modules is None


BAD_CONFIGS = [
    ("training_config:\n  LoraConfig: {rank: 4}\n", "training_config.LoraConfig", "unknown field `rank`"),
    ("training_config:\n  LoraConfig: {r: 0}\n", "training_config.LoraConfig.r", ">= 1"),
    ("training_config:\n  LoraConfig: {r: eight}\n", "training_config.LoraConfig.r", "Expected `int`"),
    ("training_config:\n  LoraConfig: {lora_dropout: 1.5}\n", "LoraConfig.lora_dropout", "< 1"),
    ("training_config:\n  LoraConfig: {target_modules: q_proj}\n", "LoraConfig.target_modules", "all-linear"),
    (
        "training_config:\n  LoraConfig: {target_modules: []}\n",
        "LoraConfig.target_modules",
        "matches nothing",
    ),
    ("training_config:\n  Lora: {r: 4}\n", "training_config", "unknown field `Lora`"),
    ("training_config:\n  TrainingArguments: {learning_rate: -1}\n", "learning_rate", "> 0"),
    ("training_config:\n  TrainingArguments: {max_steps: 0}\n", "max_steps", "positive"),
    (
        "training_config:\n  TrainingArguments: {lr_scheduler_type: zigzag}\n",
        "lr_scheduler_type",
        "Invalid enum",
    ),
    ("training_config:\n  TrainingArguments: {bf16: true, fp16: true}\n", "bf16 and fp16", "pick one"),
    (
        "training_config:\n  TrainingArguments: {eval_strategy: steps, eval_steps: 2}\n",
        "eval_strategy",
        "train_test_split",
    ),
    (
        "training_config:\n  QuantizationConfig: {load_in_4bit: true, load_in_8bit: true}\n",
        "QuantizationConfig",
        "cannot both",
    ),
    (
        "training_config:\n  QuantizationConfig: {bnb_4bit_quant_type: int4}\n",
        "bnb_4bit_quant_type",
        "Invalid enum",
    ),
    ("training_config:\n  DatasetConfig: {train_test_split: 0}\n", "train_test_split", "> 0"),
    ("training_config:\n  DatasetConfig: {format: xlsx}\n", "DatasetConfig.format", "Invalid enum"),
    ("training_config:\n  ModelConfig: {torch_dtype: float8}\n", "ModelConfig.torch_dtype", "Invalid enum"),
    ("LoraConfig: {r: 4}\n", "$", "training_config"),
    ("- a\n- list\n", CONFIG_FILE_KEY, "expected a mapping"),
    ("training_config: {LoraConfig: [\n", CONFIG_FILE_KEY, "not valid YAML"),
]


@pytest.mark.parametrize(("text", "key", "reason"), BAD_CONFIGS, ids=[c[1] + ":" + c[2] for c in BAD_CONFIGS])
def test_bad_config_fails_with_an_error_naming_the_key(text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    message = str(e.value)
    if key != "$":
        assert key in message
    assert reason in message


def test_load_config_names_the_file_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the training config"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_method_has_no_default() -> None:
    with pytest.raises(ConfigError, match="method: must be one of lora, qlora"):
        default_config("dora")  # type: ignore[arg-type]
