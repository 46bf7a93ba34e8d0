"""Training samples/s of the tuning job's trainer against a plain transformers Trainer, same model and data.

Both sides train the same LoRA on the same tokenized chats of a small random Phi-3 for the same steps,
alternating, best of ``ROUNDS``. The job's side is built with the job's own functions (config →
TrainingArguments, model loading, progress callback writing the status file); the baseline is a bare
Trainer. Target: the job within 5% of the baseline. GPU QLoRA numbers need a GPU (none here).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime" / "src"))

STEPS, BATCH, ROUNDS = 20, 8, 3


def main() -> None:
    import logging

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer
    from transformers import TrainingArguments as HFArgs
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as hf_logging

    from kaito_runtime.tinymodel import build_tiny_phi3
    from kaito_runtime.tuning.config import (
        DatasetConfig,
        LoraConfig,
        ModelConfig,
        TrainingArguments,
        TrainingConfig,
    )
    from kaito_runtime.tuning.data import prepare_data
    from kaito_runtime.tuning.model import add_lora, load_base_model
    from kaito_runtime.tuning.status import StatusReporter
    from kaito_runtime.tuning.train import _ListDataset, build_trainer, hf_training_arguments

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    logging.getLogger("kaito").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-tuning-"))
    model_dir = build_tiny_phi3(tmp / "model", hidden_size=256, num_layers=4)
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        [{"role": "user", "content": f"Question {i}: what is Kubernetes?"},
         {"role": "assistant", "content": "A system that schedules pods onto nodes. " * 3}]
        for i in range(STEPS * BATCH)
    ]  # fmt: skip
    msg_t = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    pq.write_table(pa.table({"messages": pa.array(rows, type=msg_t)}), tmp / "train.parquet")

    cfg = TrainingConfig(
        model=ModelConfig(pretrained_model_name_or_path=str(model_dir), torch_dtype="float32"),
        lora=LoraConfig(r=8, lora_alpha=16),
        training=TrainingArguments(
            max_steps=STEPS,
            per_device_train_batch_size=BATCH,
            learning_rate=1e-3,
            save_strategy="no",
            logging_steps=1,
        ),
        dataset=DatasetConfig(max_seq_length=128, shuffle_dataset=False),
    )
    tok = AutoTokenizer.from_pretrained(model_dir)
    data = prepare_data([tmp / "train.parquet"], cfg.dataset, tok)

    def job_side() -> float:
        args = hf_training_arguments(cfg, tmp / "job-out")
        model = add_lora(load_base_model(cfg), cfg)
        reporter = StatusReporter(tmp / "status.json", logging.getLogger("kaito.bench"))
        trainer = build_trainer(model, tok, args, data.train, data.eval, reporter)
        t0 = time.perf_counter()
        trainer.train()
        return STEPS * BATCH / (time.perf_counter() - t0)

    def baseline_side() -> float:
        from peft import LoraConfig as PeftLora
        from peft import get_peft_model

        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        model = get_peft_model(
            model,
            PeftLora(r=8, lora_alpha=16, task_type="CAUSAL_LM",
                     target_modules=["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]),
        )  # fmt: skip
        args = HFArgs(
            output_dir=str(tmp / "base-out"), max_steps=STEPS, per_device_train_batch_size=BATCH,
            learning_rate=1e-3, save_strategy="no", logging_steps=1, report_to=[], use_cpu=True,
            disable_tqdm=True, remove_unused_columns=False, seed=42,
        )  # fmt: skip
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=_ListDataset(data.train),
            data_collator=DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100),
        )
        trainer.remove_callback(PrinterCallback)  # stdout printing is not part of either loop's work
        t0 = time.perf_counter()
        trainer.train()
        return STEPS * BATCH / (time.perf_counter() - t0)

    job, base = [], []
    for _ in range(ROUNDS):
        base.append(baseline_side())
        job.append(job_side())
    b, j = max(base), max(job)
    print(
        f"model: random Phi-3 hidden 256, 4 layers; LoRA r=8; {STEPS} steps x batch {BATCH}, seq <= 128, CPU"
    )
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"baseline plain Trainer : {b:8.1f} samples/s (rounds: {', '.join(f'{x:.1f}' for x in base)})")
    print(f"kaito tuning job       : {j:8.1f} samples/s (rounds: {', '.join(f'{x:.1f}' for x in job)})")
    print(f"ratio job/baseline     : {j / b:8.3f}  (target >= 0.95)")
    if not torch.cuda.is_available():
        print("GPU QLoRA (samples/s, peak GPU memory): not measured, no GPU on this machine")


if __name__ == "__main__":
    main()
