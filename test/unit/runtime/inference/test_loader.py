"""Loading: local files only, with errors that say what is missing."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import huggingface_hub
import pytest
from inference_helpers import make_config

from kaito_runtime.inference import loader
from kaito_runtime.inference.weights import WeightsError


def test_a_missing_model_directory_is_an_error_naming_the_flag(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"--model: .* is not a directory.*--download-dir"):
        loader.load(make_config(tmp_path / "nothing-here"))


class FakeHub:
    """Stands in for huggingface_hub.snapshot_download: copies a local model, records the call."""

    def __init__(self, source: Path, fail: Exception | None = None) -> None:
        self.source, self.fail, self.calls = source, fail, []

    def __call__(self, **kwargs: object) -> str:
        self.calls.append(kwargs)
        if self.fail is not None:
            raise self.fail
        shutil.copytree(self.source, str(kwargs["local_dir"]), dirs_exist_ok=True)
        return str(kwargs["local_dir"])


def test_a_repo_is_fetched_at_its_revision_into_the_download_dir_with_the_token_and_loaded(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    hub = FakeHub(tiny_model_dir)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub)
    config = make_config(tmp_path / "absent", model="org/Some-Model", download_dir=str(tmp_path / "dl"))
    config = replace(config, revision="0123abc", adapters_dir=str(tmp_path / "no-adapters"))
    with caplog.at_level(logging.INFO):
        loaded = loader.load(config, env={"HF_TOKEN": "hf_secret_token"})
    assert loaded.context_length > 0
    [call] = hub.calls
    assert call["repo_id"] == "org/Some-Model" and call["revision"] == "0123abc"
    assert call["token"] == "hf_secret_token"
    assert Path(str(call["local_dir"])) == tmp_path / "dl" / "org--Some-Model"
    assert "hf_secret_token" not in caplog.text


def test_a_failed_fetch_names_the_repo_and_revision(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub, "snapshot_download", FakeHub(tiny_model_dir, OSError("401 gated")))
    config = replace(make_config(tmp_path, model="org/Gated", download_dir=str(tmp_path)), revision="r1")
    with pytest.raises(WeightsError, match="fetching org/Gated at revision r1 failed: OSError: 401 gated"):
        loader.load(config, env={})


def test_fetching_is_refused_while_the_hub_is_switched_off(tmp_path: Path) -> None:
    config = make_config(tmp_path / "absent", model="org/Model", download_dir=str(tmp_path))
    with pytest.raises(WeightsError, match="HF_HUB_OFFLINE"):
        loader.load(config, env={"HF_HUB_OFFLINE": "1"})


def test_loaded_model_reports_its_context_eos_and_chat_template(tiny_model_dir: Path) -> None:
    loaded = loader.load(make_config(tiny_model_dir, max_model_len=128))
    assert loaded.context_length == 128
    assert loaded.eos_token_ids == frozenset({loaded.tokenizer.eos_token_id})
    assert loaded.has_chat_template
    assert loaded.adapter_names == []
    assert loader.load(make_config(tiny_model_dir)).context_length == 512  # max_position_embeddings
