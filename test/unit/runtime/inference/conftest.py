"""Fixtures for the inference server's tests: a shared server, a reference ``generate``, LoRA adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from inference_helpers import Server, make_config, running_server


@pytest.fixture(scope="session")
async def server(tiny_model_dir: Path) -> AsyncIterator[Server]:
    """The tiny model without adapters, shared by the whole session."""
    async with running_server(make_config(tiny_model_dir)) as s:
        yield s


@pytest.fixture(scope="session")
def reference(tiny_model_dir: Path) -> Callable[..., list[int]]:
    """Greedy tokens from plain transformers ``generate`` on the same model, one prompt at a time."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True).eval()

    def generate(prompt_ids: list[int], max_new_tokens: int, min_new_tokens: int = 0) -> list[int]:
        ids = torch.tensor([prompt_ids])
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                min_new_tokens=min_new_tokens,
                do_sample=False,
            )
        return [int(t) for t in out[0, len(prompt_ids) :]]

    return generate


@pytest.fixture(scope="session")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)


@pytest.fixture(scope="session")
def adapters_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two LoRA adapters ("alpha", "beta") with random, non-zero weights, as a tuning job would leave them."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("adapters")
    for seed, name in enumerate(["alpha", "beta"], start=1):
        torch.manual_seed(seed)
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True)
        lora = LoraConfig(r=4, lora_alpha=32, target_modules="all-linear", init_lora_weights=False)
        model = get_peft_model(base, lora)
        model.save_pretrained(root / name)
    return root
