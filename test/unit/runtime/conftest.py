"""Shared fixtures for the runtime's tests: one tiny Phi-3 built offline per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Phi-3 with a trained tokenizer and chat template, saved to disk."""
    from kaito_runtime.tinymodel import build_tiny_phi3

    return build_tiny_phi3(tmp_path_factory.mktemp("tiny-phi3"))
