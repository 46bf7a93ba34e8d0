"""The Azure GPU SKU table."""

from __future__ import annotations

from kaito.presets.skus import AZURE_SKUS, get_sku


def test_nc6s_v3_is_one_v100_with_16_gib() -> None:
    sku = get_sku("Standard_NC6s_v3")
    assert sku is not None
    assert (sku.gpu.name, sku.gpu_count, sku.gpu_memory_per_gpu_gib) == ("NVIDIA V100", 1, 16)
    assert sku.describe() == "Standard_NC6s_v3 (1x NVIDIA V100, 16 GiB per GPU)"


def test_the_table_covers_the_nc_ncads_nd_and_nv_families() -> None:
    names = set(AZURE_SKUS)
    assert {
        "Standard_NC12s_v3",
        "Standard_NC24ads_A100_v4",
        "Standard_ND96asr_v4",
        "Standard_NV36ads_A10_v5",
    } <= names
    assert {s.family[:2] for s in AZURE_SKUS.values()} == {"NC", "ND", "NV"}
    assert len(AZURE_SKUS) >= 38


def test_multi_gpu_sizes_split_memory_evenly() -> None:
    sku = get_sku("Standard_NC96ads_A100_v4")
    assert sku is not None and sku.gpu_count == 4 and sku.gpu_memory_per_gpu_gib == 80
    nd = get_sku("Standard_ND96isr_H200_v5")
    assert nd is not None and nd.gpu_memory_per_gpu_gib == 141


def test_every_sku_name_is_an_azure_n_series_name_the_crd_accepts() -> None:
    import re

    for name, sku in AZURE_SKUS.items():
        assert name == sku.name
        assert re.fullmatch(r"Standard_N[A-Za-z0-9_]*", name)
        assert sku.gpu_count >= 1 and sku.gpu_memory_gib > 0


def test_an_unknown_instance_type_has_no_sku() -> None:
    assert get_sku("Standard_D4s_v5") is None
