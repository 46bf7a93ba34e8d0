"""Every preset's container command is accepted by the runtime it launches.

The controller renders pods from kaito.presets; the images run kaito_runtime. A flag renamed on one
side and not the other would only fail inside a pod, so both are checked here.
"""

from __future__ import annotations

import pytest

from kaito.presets.models import get_preset, preset_names, tunable_preset_names
from kaito_runtime.inference.config import build_parser as inference_parser
from kaito_runtime.tuning.cli import build_parser as tuning_parser


def _runtime_args(argv: list[str], module: str) -> list[str]:
    """The arguments torchrun passes on to `python -m module`."""
    assert argv[0] == "torchrun"
    at = argv.index(module)
    assert argv[at - 1] == "-m"
    return argv[at + 1 :]


@pytest.mark.parametrize("name", preset_names())
def test_the_inference_command_parses_with_the_inference_server(name: str) -> None:
    preset = get_preset(name)
    argv = _runtime_args(preset.inference_command(2), "kaito_runtime.inference")
    args = inference_parser().parse_args(argv)
    assert args.model == preset.model_path
    assert args.served_model_name == name
    assert args.dtype == preset.dtype
    assert args.trust_remote_code == preset.trust_remote_code


@pytest.mark.parametrize("name", tunable_preset_names())
def test_the_tuning_command_parses_with_the_tuning_job(name: str) -> None:
    preset = get_preset(name)
    args = tuning_parser().parse_args(_runtime_args(preset.tuning_command(1), "kaito_runtime.tuning"))
    assert args.model_path == preset.model_path
    assert str(args.config) == "/mnt/config/training_config.yaml"
