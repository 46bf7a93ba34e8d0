"""PEFT adapters: find them, weigh them, load them, and combine them as KAITO does.

Every subdirectory of the adapters directory holding an ``adapter_config.json`` is an adapter named
after the directory. Its strength comes from ``--adapter-strength NAME=W``, else from the environment
variable NAME (the controller sets one per adapter, as KAITO does), else 1.0. All adapters are loaded
side by side and also combined, weighted by strength, into ``combined_adapter`` (PEFT's
``add_weighted_adapter``); requests get the combination by default, or one adapter by name.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

COMBINED_ADAPTER = "combined_adapter"


class AdapterError(ValueError):
    """An adapter directory or strength that cannot be used."""


def discover(adapters_dir: str | Path) -> dict[str, Path]:
    """Adapter name → directory, for every subdirectory with an adapter_config.json (sorted by name)."""
    root = Path(adapters_dir)
    if not root.is_dir():
        log.info("no adapters directory at %s; serving the base model", root)
        return {}
    return {d.name: d for d in sorted(root.iterdir()) if (d / "adapter_config.json").is_file()}


def strengths(names: list[str], overrides: Mapping[str, float], env: Mapping[str, str]) -> dict[str, float]:
    """The weight of each adapter: flag, then the environment variable named after it, then 1.0."""
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise AdapterError(f"--adapter-strength names adapters that were not found: {', '.join(unknown)}")
    weights: dict[str, float] = {}
    for name in names:
        if name in overrides:
            weight = overrides[name]
        elif name in env:
            try:
                weight = float(env[name])
            except ValueError:
                raise AdapterError(
                    f"environment variable {name}: adapter strength {env[name]!r} is not a number"
                ) from None
        else:
            weight = 1.0
        if not math.isfinite(weight):
            raise AdapterError(f"adapter {name}: strength must be finite, got {weight}")
        weights[name] = weight
    return weights


def attach(
    model: Any, adapters: Mapping[str, Path], weights: Mapping[str, float], combination_type: str
) -> Any:
    """Loads every adapter onto ``model`` and adds their weighted combination; returns the PeftModel."""
    from peft import PeftModel

    names = list(adapters)
    first = names[0]
    peft_model = PeftModel.from_pretrained(
        model, str(adapters[first]), adapter_name=first, is_trainable=False
    )
    for name in names[1:]:
        peft_model.load_adapter(str(adapters[name]), adapter_name=name, is_trainable=False)
    try:
        peft_model.add_weighted_adapter(
            names,
            [weights[n] for n in names],
            adapter_name=COMBINED_ADAPTER,
            combination_type=combination_type,
        )
    except ValueError as exc:
        raise AdapterError(f"cannot combine adapters {names} with {combination_type!r}: {exc}") from exc
    peft_model.set_adapter(COMBINED_ADAPTER)
    peft_model.eval()
    log.info("loaded adapters %s with strengths %s as %s", names, dict(weights), COMBINED_ADAPTER)
    return peft_model
