"""Reads the input files (parquet, jsonl, json, csv) into chats and tokenizes them with the chat template.

Three row shapes are understood: a chat ``messages`` list of ``{role, content}`` (like
dolly-15k-oai-style), ``prompt``/``completion``, and ``instruction``/``context``/``response``
(column names come from DatasetConfig). Every row that cannot be used is counted under its reason
and reported; a file with no usable row fails with the reasons.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaito_runtime.tuning.config import DataFormat, DatasetConfig
from kaito_runtime.tuning.errors import DataError

Chat = list[dict[str, str]]
ROLES = {"system", "user", "assistant"}
EXTENSIONS: dict[str, DataFormat] = {
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
}


@dataclass
class DataReport:
    """Counts of rows read, used, truncated and skipped (by reason)."""

    rows_total: int = 0
    rows_used: int = 0
    rows_truncated: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def rows_skipped(self) -> int:
        """How many rows were left out."""
        return sum(self.skipped.values())


@dataclass
class PreparedData:
    """Tokenized train and eval examples (input_ids, attention_mask, labels) and the report."""

    train: list[dict[str, list[int]]]
    eval: list[dict[str, list[int]]]
    report: DataReport


def detect_format(path: Path, configured: DataFormat) -> DataFormat:
    """The configured format, or the one the file's extension names."""
    if configured != "auto":
        return configured
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path.name}: cannot tell the format from the extension {path.suffix!r}; "
            f"use one of {', '.join(sorted(EXTENSIONS))} or set DatasetConfig.format"
        )
    return fmt


def read_rows(path: Path, fmt: DataFormat) -> tuple[list[Any], Counter[str]]:
    """Reads a file's rows as Python objects; unreadable lines of a jsonl file are counted, not fatal."""
    bad: Counter[str] = Counter()
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist(), bad
        if fmt == "csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path).to_pylist(), bad
        if fmt == "jsonl":
            rows: list[Any] = []
            with path.open(encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        bad["invalid JSON line"] += 1
            return rows, bad
        if fmt == "json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, list):
                raise DataError(
                    f"{path.name}: a .json file must hold a list of rows, got {type(data).__name__}"
                )
            return data, bad
    except DataError:
        raise
    except (OSError, ValueError) as e:
        raise DataError(f"{path.name}: cannot read as {fmt}: {e}") from None
    raise DataError(f"{path.name}: unsupported format {fmt!r}")


def detect_schema(columns: set[str], cfg: DatasetConfig) -> str:
    """Which row shape a file has, from its columns (or the configured schema)."""
    if cfg.schema != "auto":
        return cfg.schema
    if cfg.messages_column in columns:
        return "messages"
    if {cfg.prompt_column, cfg.completion_column} <= columns:
        return "prompt_completion"
    if {cfg.instruction_column, cfg.response_column} <= columns:
        return "instruction"
    raise DataError(
        f"no known schema in columns {sorted(columns)}: expected '{cfg.messages_column}', "
        f"'{cfg.prompt_column}'+'{cfg.completion_column}' or "
        f"'{cfg.instruction_column}'+'{cfg.response_column}' "
        "(see DatasetConfig column names)"
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def row_to_chat(row: Any, schema: str, cfg: DatasetConfig) -> Chat | str:
    """The chat for one row, or the reason it cannot be used."""
    if not isinstance(row, dict):
        return "row is not an object"
    chat: Chat = []
    if schema == "messages":
        msgs = row.get(cfg.messages_column)
        if isinstance(msgs, str):
            try:
                msgs = json.loads(msgs)
            except json.JSONDecodeError:
                return f"'{cfg.messages_column}' is not a list"
        if not isinstance(msgs, list) or not msgs:
            return f"'{cfg.messages_column}' is missing or empty"
        for m in msgs:
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                return "a message has no valid role (system, user, assistant)"
            if _text(m.get("content")) is None:
                if m["role"] == "system":
                    continue  # an empty system turn says nothing (Dolly rows without context have one)
                return "a message has empty content"
            chat.append({"role": m["role"], "content": m["content"]})
    elif schema == "prompt_completion":
        prompt, completion = _text(row.get(cfg.prompt_column)), _text(row.get(cfg.completion_column))
        if prompt is None or completion is None:
            return f"'{cfg.prompt_column}' or '{cfg.completion_column}' is missing or empty"
        chat = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    else:
        instruction, response = _text(row.get(cfg.instruction_column)), _text(row.get(cfg.response_column))
        if instruction is None or response is None:
            return f"'{cfg.instruction_column}' or '{cfg.response_column}' is missing or empty"
        context = _text(row.get(cfg.context_column))
        user = f"{instruction}\n\n{context}" if context else instruction
        chat = [{"role": "user", "content": user}, {"role": "assistant", "content": response}]
    if not any(m["role"] == "assistant" for m in chat):
        return "no assistant message"
    if cfg.system_prompt and chat[0]["role"] != "system":
        chat.insert(0, {"role": "system", "content": cfg.system_prompt})
    return chat


def load_chats(files: list[Path], cfg: DatasetConfig, report: DataReport) -> list[Chat]:
    """All usable chats of all files; a file without one usable row is an error with the reasons."""
    if not files:
        raise DataError("no input files: give input URLs or put files in the data directory")
    chats: list[Chat] = []
    for path in files:
        rows, skipped = read_rows(path, detect_format(path, cfg.format))
        if not rows:
            what = ", ".join(f"{n} {why}" for why, n in skipped.items()) or "the file has no rows"
            raise DataError(f"{path.name}: no usable rows: {what}")
        columns: set[str] = set()
        for r in rows[:100]:
            if isinstance(r, dict):
                columns |= set(r)
        try:
            schema = detect_schema(columns, cfg)
        except DataError as e:
            raise DataError(f"{path.name}: {e}") from None
        usable = 0
        for row in rows:
            result = row_to_chat(row, schema, cfg)
            if isinstance(result, str):
                skipped[result] += 1
            else:
                chats.append(result)
                usable += 1
        report.rows_total += len(rows) + skipped["invalid JSON line"]
        report.skipped.update(skipped)
        if usable == 0:
            reasons = ", ".join(f"{n} {why}" for why, n in skipped.most_common()) or "the file has no rows"
            raise DataError(f"{path.name}: no usable rows ({schema} schema): {reasons}")
    return chats


def tokenize_chats(
    chats: list[Chat], tokenizer: Any, max_len: int, report: DataReport
) -> list[dict[str, list[int]]]:
    """Renders each chat with the tokenizer's chat template and tokenizes it (labels = input ids)."""
    if not getattr(tokenizer, "chat_template", None):
        raise DataError("the tokenizer has no chat template; set ModelConfig.chat_template")
    examples = []
    for chat in chats:
        text = tokenizer.apply_chat_template(chat, tokenize=False)
        ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > max_len:
            report.rows_truncated += 1
            ids = ids[:max_len]
        examples.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)})
    report.rows_used += len(examples)
    return examples


def prepare_data(files: list[Path], cfg: DatasetConfig, tokenizer: Any) -> PreparedData:
    """Loads, shuffles, splits and tokenizes the inputs."""
    report = DataReport()
    chats = load_chats(files, cfg, report)
    if cfg.shuffle_dataset:
        random.Random(cfg.shuffle_seed).shuffle(chats)
    n_train = len(chats) if cfg.train_test_split >= 1 else int(len(chats) * cfg.train_test_split)
    if n_train < 1 or (cfg.train_test_split < 1 and n_train == len(chats)):
        raise DataError(
            f"DatasetConfig.train_test_split: {cfg.train_test_split} of {len(chats)} usable rows "
            "leaves the train or eval split empty"
        )
    train = tokenize_chats(chats[:n_train], tokenizer, cfg.max_seq_length, report)
    evals = tokenize_chats(chats[n_train:], tokenizer, cfg.max_seq_length, report)
    return PreparedData(train=train, eval=evals, report=report)
