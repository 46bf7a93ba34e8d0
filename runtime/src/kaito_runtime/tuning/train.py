"""Runs transformers' Trainer on the prepared examples: checkpoints, resume and progress reporting.

Checkpoints go to ``<output_dir>/checkpoint-<step>``; a restarted job resumes from the newest
complete one (one whose ``trainer_state.json`` was written, so a checkpoint cut short by a kill is
passed over). Progress (step, epoch, loss, ETA) goes to the status reporter on every step.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import torch
from transformers import (
    DataCollatorForSeq2Seq,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
)
from transformers import TrainingArguments as HFTrainingArguments
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from kaito_runtime.tuning.config import TrainingConfig
from kaito_runtime.tuning.jsonlog import log_event
from kaito_runtime.tuning.status import StatusReporter

log = logging.getLogger("kaito.tuning.train")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def hf_training_arguments(cfg: TrainingConfig, output_dir: Path) -> HFTrainingArguments:
    """transformers TrainingArguments from the config; CPU when there is no GPU, no external reporting."""
    t = cfg.training
    return HFTrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=t.num_train_epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler_type,
        warmup_steps=t.warmup_steps,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        optim=t.optim,
        save_strategy=t.save_strategy,
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        eval_strategy=t.eval_strategy,
        eval_steps=t.eval_steps,
        logging_strategy="steps",
        logging_steps=t.logging_steps,
        seed=t.seed,
        bf16=t.bf16,
        fp16=t.fp16,
        gradient_checkpointing=t.gradient_checkpointing,
        ddp_find_unused_parameters=t.ddp_find_unused_parameters,
        dataloader_num_workers=t.dataloader_num_workers,
        use_cpu=not torch.cuda.is_available(),
        report_to=[],
        disable_tqdm=True,
        remove_unused_columns=False,
        label_names=["labels"],
    )


def last_complete_checkpoint(output_dir: Path) -> Path | None:
    """The newest ``checkpoint-N`` folder that holds a trainer_state.json, or None."""
    best: tuple[int, Path] | None = None
    if not output_dir.is_dir():
        return None
    for p in output_dir.iterdir():
        m = _CHECKPOINT.match(p.name)
        if m and p.is_dir() and (p / "trainer_state.json").is_file():
            step = int(m.group(1))
            if best is None or step > best[0]:
                best = (step, p)
    return best[1] if best else None


class _ListDataset(torch.utils.data.Dataset[dict[str, list[int]]]):
    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.rows[i]


class ProgressReporter(TrainerCallback):
    """Sends step, epoch, loss, throughput and ETA to the status reporter."""

    def __init__(self, reporter: StatusReporter, samples_per_step: int) -> None:
        self.reporter = reporter
        self.samples_per_step = samples_per_step
        self.t0 = 0.0
        self.first_step = 0

    def on_train_begin(
        self, args: HFTrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.t0 = time.monotonic()
        self.first_step = state.global_step
        self.reporter.update(phase="Training", step=state.global_step, max_steps=state.max_steps)

    def on_step_end(
        self, args: HFTrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        done = state.global_step - self.first_step
        elapsed = time.monotonic() - self.t0
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (state.max_steps - state.global_step) / rate if rate > 0 else None
        self.reporter.update(
            log=False,
            step=state.global_step,
            max_steps=state.max_steps,
            epoch=round(state.epoch or 0.0, 4),
            eta_seconds=round(eta, 1) if eta is not None else None,
            samples_per_second=round(rate * self.samples_per_step, 3),
        )

    def on_log(
        self,
        args: HFTrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kw: Any,
    ) -> None:
        logs = logs or {}
        fields: dict[str, Any] = {}
        if "loss" in logs:
            fields["loss"] = round(float(logs["loss"]), 6)
        if "eval_loss" in logs:
            fields["eval_loss"] = round(float(logs["eval_loss"]), 6)
        if not fields:
            return
        self.reporter.update(log=False, **fields)
        s = self.reporter.status
        log_event(
            log,
            "progress",
            step=state.global_step,
            max_steps=state.max_steps,
            epoch=round(state.epoch or 0.0, 4),
            eta_seconds=s.eta_seconds,
            samples_per_second=s.samples_per_second,
            **fields,
        )


def build_trainer(
    model: Any,
    tokenizer: Any,
    args: HFTrainingArguments,
    train: list[dict[str, list[int]]],
    evals: list[dict[str, list[int]]],
    reporter: StatusReporter,
) -> Trainer:
    """A Trainer with our dataset, a padding collator (labels padded with -100) and progress reporting."""
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    samples_per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=_ListDataset(train),
        eval_dataset=_ListDataset(evals) if evals else None,
        data_collator=collator,
        callbacks=[ProgressReporter(reporter, samples_per_step)],
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer
