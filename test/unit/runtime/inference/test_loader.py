"""Loading: local files only, with errors that say what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from inference_helpers import make_config

from kaito_runtime.inference import loader


def test_a_missing_model_directory_is_an_error_naming_the_flag(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--model"):
        loader.load(make_config(tmp_path / "nothing-here"))


def test_loaded_model_reports_its_context_eos_and_chat_template(tiny_model_dir: Path) -> None:
    loaded = loader.load(make_config(tiny_model_dir, max_model_len=128))
    assert loaded.context_length == 128
    assert loaded.eos_token_ids == frozenset({loaded.tokenizer.eos_token_id})
    assert loaded.has_chat_template
    assert loaded.adapter_names == []
    assert loader.load(make_config(tiny_model_dir)).context_length == 512  # max_position_embeddings
