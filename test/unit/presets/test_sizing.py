"""GPU memory estimates (computed, per method) and the node-count rule."""

from __future__ import annotations

import pytest

from kaito.presets.models import get_preset
from kaito.presets.sizing import (
    GIB,
    CannotFitError,
    estimate,
    plan_nodes,
    weight_bytes,
)

MINI = get_preset("phi-3-mini-128k-instruct")


def test_inference_needs_16_bit_weights_plus_20_percent() -> None:
    e = estimate(MINI, "inference")
    assert e.weights == MINI.params * 2
    assert e.overhead == int(e.weights * 0.2)
    assert e.total == e.weights + e.overhead
    assert 8 < e.total_gib < 9.5  # KAITO lists 9Gi for phi-3-mini inference


def test_qlora_weights_are_four_bit_linears_plus_sixteen_bit_embeddings() -> None:
    arch = MINI.architecture
    expected = int(arch.linear_params * (4 + 0.127) / 8) + (arch.params - arch.linear_params) * 2
    assert weight_bytes(MINI, "qlora") == expected
    assert weight_bytes(MINI, "qlora") < weight_bytes(MINI, "lora") / 3


def test_lora_state_is_sixteen_bytes_per_trainable_parameter() -> None:
    e = estimate(MINI, "lora", lora_rank=16)
    assert e.adapter_state == MINI.architecture.lora_params(MINI.lora_target_modules, 16) * 16
    assert estimate(MINI, "lora", lora_rank=16).adapter_state == 2 * estimate(MINI, "lora").adapter_state


def test_activations_grow_with_sequence_length_and_batch() -> None:
    short = estimate(MINI, "qlora", seq_len=512)
    long = estimate(MINI, "qlora", seq_len=2048)
    assert long.activations == 4 * short.activations
    assert estimate(MINI, "qlora", micro_batch=2).activations == 2 * estimate(MINI, "qlora").activations
    assert long.logits == 4 * short.logits


def test_qlora_needs_far_less_than_lora_which_needs_more_than_inference() -> None:
    for name in (
        "phi-3-mini-128k-instruct",
        "phi-3-medium-4k-instruct",
        "mistral-7b",
        "qwen2.5-coder-7b-instruct",
    ):
        p = get_preset(name)
        q, lo, inf = (estimate(p, m).total for m in ("qlora", "lora", "inference"))
        assert q < 0.7 * lo, name
        assert lo > inf, name


def test_estimating_a_method_the_preset_lacks_is_an_error() -> None:
    with pytest.raises(ValueError, match="falcon-7b-instruct does not support qlora"):
        estimate(get_preset("falcon-7b-instruct"), "qlora")


def test_the_seed_qlora_of_phi3_mini_128k_fits_one_nc6s_v3() -> None:
    plan = plan_nodes(MINI, "Standard_NC6s_v3", count=1, method="qlora")
    assert plan.nodes == 1
    assert plan.need_bytes < 16 * GIB
    assert plan.sku is not None and plan.sku.gpu.name == "NVIDIA V100"


def test_nodes_are_the_larger_of_count_and_memory_need() -> None:
    phi4 = get_preset("phi-4")  # ~33 GiB for inference; can span nodes
    assert plan_nodes(phi4, "Standard_NC6s_v3", count=1).nodes == 3  # 16 GiB per node
    assert plan_nodes(phi4, "Standard_NC6s_v3", count=5).nodes == 5
    assert plan_nodes(phi4, "Standard_NC24ads_A100_v4", count=1).nodes == 1
    assert plan_nodes(phi4, "Standard_NC24ads_A100_v4", count=2).nodes == 2


def test_a_preset_that_cannot_span_nodes_must_fit_one_and_the_reason_says_so() -> None:
    falcon40 = get_preset("falcon-40b-instruct")
    with pytest.raises(
        CannotFitError, match=r"needs 9\d\.\d GiB .* Standard_NC24ads_A100_v4 .* cannot span nodes"
    ):
        plan_nodes(falcon40, "Standard_NC24ads_A100_v4")
    assert plan_nodes(falcon40, "Standard_NC48ads_A100_v4").nodes == 1


def test_tuning_must_fit_one_node_and_suggests_qlora() -> None:
    medium = get_preset("phi-3-medium-4k-instruct")
    with pytest.raises(CannotFitError, match=r"tuning runs on a single node; .* or use method qlora"):
        plan_nodes(medium, "Standard_NC12s_v3", method="lora")
    assert plan_nodes(medium, "Standard_NC12s_v3", method="qlora").nodes == 1


def test_tuning_a_preset_without_tuning_support_cannot_be_planned() -> None:
    with pytest.raises(CannotFitError, match="does not support lora"):
        plan_nodes(get_preset("mistral-7b-instruct"), "Standard_NC24ads_A100_v4", method="lora")


def test_an_unknown_sku_falls_back_to_count_and_says_it_was_not_checked() -> None:
    plan = plan_nodes(MINI, "Standard_ND999_vX", count=2)
    assert plan.nodes == 2 and plan.sku is None
    assert plan.note is not None and "not in the GPU SKU table" in plan.note


def test_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"resource\.count"):
        plan_nodes(MINI, "Standard_NC6s_v3", count=0)
