"""Input files: formats, row shapes, chat-template rendering, counted skips, splits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tuning_helpers import chat_rows, write_chat_parquet

from kaito_runtime.tuning.config import DatasetConfig
from kaito_runtime.tuning.data import prepare_data
from kaito_runtime.tuning.errors import DataError


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    pacsv.write_csv(pa.Table.from_pylist(rows), path)
    return path


def test_parquet_chat_messages_are_rendered_with_the_chat_template(tmp_path: Path, tokenizer: Any) -> None:
    f = write_chat_parquet(tmp_path / "train.parquet", chat_rows(4))
    data = prepare_data([f], DatasetConfig(shuffle_dataset=False), tokenizer)
    assert data.report.rows_used == 4 and not data.eval
    text = tokenizer.decode(data.train[0]["input_ids"])
    assert (
        text == "<|user|>\nWhat is Kubernetes?<|end|>\n<|assistant|>\nThe answer is number 0.<|end|>\n<|end|>"
    )
    assert data.train[0]["labels"] == data.train[0]["input_ids"]


def test_prompt_completion_jsonl_becomes_a_user_assistant_chat(tmp_path: Path, tokenizer: Any) -> None:
    f = _jsonl(tmp_path / "d.jsonl", [{"prompt": "Hello!", "completion": "How can I help you today?"}])
    data = prepare_data([f], DatasetConfig(), tokenizer)
    assert tokenizer.decode(data.train[0]["input_ids"]).startswith(
        "<|user|>\nHello!<|end|>\n<|assistant|>\nHow can"
    )


def test_instruction_context_response_csv_puts_the_context_in_the_user_turn(
    tmp_path: Path, tokenizer: Any
) -> None:
    f = _csv(tmp_path / "d.csv", [{"instruction": "Summarize.", "context": "The fox.", "response": "A fox."}])
    data = prepare_data([f], DatasetConfig(), tokenizer)
    assert "<|user|>\nSummarize.\n\nThe fox.<|end|>" in tokenizer.decode(data.train[0]["input_ids"])


def test_json_list_with_mapped_columns_and_a_system_prompt(tmp_path: Path, tokenizer: Any) -> None:
    f = tmp_path / "d.json"
    f.write_text(json.dumps([{"q": "Hi", "a": "Hello"}]))
    cfg = DatasetConfig(prompt_column="q", completion_column="a", system_prompt="Be brief.")
    data = prepare_data([f], cfg, tokenizer)
    assert tokenizer.decode(data.train[0]["input_ids"]).startswith(
        "<|system|>\nBe brief.<|end|>\n<|user|>\nHi"
    )


def test_unusable_rows_are_counted_by_reason_not_silently_dropped(tmp_path: Path, tokenizer: Any) -> None:
    rows: list[Any] = [
        *chat_rows(3),
        {"messages": []},
        {"messages": [{"role": "user", "content": "only a question"}]},
        {"messages": [{"role": "robot", "content": "beep"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]},
    ]
    f = _jsonl(tmp_path / "d.jsonl", rows)
    with f.open("a") as fh:
        fh.write("{not json\n")
    data = prepare_data([f], DatasetConfig(), tokenizer)
    assert data.report.rows_used == 3 and data.report.rows_total == 8
    assert dict(data.report.skipped) == {
        "'messages' is missing or empty": 1,
        "no assistant message": 1,
        "a message has no valid role (system, user, assistant)": 1,
        "a message has empty content": 1,
        "invalid JSON line": 1,
    }


def test_dolly_style_rows_with_an_empty_system_message_keep_their_chat(
    tmp_path: Path, tokenizer: Any
) -> None:
    # dolly-15k-oai-style: the system turn carries Dolly's context, which is empty for many rows.
    def row(system: str | None, user: str, assistant: str) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
                {"role": "assistant", "content": assistant},
            ]
        }

    rows = [
        row("Virgin Australia commenced services on 31 August 2000.", "When did it start?", "In 2000."),
        row("", "Which is a species of fish?", "Tope."),
        row("   ", "Why can camels survive without water?", "They store fat."),
        row(None, "Name a primary colour.", "Red."),
        row("", "", "An answer to nothing."),
        row("Some context.", "A question nobody answered.", " "),
    ]
    f = write_chat_parquet(tmp_path / "dolly.parquet", rows)
    data = prepare_data([f], DatasetConfig(shuffle_dataset=False), tokenizer)
    assert data.report.rows_used == 4 and data.report.rows_total == 6
    assert dict(data.report.skipped) == {"a message has empty content": 2}
    texts = [tokenizer.decode(e["input_ids"]) for e in data.train]
    assert texts[0].startswith("<|system|>\nVirgin Australia commenced services on 31 August 2000.<|end|>")
    assert texts[1].startswith("<|user|>\nWhich is a species of fish?<|end|>\n<|assistant|>\nTope.")
    assert all("<|system|>" not in t for t in texts[1:])


def test_an_empty_system_message_gives_way_to_the_configured_system_prompt(
    tmp_path: Path, tokenizer: Any
) -> None:
    rows = [{"messages": [{"role": "system", "content": ""}, *chat_rows(1)[0]["messages"]]}]
    f = write_chat_parquet(tmp_path / "d.parquet", rows)
    data = prepare_data([f], DatasetConfig(system_prompt="Be brief."), tokenizer)
    assert tokenizer.decode(data.train[0]["input_ids"]).startswith(
        "<|system|>\nBe brief.<|end|>\n<|user|>\nWhat is Kubernetes?"
    )


def test_long_rows_are_truncated_to_max_seq_length_and_counted(tmp_path: Path, tokenizer: Any) -> None:
    f = write_chat_parquet(tmp_path / "t.parquet", chat_rows(2))
    data = prepare_data([f], DatasetConfig(max_seq_length=8), tokenizer)
    assert all(len(e["input_ids"]) == 8 for e in data.train) and data.report.rows_truncated == 2


def test_train_test_split_holds_out_an_eval_set(tmp_path: Path, tokenizer: Any) -> None:
    f = write_chat_parquet(tmp_path / "t.parquet", chat_rows(10))
    data = prepare_data([f], DatasetConfig(train_test_split=0.8), tokenizer)
    assert (len(data.train), len(data.eval)) == (8, 2)


BAD_FILES = [
    ("empty.jsonl", "", "no usable rows"),
    (
        "nothing.jsonl",
        '{"messages": []}\n{"messages": "x"}\n',
        "no usable rows (messages schema): 1 'messages' is",
    ),
    ("cols.jsonl", '{"foo": 1}\n', "no known schema in columns ['foo']"),
    ("obj.json", '{"messages": []}', "a .json file must hold a list of rows"),
    ("broken.json", "[{", "cannot read as json"),
    ("bad.parquet", "not parquet at all", "cannot read as parquet"),
    ("data.txt", "hello", "cannot tell the format from the extension '.txt'"),
]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_data_files_fail_with_the_reason(
    tmp_path: Path, tokenizer: Any, name: str, content: str, reason: str
) -> None:
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(DataError) as e:
        prepare_data([f], DatasetConfig(), tokenizer)
    assert name in str(e.value) and reason in str(e.value)


def test_a_split_that_leaves_eval_empty_is_an_error(tmp_path: Path, tokenizer: Any) -> None:
    f = write_chat_parquet(tmp_path / "t.parquet", chat_rows(1))
    with pytest.raises(DataError, match=r"train_test_split: 0\.5 of 1 usable rows"):
        prepare_data([f], DatasetConfig(train_test_split=0.5), tokenizer)
