"""The server's command line: model, adapters, batching limits and where to listen.

KAITO's spellings (``--torch_dtype``, ``--pretrained_model_name_or_path``, ``--trust_remote_code``,
``--pipeline``, ...) are accepted beside ours, so the controller can render KAITO's command unchanged.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MODEL_DIR = "/workspace/tfs/weights"
DEFAULT_ADAPTERS_DIR = "/mnt/adapter"
DEFAULT_PORT = 5000
DTYPES = ("auto", "float32", "float16", "bfloat16")
COMBINATION_TYPES = (
    "svd",
    "linear",
    "cat",
    "ties_svd",
    "dare_linear_svd",
    "dare_ties_svd",
    "magnitude_prune_svd",
)


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server is started with."""

    model: str = DEFAULT_MODEL_DIR
    served_model_name: str = ""
    dtype: str = "auto"
    device_map: str | None = "auto"
    trust_remote_code: bool = False
    chat_template: str | None = None
    adapters_dir: str = DEFAULT_ADAPTERS_DIR
    adapter_strengths: Mapping[str, float] = field(default_factory=dict)
    combination_type: str = "svd"
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    max_batch_size: int = 16
    max_queue: int = 256
    max_body_bytes: int = 4 * 1024 * 1024
    max_model_len: int | None = None
    tensor_parallel: bool = True
    download_dir: str | None = None
    revision: str | None = None


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _strength(text: str) -> tuple[str, float]:
    name, sep, weight = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=WEIGHT, got {text!r}")
    try:
        return name, float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(f"weight of {name!r} is not a number: {weight!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``kaito-inference --help``)."""
    p = argparse.ArgumentParser(prog="kaito-inference", description="KAITO's inference server.")
    p.add_argument(
        "--model",
        "--pretrained_model_name_or_path",
        "--pretrained-model-name-or-path",
        dest="model",
        default=DEFAULT_MODEL_DIR,
        help="local model directory (default %(default)s)",
    )
    p.add_argument(
        "--served-model-name",
        "--served_model_name",
        dest="served_model_name",
        default="",
        help="name of the model in the OpenAI API (default: the model directory's name)",
    )
    p.add_argument("--dtype", "--torch_dtype", "--torch-dtype", dest="dtype", default="auto", choices=DTYPES)
    p.add_argument(
        "--device-map",
        "--device_map",
        dest="device_map",
        default="auto",
        help="transformers device_map ('auto', 'cpu', 'cuda:0', or 'none')",
    )
    p.add_argument(
        "--trust-remote-code",
        "--trust_remote_code",
        dest="trust_remote_code",
        action="store_true",
        help="run the model repository's own code (only when the preset says so)",
    )
    p.add_argument(
        "--chat-template",
        "--chat_template",
        dest="chat_template",
        default=None,
        help="a Jinja chat template, inline (contains '{') or a file path; default: the tokenizer's",
    )
    p.add_argument(
        "--adapters-dir",
        "--kaito-adapters-dir",
        dest="adapters_dir",
        default=DEFAULT_ADAPTERS_DIR,
        help="every PEFT adapter in a subdirectory is loaded (default %(default)s)",
    )
    p.add_argument(
        "--adapter-strength",
        dest="adapter_strength",
        action="append",
        type=_strength,
        default=[],
        metavar="NAME=WEIGHT",
        help="weight of an adapter in the combination (default: env var NAME, or 1)",
    )
    p.add_argument(
        "--combination-type",
        "--combination_type",
        dest="combination_type",
        default="svd",
        choices=COMBINATION_TYPES,
    )
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument(
        "--port",
        type=_positive,
        default=DEFAULT_PORT,
        help="base port; the server listens on PORT + LOCAL_RANK (default %(default)s)",
    )
    p.add_argument("--max-batch-size", type=_positive, default=16, help="rows in one generate loop")
    p.add_argument("--max-queue", type=_positive, default=256, help="waiting sequences before 429")
    p.add_argument("--max-body-bytes", type=_positive, default=4 * 1024 * 1024, help="larger bodies get 413")
    p.add_argument(
        "--max-model-len",
        type=_positive,
        default=None,
        help="context window (default: the model config's max_position_embeddings)",
    )
    p.add_argument(
        "--no-tensor-parallel",
        dest="tensor_parallel",
        action="store_false",
        help="under torchrun, keep a full replica per rank instead of splitting the model",
    )
    p.add_argument(
        "--download-dir",
        "--download_dir",
        dest="download_dir",
        default=None,
        help="fetch --model as a Hugging Face repo into this directory when it is not a local directory",
    )
    p.add_argument(
        "--revision",
        "--code-revision",
        dest="revision",
        default=None,
        help="the repo revision (commit) to fetch with --download-dir (default: main)",
    )
    p.add_argument(
        "--pipeline",
        choices=("text-generation", "conversational"),
        default="text-generation",
        help="accepted for KAITO compatibility; every route is served either way",
    )
    return p


def parse_args(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> ServerConfig:
    """Parses the command line; exits with a message naming the flag on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    chat_template = args.chat_template
    if chat_template is not None and "{" not in chat_template:
        path = Path(chat_template)
        if not path.is_file():
            parser.error(
                f"--chat-template: {chat_template!r} is not a file and does not look like a template"
            )
        chat_template = path.read_text()
    device_map = None if args.device_map.lower() == "none" else args.device_map
    served = args.served_model_name or Path(args.model).name or "model"
    return ServerConfig(
        model=args.model,
        served_model_name=served,
        dtype=args.dtype,
        device_map=device_map,
        trust_remote_code=args.trust_remote_code,
        chat_template=chat_template,
        adapters_dir=args.adapters_dir,
        adapter_strengths=dict(args.adapter_strength),
        combination_type=args.combination_type,
        host=args.host,
        port=args.port + int(env.get("LOCAL_RANK", "0")),
        max_batch_size=args.max_batch_size,
        max_queue=args.max_queue,
        max_body_bytes=args.max_body_bytes,
        max_model_len=args.max_model_len,
        tensor_parallel=args.tensor_parallel,
        download_dir=args.download_dir,
        revision=args.revision,
    )
