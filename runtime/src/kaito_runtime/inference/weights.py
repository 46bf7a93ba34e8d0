"""Finds the model's weights: the image's directory, or a Hugging Face snapshot fetched at start.

Most presets bake their weights into the image, and ``--model`` names that directory. Presets whose
weights are fetched at start (KAITO's download-at-runtime models) name the Hugging Face repo in
``--model``, pin it with ``--revision``, and give ``--download-dir``: the snapshot is fetched there with
huggingface_hub, using the ``HF_TOKEN`` of the environment (never logged), and loaded from there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from kaito_runtime.inference.config import ServerConfig

log = logging.getLogger(__name__)


class WeightsError(Exception):
    """The weights cannot be found or fetched; the message names the flag to fix."""


def model_directory(config: ServerConfig, env: Mapping[str, str]) -> Path:
    """The local directory to load from, downloading the snapshot first when the config asks for it."""
    local = Path(config.model)
    if local.is_dir():
        return local
    if config.download_dir is None:
        raise WeightsError(
            f"--model: {config.model} is not a directory (the image's weights are expected there); "
            "to fetch a Hugging Face repo at start, pass --download-dir"
        )
    if env.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise WeightsError(
            f"--download-dir: cannot fetch {config.model} while HF_HUB_OFFLINE is set; "
            "unset it in the image that downloads at start"
        )
    from huggingface_hub import snapshot_download

    target = Path(config.download_dir) / config.model.replace("/", "--")
    log.info(
        "fetching the model snapshot",
        extra={"repo": config.model, "revision": config.revision or "main", "to": str(target)},
    )
    try:
        path = snapshot_download(
            repo_id=config.model,
            revision=config.revision,
            local_dir=target,
            token=env.get("HF_TOKEN") or None,
        )
    except Exception as exc:  # huggingface_hub raises many types; the flag and repo are what matter
        raise WeightsError(
            f"--model: fetching {config.model} at revision {config.revision or 'main'} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return Path(str(path))
