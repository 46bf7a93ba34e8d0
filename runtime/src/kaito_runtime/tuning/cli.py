"""Command line of the tuning job (``kaito-tuning`` / ``python -m kaito_runtime.tuning``).

Every option also reads an environment variable, which is how the controller's Job sets it. Run
under ``torchrun --nproc_per_node=N -m kaito_runtime.tuning`` for several processes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kaito_runtime.tuning.config import METHODS, load_config, render_default_configmap_data
from kaito_runtime.tuning.download import DownloadPolicy
from kaito_runtime.tuning.errors import ConfigError
from kaito_runtime.tuning.job import JobOptions, run_job
from kaito_runtime.tuning.jsonlog import setup_logging

_TRUE = {"1", "true", "yes", "on"}


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name) or default


def _env_bool(name: str) -> bool:
    return (os.environ.get(name) or "").strip().lower() in _TRUE


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; defaults come from the environment variables named in each help."""
    p = argparse.ArgumentParser(prog="kaito-tuning", description="KAITO LoRA/QLoRA tuning job")
    p.add_argument(
        "--config",
        type=Path,
        default=Path(_env("YAML_FILE_PATH", "/mnt/config/training_config.yaml")),
        help="training config YAML (env YAML_FILE_PATH)",
    )
    p.add_argument(
        "--data-urls",
        nargs="*",
        default=_env("DATA_URLS").split(),
        help="input URLs, https unless --allow-http; '#sha256=<hex>' checks a file (env DATA_URLS)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(_env("DATA_VOLUME_PATH", "/mnt/data")),
        help="where inputs are downloaded to or read from (env DATA_VOLUME_PATH)",
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        default=_path(_env("OUTPUT_DIR")),
        help="overrides TrainingArguments.output_dir (env OUTPUT_DIR)",
    )
    p.add_argument(
        "--model-path",
        default=_env("MODEL_PATH") or None,
        help="overrides ModelConfig.pretrained_model_name_or_path (env MODEL_PATH)",
    )
    p.add_argument(
        "--output-image",
        default=_env("OUTPUT_IMAGE") or None,
        help="push the adapter to this image reference (env OUTPUT_IMAGE)",
    )
    p.add_argument(
        "--push-secret",
        type=Path,
        default=_path(_env("PUSH_SECRET_PATH")),
        help="the push secret's .dockerconfigjson file (env PUSH_SECRET_PATH)",
    )
    p.add_argument(
        "--insecure-registry",
        action="store_true",
        default=_env_bool("REGISTRY_INSECURE"),
        help="talk plain http to the registry (env REGISTRY_INSECURE)",
    )
    p.add_argument(
        "--allow-http",
        action="store_true",
        default=_env_bool("ALLOW_HTTP_INPUT"),
        help="allow http input URLs (env ALLOW_HTTP_INPUT)",
    )
    p.add_argument(
        "--max-download-bytes",
        type=int,
        default=int(_env("MAX_DOWNLOAD_BYTES", str(10 * 1024**3))),
        help="size limit of each input file (env MAX_DOWNLOAD_BYTES)",
    )
    p.add_argument("--download-attempts", type=int, default=3)
    p.add_argument("--download-backoff", type=float, default=2.0, help="seconds before the first retry")
    p.add_argument("--push-attempts", type=int, default=4)
    p.add_argument("--push-backoff", type=float, default=5.0, help="seconds before the first push retry")
    p.add_argument(
        "--status-file",
        type=Path,
        default=_path(_env("STATUS_FILE")),
        help="progress file, default <output_dir>/status.json (env STATUS_FILE)",
    )
    p.add_argument("--validate-only", action="store_true", help="check the config and exit")
    p.add_argument("--print-default-config", choices=METHODS, help="print a method's default config and exit")
    return p


def _path(value: str) -> Path | None:
    return Path(value) if value else None


def main(argv: list[str] | None = None) -> None:
    """Parses arguments, sets up JSON logging and runs the job; exits with its code."""
    args = build_parser().parse_args(argv)
    if args.print_default_config:
        sys.stdout.write(next(iter(render_default_configmap_data(args.print_default_config).values())))
        return
    setup_logging()
    if args.validate_only:
        try:
            cfg = load_config(args.config)
        except ConfigError as e:
            print(e, file=sys.stderr)
            sys.exit(1)
        print(f"{args.config}: valid ({cfg.method})")
        return
    opts = JobOptions(
        config_path=args.config,
        data_urls=list(args.data_urls),
        data_dir=args.data_dir,
        output_dir=args.output_dir,
        model_path=args.model_path,
        output_image=args.output_image,
        push_secret=args.push_secret,
        insecure_registry=args.insecure_registry,
        download=DownloadPolicy(
            allow_http=args.allow_http,
            max_bytes=args.max_download_bytes,
            attempts=args.download_attempts,
            backoff_s=args.download_backoff,
        ),
        status_file=args.status_file,
        push_attempts=args.push_attempts,
        push_backoff_s=args.push_backoff,
    )
    sys.exit(run_job(opts))
