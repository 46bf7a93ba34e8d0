"""The tuning job from start to end: config, inputs, data, training, adapter, push, status.

One function, :func:`run_job`, runs in every process that torchrun starts. Rank 0 alone writes the
status file, saves the adapter and pushes it; the first process on each node downloads the inputs
while the others wait. A job that finds the completion marker of an earlier run skips training and
only (re)delivers the adapter, so a pod restarted after a failed push does not train again.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from kaito_runtime.tuning.config import TrainingConfig, load_config
from kaito_runtime.tuning.data import EXTENSIONS
from kaito_runtime.tuning.download import DownloadPolicy, download_inputs, plan_downloads
from kaito_runtime.tuning.errors import DataError, TuningError
from kaito_runtime.tuning.jsonlog import log_event
from kaito_runtime.tuning.push import ADAPTER_FILES, Credentials, push_adapter, read_push_secret, registry_of
from kaito_runtime.tuning.status import StatusReporter

log = logging.getLogger("kaito.tuning.job")

COMPLETION_MARKER = "fine_tuning_completed.txt"
"""Written to the output dir when the adapter is saved (KAITO's sentinel name)."""


@dataclass
class JobOptions:
    """What the job is told by its command line and environment (the config comes from a file)."""

    config_path: Path
    data_urls: list[str] = field(default_factory=list)
    data_dir: Path = Path("/mnt/data")
    output_dir: Path | None = None
    model_path: str | None = None
    output_image: str | None = None
    push_secret: Path | None = None
    insecure_registry: bool = False
    download: DownloadPolicy = field(default_factory=DownloadPolicy)
    status_file: Path | None = None
    push_attempts: int = 4
    push_backoff_s: float = 5.0


def _apply_overrides(cfg: TrainingConfig, opts: JobOptions) -> TrainingConfig:
    if opts.output_dir is not None:
        cfg.training = msgspec.structs.replace(cfg.training, output_dir=str(opts.output_dir))
    if opts.model_path is not None:
        cfg.model = msgspec.structs.replace(cfg.model, pretrained_model_name_or_path=opts.model_path)
    return cfg


def _local_inputs(opts: JobOptions, cfg: TrainingConfig) -> list[Path]:
    d = opts.data_dir
    if cfg.dataset.dataset_path:
        p = d / cfg.dataset.dataset_path
        if not p.is_file():
            raise DataError(f"DatasetConfig.dataset_path: {p} does not exist")
        return [p]
    if not d.is_dir():
        raise DataError(f"no input: no input URLs were given and the data directory {d} does not exist")
    files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise DataError(f"no input: no URLs and no {'/'.join(sorted(EXTENSIONS))} files in {d}")
    return files


def _inputs(opts: JobOptions, cfg: TrainingConfig, fetch: bool) -> list[Path]:
    if not opts.data_urls:
        return _local_inputs(opts, cfg)
    if fetch:
        files = download_inputs(opts.data_urls, opts.data_dir, opts.download)
    else:
        files = [dest for _, dest in plan_downloads(opts.data_urls, opts.data_dir, opts.download)]
    if cfg.dataset.dataset_path:
        files = [f for f in files if f.name == cfg.dataset.dataset_path]
        if not files:
            raise DataError(
                f"DatasetConfig.dataset_path: {cfg.dataset.dataset_path!r} is not among the input URLs"
            )
    return files


def _adapter_present(output_dir: Path) -> bool:
    return all((output_dir / name).is_file() for name in ADAPTER_FILES)


def _train(opts: JobOptions, cfg: TrainingConfig, output_dir: Path, reporter: StatusReporter) -> None:
    # The ML stack is imported here, not at module level, so config errors surface in a second.
    import torch
    from transformers.utils import logging as hf_logging

    from kaito_runtime.tuning.data import prepare_data
    from kaito_runtime.tuning.model import add_lora, load_base_model, load_tokenizer
    from kaito_runtime.tuning.train import build_trainer, hf_training_arguments, last_complete_checkpoint

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # tqdm bars are not JSON lines
    args = hf_training_arguments(cfg, output_dir)
    reporter.update(phase="Downloading", world_size=args.world_size)
    with args.main_process_first(local=True, desc="input download"):
        files = _inputs(opts, cfg, fetch=args.local_process_index == 0)
    reporter.update(phase="Loading")
    tokenizer = load_tokenizer(cfg)
    data = prepare_data(files, cfg.dataset, tokenizer)
    rep = data.report
    reporter.update(
        rows_used=rep.rows_used,
        rows_skipped=rep.rows_skipped,
        skipped_reasons=dict(rep.skipped),
        rows_truncated=rep.rows_truncated,
    )
    if rep.rows_skipped:
        log_event(log, "rows skipped", logging.WARNING, skipped=dict(rep.skipped))
    model = load_base_model(cfg, world_size=args.world_size, local_rank=args.local_process_index)
    model = add_lora(model, cfg)
    trainer = build_trainer(model, tokenizer, args, data.train, data.eval, reporter)
    checkpoint = last_complete_checkpoint(output_dir)
    if checkpoint is not None:
        log_event(log, "resuming from checkpoint", checkpoint=checkpoint.name)
        reporter.update(resumed_from=checkpoint.name)
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    reporter.update(
        phase="Saving", step=trainer.state.global_step, train_loss_mean=round(result.training_loss, 6)
    )
    if trainer.is_world_process_zero():
        peft_model: Any = trainer.model
        peft_model.save_pretrained(str(output_dir))
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        (output_dir / COMPLETION_MARKER).write_text(f"Fine-Tuning completed at {stamp}\n")
        log_event(log, "adapter saved", adapter_dir=str(output_dir))
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def run_job(opts: JobOptions) -> int:
    """Runs the job; returns the process exit code (0 on success, 1 on a reported failure)."""
    rank = int(os.environ.get("RANK", "0"))
    reporter = StatusReporter(None, log)
    if rank == 0:
        # Known before the config is read when given, so a config error is reported there too.
        reporter.path = opts.status_file or (opts.output_dir / "status.json" if opts.output_dir else None)
    try:
        cfg = _apply_overrides(load_config(opts.config_path), opts)
        output_dir = Path(cfg.training.output_dir)
        if rank == 0 and reporter.path is None:
            reporter.path = output_dir / "status.json"
        reporter.update(method=cfg.method, image=opts.output_image)
        if cfg.collator.mlm:
            log_event(
                log,
                "DataCollator.mlm=true is ignored: the job trains a causal LM (mlm=false)",
                logging.WARNING,
            )
        creds: Credentials | None = None
        if opts.output_image:
            registry = registry_of(opts.output_image)
            if opts.push_secret is not None:
                creds = read_push_secret(opts.push_secret, registry)
        if (output_dir / COMPLETION_MARKER).is_file() and _adapter_present(output_dir):
            log_event(log, "training already completed; delivering the adapter", adapter_dir=str(output_dir))
        else:
            _train(opts, cfg, output_dir, reporter)
        if rank == 0:
            reporter.update(adapter_dir=str(output_dir))
            if opts.output_image:
                reporter.update(phase="Pushing")
                push_adapter(
                    output_dir,
                    opts.output_image,
                    creds,
                    insecure=opts.insecure_registry,
                    attempts=opts.push_attempts,
                    backoff_s=opts.push_backoff_s,
                    annotations={"sh.kaito.tuning.method": cfg.method},
                )
        reporter.update(phase="Succeeded", message=None, eta_seconds=0.0)
        return 0
    except TuningError as e:
        log_event(log, str(e), logging.ERROR, reason=e.reason)
        reporter.update(phase="Failed", reason=e.reason, message=str(e))
        return 1
    except Exception as e:
        log.exception("tuning job failed")
        reporter.update(phase="Failed", reason="InternalError", message=f"{type(e).__name__}: {e}")
        return 1
