"""Azure GPU VM sizes: GPU model, GPU count and memory per GPU, by instance type.

Sources: KAITO `api/v1alpha1/sku_config.go@v0.3.0` (GPU count and total GPU memory of 38 Azure SKUs),
`pkg/sku/azure_sku_handler.go` at KAITO HEAD (GPU models, the H100/H200 sizes), summarised in
KAITO-REFERENCE.md §5.2; GPU memory and compute capability per model from the Azure VM size pages
(learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/*) and NVIDIA's CUDA GPU list.
A10 "partitions" (NVads_A10_v5 below NV36) count as one GPU with a fraction of its 24 GiB.
"""

from __future__ import annotations

from typing import Final

import msgspec


class GPUModel(msgspec.Struct, frozen=True, kw_only=True):
    """A GPU model: its name and CUDA compute capability (bf16 needs 8.0 or later)."""

    name: str
    compute_capability: float


K80: Final = GPUModel(name="NVIDIA K80", compute_capability=3.7)
M60: Final = GPUModel(name="NVIDIA M60", compute_capability=5.2)
P40: Final = GPUModel(name="NVIDIA P40", compute_capability=6.1)
P100: Final = GPUModel(name="NVIDIA P100", compute_capability=6.0)
V100: Final = GPUModel(name="NVIDIA V100", compute_capability=7.0)
T4: Final = GPUModel(name="NVIDIA T4", compute_capability=7.5)
A100: Final = GPUModel(name="NVIDIA A100", compute_capability=8.0)
A10: Final = GPUModel(name="NVIDIA A10", compute_capability=8.6)
H100: Final = GPUModel(name="NVIDIA H100", compute_capability=9.0)
H200: Final = GPUModel(name="NVIDIA H200", compute_capability=9.0)


class GPUSku(msgspec.Struct, frozen=True, kw_only=True):
    """An instance type with GPUs: how many, which model, and how much memory in total (GiB)."""

    name: str
    family: str
    gpu: GPUModel
    gpu_count: int
    gpu_memory_gib: float

    @property
    def gpu_memory_per_gpu_gib(self) -> float:
        """Memory of one GPU (or of the GPU partition the size gets)."""
        return self.gpu_memory_gib / self.gpu_count

    def describe(self) -> str:
        """e.g. 'Standard_NC6s_v3 (1x NVIDIA V100, 16 GiB per GPU)'."""
        per = f"{self.gpu_memory_per_gpu_gib:g}"
        return f"{self.name} ({self.gpu_count}x {self.gpu.name}, {per} GiB per GPU)"


def _sku(name: str, family: str, gpu: GPUModel, count: int, total_gib: float) -> GPUSku:
    return GPUSku(name=f"Standard_{name}", family=family, gpu=gpu, gpu_count=count, gpu_memory_gib=total_gib)


AZURE_SKUS: Final[dict[str, GPUSku]] = {
    s.name: s
    for s in (
        # NC: K80 (retired by Azure, kept as KAITO v0.3 listed them)
        _sku("NC6", "NC", K80, 1, 12),
        _sku("NC12", "NC", K80, 2, 24),
        _sku("NC24", "NC", K80, 4, 48),
        _sku("NC24r", "NC", K80, 4, 48),
        # NCv2: P100 16 GiB
        _sku("NC6s_v2", "NCv2", P100, 1, 16),
        _sku("NC12s_v2", "NCv2", P100, 2, 32),
        _sku("NC24s_v2", "NCv2", P100, 4, 64),
        _sku("NC24rs_v2", "NCv2", P100, 4, 64),
        # NCv3: V100 16 GiB
        _sku("NC6s_v3", "NCv3", V100, 1, 16),
        _sku("NC12s_v3", "NCv3", V100, 2, 32),
        _sku("NC24s_v3", "NCv3", V100, 4, 64),
        _sku("NC24rs_v3", "NCv3", V100, 4, 64),
        # NCasT4_v3: T4 16 GiB
        _sku("NC4as_T4_v3", "NCasT4_v3", T4, 1, 16),
        _sku("NC8as_T4_v3", "NCasT4_v3", T4, 1, 16),
        _sku("NC16as_T4_v3", "NCasT4_v3", T4, 1, 16),
        _sku("NC64as_T4_v3", "NCasT4_v3", T4, 4, 64),
        # NCads_A100_v4: A100 80 GiB
        _sku("NC24ads_A100_v4", "NCads_A100_v4", A100, 1, 80),
        _sku("NC48ads_A100_v4", "NCads_A100_v4", A100, 2, 160),
        _sku("NC96ads_A100_v4", "NCads_A100_v4", A100, 4, 320),
        # NCads_H100_v5: H100 NVL 94 GiB
        _sku("NC40ads_H100_v5", "NCads_H100_v5", H100, 1, 94),
        _sku("NC80adis_H100_v5", "NCads_H100_v5", H100, 2, 188),
        _sku("NCC40ads_H100_v5", "NCCads_H100_v5", H100, 1, 94),
        # ND: P40 24 GiB
        _sku("ND6s", "ND", P40, 1, 24),
        _sku("ND12s", "ND", P40, 2, 48),
        _sku("ND24s", "ND", P40, 4, 96),
        _sku("ND24rs", "ND", P40, 4, 96),
        # NDv2: V100 32 GiB; NDv4: A100 40 GiB; NDm_v4: A100 80 GiB; ND_v5: H100 80 GiB, H200 141 GiB
        _sku("ND40rs_v2", "NDv2", V100, 8, 256),
        _sku("ND96asr_v4", "ND_A100_v4", A100, 8, 320),
        _sku("ND96amsr_A100_v4", "NDm_A100_v4", A100, 8, 640),
        _sku("ND96isr_H100_v5", "ND_H100_v5", H100, 8, 640),
        _sku("ND96isr_H200_v5", "ND_H200_v5", H200, 8, 1128),
        # NV: M60 8 GiB per GPU
        _sku("NV6", "NV", M60, 1, 8),
        _sku("NV12", "NV", M60, 2, 16),
        _sku("NV24", "NV", M60, 4, 32),
        _sku("NV12s_v3", "NVv3", M60, 1, 8),
        _sku("NV24s_v3", "NVv3", M60, 2, 16),
        _sku("NV48s_v3", "NVv3", M60, 4, 32),
        # NVads_A10_v5: A10 24 GiB, partitioned below NV36
        _sku("NV6ads_A10_v5", "NVads_A10_v5", A10, 1, 4),
        _sku("NV12ads_A10_v5", "NVads_A10_v5", A10, 1, 8),
        _sku("NV18ads_A10_v5", "NVads_A10_v5", A10, 1, 12),
        _sku("NV36ads_A10_v5", "NVads_A10_v5", A10, 1, 24),
        _sku("NV36adms_A10_v5", "NVads_A10_v5", A10, 1, 24),
        _sku("NV72ads_A10_v5", "NVads_A10_v5", A10, 2, 48),
    )
}


def get_sku(instance_type: str) -> GPUSku | None:
    """The GPU SKU for an instance type, or None when it is not in the table."""
    return AZURE_SKUS.get(instance_type)
