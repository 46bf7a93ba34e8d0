"""Every preset's container command is accepted by the runtime it launches, in the image it names.

The controller renders pods from kaito.presets; the images run kaito_runtime. A flag renamed on one
side and not the other would only fail inside a pod, so both are checked here.
"""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest

from kaito.presets.models import DOWNLOAD_DIR, WEIGHTS_DIR, get_preset, preset_names, tunable_preset_names
from kaito_runtime.inference.config import build_parser as inference_parser
from kaito_runtime.tuning.cli import build_parser as tuning_parser

REPO = Path(__file__).resolve().parents[3]


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
    if preset.download_at_runtime:
        assert (args.download_dir, args.revision) == (DOWNLOAD_DIR, preset.revision)
    else:
        assert args.download_dir is None


@pytest.mark.parametrize("name", tunable_preset_names())
def test_the_tuning_command_parses_with_the_tuning_job(name: str) -> None:
    preset = get_preset(name)
    args = tuning_parser().parse_args(_runtime_args(preset.tuning_command(1), "kaito_runtime.tuning"))
    assert args.model_path == preset.model_path
    assert str(args.config) == "/mnt/config/training_config.yaml"


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    lines = [ln for ln in dockerfile.read_text().splitlines() if not ln.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _console_scripts() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(REPO / "runtime" / "setup.cfg")
    entries = parser["options.entry_points"]["console_scripts"].strip().splitlines()
    return {entry.split("=")[0].strip() for entry in entries}


@pytest.mark.parametrize("name", ["inference.Dockerfile", "tuning.Dockerfile"])
def test_each_image_copies_files_that_exist_and_runs_a_console_script_the_runtime_installs(name: str) -> None:
    steps = _instructions(REPO / "runtime" / "docker" / name)
    for word, args in steps:
        if word == "COPY" and "${" not in args:
            source = args.split()[0]
            assert (REPO / source).exists(), f"{name}: COPY {source}: not in the repository"
    command = [json.loads(args) for word, args in steps if word in ("CMD", "ENTRYPOINT")][-1]
    assert command[0] in _console_scripts(), f"{name}: {command[0]} is not a console script of runtime/"
    assert ("USER", "1000") in steps, f"{name}: must not run as root"


def test_presets_read_weights_where_the_model_image_bakes_them_and_the_server_looks_by_default() -> None:
    steps = _instructions(REPO / "runtime" / "docker" / "inference.Dockerfile")
    destinations = [args.split()[-1] for word, args in steps if word == "COPY" and "WEIGHTS_DIR" in args]
    assert destinations == [WEIGHTS_DIR]
    assert inference_parser().parse_args([]).model == WEIGHTS_DIR
    baked = [n for n in preset_names() if not get_preset(n).download_at_runtime]
    assert baked and all(get_preset(n).model_path == WEIGHTS_DIR for n in baked)
