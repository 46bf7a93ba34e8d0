"""The preset registry: every required model, pinned revisions, architecture-derived sizes."""

from __future__ import annotations

import re

import pytest

from kaito.presets.models import PHI3_MODULES, PRESETS, UnknownPresetError, get_preset, tunable_preset_names

REQUIRED = [
    "phi-3-mini-4k-instruct",
    "phi-3-mini-128k-instruct",
    "phi-3-medium-4k-instruct",
    "phi-3-medium-128k-instruct",
    "phi-3.5-mini-instruct",
    "phi-4",
    "llama-3.1-8b-instruct",
    "mistral-7b",
    "mistral-7b-instruct",
    "falcon-7b",
    "falcon-7b-instruct",
    "falcon-40b-instruct",
    "qwen2.5-coder-7b-instruct",
]


def test_every_required_preset_is_registered() -> None:
    assert set(REQUIRED) <= set(PRESETS)


@pytest.mark.parametrize("name", REQUIRED)
def test_parameter_count_from_the_architecture_agrees_with_the_model_card(name: str) -> None:
    p = get_preset(name)
    assert p.params / 1e9 == pytest.approx(p.published_params, rel=0.05)


@pytest.mark.parametrize("name", REQUIRED)
def test_presets_pin_a_commit_and_name_an_image_with_a_tag(name: str) -> None:
    p = get_preset(name)
    assert re.fullmatch(r"[0-9a-f]{40}", p.revision)
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", p.hf_repo)
    assert re.fullmatch(r"mcr\.microsoft\.com/aks/kaito/kaito-[a-z0-9.-]+:\d+\.\d+\.\d+", p.image)
    assert p.disk_size.endswith("Gi") and p.disk_gib > 80


def test_phi3_family_targets_its_fused_projections() -> None:
    for name in REQUIRED[:6]:
        p = get_preset(name)
        assert p.lora_target_modules == PHI3_MODULES == ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")
        for module in p.lora_target_modules:
            p.architecture.module_shape(module)  # exists in the architecture
    with pytest.raises(KeyError, match="not a linear module"):
        get_preset("phi-4").architecture.module_shape("q_proj")


def test_phi3_mini_fused_shapes_follow_its_config() -> None:
    arch = get_preset("phi-3-mini-128k-instruct").architecture
    assert arch.module_shape("qkv_proj") == (3072, 3 * 3072)
    assert arch.module_shape("gate_up_proj") == (3072, 2 * 8192)
    assert arch.lora_params(arch.linear_modules, 8) == 32 * 8 * (
        3072 + 9216 + 3072 + 3072 + 3072 + 16384 + 8192 + 3072
    )


def test_lora_targets_of_every_preset_exist_in_its_architecture() -> None:
    for p in PRESETS.values():
        assert set(p.lora_target_modules) <= set(p.architecture.linear_modules), p.name


def test_tuning_support_follows_kaito() -> None:
    tunable = tunable_preset_names()
    assert "phi-3-mini-128k-instruct" in tunable and "mistral-7b" in tunable
    assert not {"falcon-7b-instruct", "falcon-40b-instruct", "mistral-7b-instruct"} & set(tunable)


def test_context_lengths_follow_the_model_names() -> None:
    assert get_preset("phi-3-mini-4k-instruct").context_length == 4096
    assert get_preset("phi-3-mini-128k-instruct").context_length == 131072


def test_download_at_runtime_presets_use_the_base_image_and_fetch_the_pinned_hf_revision() -> None:
    p = get_preset("llama-3.1-8b-instruct")
    assert p.image.startswith("mcr.microsoft.com/aks/kaito/kaito-base:")
    argv = p.inference_command(1)
    assert f"--model={p.hf_repo}" in argv
    assert f"--revision={p.revision}" in argv and "--download-dir=/workspace/weights" in argv


def test_a_model_without_a_tensor_parallel_plan_runs_one_process_over_all_the_nodes_gpus() -> None:
    falcon = get_preset("falcon-40b-instruct")
    assert not falcon.distributed_inference
    assert falcon.inference_command(4)[1] == "--nproc_per_node=1"
    with pytest.raises(ValueError, match="cannot span nodes"):
        falcon.inference_command(4, nodes=2)


def test_commands_run_the_runtime_modules_with_one_process_per_gpu() -> None:
    p = get_preset("phi-3-mini-128k-instruct")
    inf = p.inference_command(2)
    assert inf[:3] == ["torchrun", "--nproc_per_node=2", "--nnodes=1"]
    assert inf[3:5] == ["-m", "kaito_runtime.inference"]
    assert "--model=/workspace/tfs/weights" in inf
    multi = p.inference_command(1, nodes=2)
    assert "--node_rank=$(POD_INDEX)" in multi
    tune = p.tuning_command(4)
    assert tune[:4] == ["torchrun", "--nproc_per_node=4", "-m", "kaito_runtime.tuning"]
    assert "--config=/mnt/config/training_config.yaml" in tune


def test_an_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(UnknownPresetError, match=r"unknown preset 'gpt-5'.*phi-4"):
        get_preset("gpt-5")
