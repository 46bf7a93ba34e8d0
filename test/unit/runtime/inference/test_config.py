"""The command line: defaults, KAITO's spellings, the port, and errors naming the flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaito_runtime.inference.config import parse_args


def test_defaults_match_kaito() -> None:
    config = parse_args([], env={})
    assert config.port == 5000
    assert config.model == "/workspace/tfs/weights"
    assert config.adapters_dir == "/mnt/adapter"
    assert config.dtype == "auto"
    assert config.device_map == "auto"
    assert config.trust_remote_code is False
    assert config.combination_type == "svd"
    assert config.served_model_name == "weights"


def test_port_is_the_base_plus_local_rank() -> None:
    assert parse_args([], env={"LOCAL_RANK": "1"}).port == 5001
    assert parse_args(["--port", "8000"], env={"LOCAL_RANK": "2"}).port == 8002


def test_kaito_spellings_are_accepted() -> None:
    config = parse_args(
        [
            "--torch_dtype=bfloat16",
            "--pipeline=text-generation",
            "--trust_remote_code",
            "--pretrained_model_name_or_path=/m/phi",
            "--served_model_name=phi-3",
        ],
        env={},
    )
    assert (config.dtype, config.trust_remote_code, config.model, config.served_model_name) == (
        "bfloat16",
        True,
        "/m/phi",
        "phi-3",
    )


def test_chat_template_is_inline_or_read_from_a_file(tmp_path: Path) -> None:
    inline = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert parse_args(["--chat-template", inline], env={}).chat_template == inline
    path = tmp_path / "t.jinja"
    path.write_text(inline)
    assert parse_args(["--chat-template", str(path)], env={}).chat_template == inline


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--chat-template", "/no/such/file"], "--chat-template"),
        (["--dtype", "float8"], "--dtype"),
        (["--port", "0"], "--port"),
        (["--max-batch-size", "-1"], "--max-batch-size"),
        (["--adapter-strength", "alpha"], "--adapter-strength"),
        (["--adapter-strength", "alpha=strong"], "--adapter-strength"),
        (["--no-such-flag"], "--no-such-flag"),
    ],
)
def test_bad_flags_exit_with_a_message_naming_the_flag(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv, env={})
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err
