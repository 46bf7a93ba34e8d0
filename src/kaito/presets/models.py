"""The model preset registry: per preset the Hugging Face repo and revision, architecture, dtype,
context length, tuning methods, LoRA targets, image, disk size and whether it spans nodes.

Sources, cited per figure below:
- [HF] the model's `config.json` on huggingface.co at the pinned revision (hidden_size,
  intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, vocab_size,
  max_position_embeddings, tie_word_embeddings, torch_dtype);
- [MC] the model card's stated parameter count (cross-checked against the architecture in tests);
- [KS] KAITO `presets/workspace/models/supported_models.yaml` (commit 0567d7f, ≈v0.4.6): revisions
  and image tags; [KR] KAITO-REFERENCE.md §3 (which presets support tuning, download-at-runtime).
Parameter counts used for sizing are computed from the architecture, not typed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import msgspec

Method = Literal["lora", "qlora"]
IMAGE_REGISTRY: Final = "mcr.microsoft.com/aks/kaito"
BASE_IMAGE: Final = "kaito-base"
BASE_IMAGE_TAG: Final = "0.0.2"  # [KS] "base" entry
WEIGHTS_DIR: Final = "/workspace/tfs/weights"  # where the model image bakes them (runtime/docker)
DOWNLOAD_DIR: Final = "/workspace/weights"  # where download-at-runtime presets fetch them (KAITO HEAD)

# Linear-layer families: which module names exist and their (in, out) shapes. LLaMA-style
# (Llama, Mistral, Qwen2) keeps q/k/v and gate/up apart; Phi-3 fuses them into qkv_proj and
# gate_up_proj (transformers `modeling_phi3.py`); Falcon fuses query_key_value and has a plain MLP.
LLAMA_MODULES: Final = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PHI3_MODULES: Final = ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")
FALCON_MODULES: Final = ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h")


class Architecture(msgspec.Struct, frozen=True, kw_only=True):
    """The shape of a decoder-only transformer, as in its config.json."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    tied_embeddings: bool
    linear_modules: tuple[str, ...]
    biases: bool = False  # Qwen2 has q/k/v biases

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden // self.heads

    def module_shape(self, module: str) -> tuple[int, int]:
        """(in_features, out_features) of a linear module in one layer."""
        h, i, kv = self.hidden, self.intermediate, self.kv_heads * self.head_dim
        shapes = {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
            "qkv_proj": (h, h + 2 * kv),
            "gate_up_proj": (h, 2 * i),
            "query_key_value": (h, h + 2 * kv),
            "dense": (h, h),
            "dense_h_to_4h": (h, i),
            "dense_4h_to_h": (i, h),
        }
        if module not in shapes or module not in self.linear_modules:
            raise KeyError(
                f"{module!r} is not a linear module of this architecture ({', '.join(self.linear_modules)})"
            )
        return shapes[module]

    @property
    def linear_params(self) -> int:
        """Parameters in the decoder layers' linear modules (the part QLoRA quantises)."""
        per_layer = sum(a * b for a, b in map(self.module_shape, self.linear_modules))
        return per_layer * self.layers

    @property
    def embedding_params(self) -> int:
        """Input embedding plus the LM head (once if tied); kept in 16 bits under QLoRA."""
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def params(self) -> int:
        """Total parameters, norms and biases included."""
        norms = (2 * self.layers + 1) * self.hidden
        biases = self.layers * (self.hidden + 2 * self.kv_heads * self.head_dim) if self.biases else 0
        return self.linear_params + self.embedding_params + norms + biases

    def lora_params(self, targets: tuple[str, ...], rank: int) -> int:
        """Trainable parameters of rank-r LoRA on the given modules: r·(in + out) per module per layer."""
        return self.layers * sum(rank * (a + b) for a, b in map(self.module_shape, targets))


class Preset(msgspec.Struct, frozen=True, kw_only=True):
    """One model preset."""

    name: str
    hf_repo: str
    revision: str
    architecture: Architecture
    published_params: float  # [MC], in billions; a cross-check for `architecture.params`
    dtype: Literal["bfloat16", "float16"]
    context_length: int
    tuning_methods: tuple[Method, ...]
    lora_target_modules: tuple[str, ...]
    image_tag: str
    download_at_runtime: bool = False  # weights fetched from HF at start (needs an HF token)
    # Whether one copy of the model may span several nodes: true where transformers ships a
    # tensor-parallel plan for the architecture (`base_model_tp_plan`: Llama, Mistral, Qwen2, Phi-3).
    distributed_inference: bool = False
    trust_remote_code: bool = False

    @property
    def params(self) -> int:
        """Parameter count, computed from the architecture."""
        return self.architecture.params

    @property
    def supports_tuning(self) -> bool:
        """Whether any tuning method is supported."""
        return bool(self.tuning_methods)

    @property
    def image(self) -> str:
        """The inference/tuning image: the model's own image, or the base image for runtime downloads."""
        if self.download_at_runtime:
            return f"{IMAGE_REGISTRY}/{BASE_IMAGE}:{BASE_IMAGE_TAG}"
        return f"{IMAGE_REGISTRY}/kaito-{self.name}:{self.image_tag}"

    @property
    def disk_gib(self) -> int:
        """OS/data disk to ask for: weights (16-bit) + 80 GiB, KAITO HEAD's rule
        (`DiskStorageRequirement = int(modelFileSize + 80)Gi`, KAITO-REFERENCE §3.3)."""
        return int(self.params * 2 / 2**30 + 80)

    @property
    def disk_size(self) -> str:
        """disk_gib as a Kubernetes quantity, with its unit."""
        return f"{self.disk_gib}Gi"

    def inference_command(self, gpus_per_node: int, nodes: int = 1) -> list[str]:
        """argv of the inference container: torchrun running kaito_runtime.inference.

        With a tensor-parallel plan (`distributed_inference`) there is one process per GPU and the
        model is split over them; without one, a single process spreads the layers over the node's
        GPUs (device_map "auto"), since more processes would each load a full copy. Multi-node runs
        take their rank from $(POD_INDEX) and rendezvous on the StatefulSet's pod 0; the controller
        supplies those through the environment. Download-at-runtime presets fetch their pinned
        revision into DOWNLOAD_DIR at start.
        """
        if nodes > 1 and not self.distributed_inference:
            raise ValueError(f"{self.name}: one copy cannot span nodes (no tensor-parallel plan)")
        processes = gpus_per_node if self.distributed_inference else 1
        argv = ["torchrun", f"--nproc_per_node={processes}", f"--nnodes={nodes}"]
        if nodes > 1:
            argv += [
                "--node_rank=$(POD_INDEX)",
                "--rdzv_backend=c10d",
                "--rdzv_endpoint=$(MASTER_ADDR):29500",
            ]
        argv += [
            "-m",
            "kaito_runtime.inference",
            f"--model={self.model_path}",
            f"--served-model-name={self.name}",
            f"--torch-dtype={self.dtype}",
        ]
        if self.download_at_runtime:
            argv += [f"--revision={self.revision}", f"--download-dir={DOWNLOAD_DIR}"]
        if self.trust_remote_code:
            argv.append("--trust-remote-code")
        return argv

    def tuning_command(
        self, gpus_per_node: int, config_path: str = "/mnt/config/training_config.yaml"
    ) -> list[str]:
        """argv of the tuning container: one process per GPU of the node running kaito_runtime.tuning."""
        return [
            "torchrun",
            f"--nproc_per_node={gpus_per_node}",
            "-m",
            "kaito_runtime.tuning",
            f"--model-path={self.model_path}",
            f"--config={config_path}",
        ]

    @property
    def model_path(self) -> str:
        """Where the runtime finds the weights: the image's directory, or the HF repo to download."""
        return self.hf_repo if self.download_at_runtime else WEIGHTS_DIR


# [HF] config.json of each family.
PHI3_MINI: Final = Architecture(
    hidden=3072, intermediate=8192, layers=32, heads=32, kv_heads=32, vocab=32064,
    tied_embeddings=False, linear_modules=PHI3_MODULES,
)  # fmt: skip
PHI3_MEDIUM: Final = Architecture(
    hidden=5120, intermediate=17920, layers=40, heads=40, kv_heads=10, vocab=32064,
    tied_embeddings=False, linear_modules=PHI3_MODULES,
)  # fmt: skip
PHI4: Final = Architecture(
    hidden=5120, intermediate=17920, layers=40, heads=40, kv_heads=10, vocab=100352,
    tied_embeddings=False, linear_modules=PHI3_MODULES,
)  # fmt: skip
LLAMA31_8B: Final = Architecture(
    hidden=4096, intermediate=14336, layers=32, heads=32, kv_heads=8, vocab=128256,
    tied_embeddings=False, linear_modules=LLAMA_MODULES,
)  # fmt: skip
MISTRAL_7B_V03: Final = Architecture(
    hidden=4096, intermediate=14336, layers=32, heads=32, kv_heads=8, vocab=32768,
    tied_embeddings=False, linear_modules=LLAMA_MODULES,
)  # fmt: skip
FALCON_7B: Final = Architecture(  # multi-query attention: one KV head; MLP 4h; tied LM head
    hidden=4544, intermediate=18176, layers=32, heads=71, kv_heads=1, vocab=65024,
    tied_embeddings=True, linear_modules=FALCON_MODULES,
)  # fmt: skip
FALCON_40B: Final = Architecture(  # new_decoder_architecture: 8 KV groups
    hidden=8192, intermediate=32768, layers=60, heads=128, kv_heads=8, vocab=65024,
    tied_embeddings=True, linear_modules=FALCON_MODULES,
)  # fmt: skip
QWEN25_7B: Final = Architecture(
    hidden=3584, intermediate=18944, layers=28, heads=28, kv_heads=4, vocab=152064,
    tied_embeddings=False, linear_modules=LLAMA_MODULES, biases=True,
)  # fmt: skip

_LORA: Final[tuple[Method, ...]] = ("lora", "qlora")


def _phi3(name: str, repo: str, revision: str, arch: Architecture, billions: float, context: int) -> Preset:
    return Preset(
        name=name,
        hf_repo=repo,
        revision=revision,
        architecture=arch,
        published_params=billions,
        dtype="bfloat16",
        context_length=context,
        tuning_methods=_LORA,
        lora_target_modules=PHI3_MODULES,  # Phi-3 fuses its projections; q_proj etc. do not exist
        image_tag="0.1.1",
        distributed_inference=True,
    )


PRESETS: Final[Mapping[str, Preset]] = {
    p.name: p
    for p in (
        _phi3(
            "phi-3-mini-4k-instruct",
            "microsoft/Phi-3-mini-4k-instruct",
            "0a67737cc96d2554230f90338b163bc6380a2a85",
            PHI3_MINI,
            3.8,
            4096,
        ),
        _phi3(
            "phi-3-mini-128k-instruct",
            "microsoft/Phi-3-mini-128k-instruct",
            "072cb7562cb8c4adf682a8e186aaafa49469eb5d",
            PHI3_MINI,
            3.8,
            131072,
        ),
        _phi3(
            "phi-3-medium-4k-instruct",
            "microsoft/Phi-3-medium-4k-instruct",
            "b64223aaea6fbf273c0c8cd0801d5e732dce8897",
            PHI3_MEDIUM,
            14.0,
            4096,
        ),
        _phi3(
            "phi-3-medium-128k-instruct",
            "microsoft/Phi-3-medium-128k-instruct",
            "fa7d2aa4f5ea69b2e36b20d050cdae79c9bfbb3f",
            PHI3_MEDIUM,
            14.0,
            131072,
        ),
        _phi3(
            "phi-3.5-mini-instruct",
            "microsoft/Phi-3.5-mini-instruct",
            "3145e03a9fd4cdd7cd953c34d9bbf7ad606122ca",
            PHI3_MINI,
            3.8,
            131072,
        ),
        _phi3("phi-4", "microsoft/phi-4", "187ef0342fff0eb3333be9f00389385e95ef0b61", PHI4, 14.7, 16384),
        Preset(
            name="llama-3.1-8b-instruct",
            hf_repo="meta-llama/Llama-3.1-8B-Instruct",
            revision="0e9e39f249a16976918f6564b8830bc894c89659",
            architecture=LLAMA31_8B,
            published_params=8.03,
            dtype="bfloat16",
            context_length=131072,
            tuning_methods=(),
            lora_target_modules=LLAMA_MODULES,
            image_tag="0.0.1",
            download_at_runtime=True,
            distributed_inference=True,
        ),
        Preset(
            name="mistral-7b",
            hf_repo="mistralai/Mistral-7B-v0.3",
            revision="d8cadc02ac76bd617a919d50b092e59d2d110aff",
            architecture=MISTRAL_7B_V03,
            published_params=7.25,
            dtype="bfloat16",
            context_length=32768,
            tuning_methods=_LORA,
            lora_target_modules=LLAMA_MODULES,
            image_tag="0.1.1",
            distributed_inference=True,
        ),
        Preset(
            name="mistral-7b-instruct",
            hf_repo="mistralai/Mistral-7B-Instruct-v0.3",
            revision="e0bc86c23ce5aae1db576c8cca6f06f1f73af2db",
            architecture=MISTRAL_7B_V03,
            published_params=7.25,
            dtype="bfloat16",
            context_length=32768,
            tuning_methods=(),
            lora_target_modules=LLAMA_MODULES,
            image_tag="0.1.1",
            distributed_inference=True,
        ),
        Preset(
            name="falcon-7b",
            hf_repo="tiiuae/falcon-7b",
            revision="ec89142b67d748a1865ea4451372db8313ada0d8",
            architecture=FALCON_7B,
            published_params=7.0,
            dtype="bfloat16",
            context_length=2048,
            tuning_methods=_LORA,
            lora_target_modules=FALCON_MODULES,
            image_tag="0.1.1",
        ),
        Preset(
            name="falcon-7b-instruct",
            hf_repo="tiiuae/falcon-7b-instruct",
            revision="8782b5c5d8c9290412416618f36a133653e85285",
            architecture=FALCON_7B,
            published_params=7.0,
            dtype="bfloat16",
            context_length=2048,
            tuning_methods=(),
            lora_target_modules=FALCON_MODULES,
            image_tag="0.1.1",
        ),
        Preset(
            name="falcon-40b-instruct",
            hf_repo="tiiuae/falcon-40b-instruct",
            revision="ecb78d97ac356d098e79f0db222c9ce7c5d9ee5f",
            architecture=FALCON_40B,
            published_params=40.0,
            dtype="bfloat16",
            context_length=2048,
            tuning_methods=(),
            lora_target_modules=FALCON_MODULES,
            image_tag="0.1.1",
        ),
        Preset(
            name="qwen2.5-coder-7b-instruct",
            hf_repo="Qwen/Qwen2.5-Coder-7B-Instruct",
            revision="c03e6d358207e414f1eca0bb1891e29f1db0e242",
            architecture=QWEN25_7B,
            published_params=7.61,
            dtype="bfloat16",
            context_length=32768,
            tuning_methods=_LORA,
            lora_target_modules=LLAMA_MODULES,
            image_tag="0.1.1",
            distributed_inference=True,
        ),
    )
}


class UnknownPresetError(KeyError):
    """A preset name that is not in the registry."""


def get_preset(name: str) -> Preset:
    """The preset of that name; UnknownPresetError naming the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownPresetError(
            f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}"
        ) from None


def preset_names() -> list[str]:
    """All preset names, sorted."""
    return sorted(PRESETS)


def tunable_preset_names() -> list[str]:
    """Names of presets that support tuning, sorted."""
    return sorted(n for n, p in PRESETS.items() if p.supports_tuning)
