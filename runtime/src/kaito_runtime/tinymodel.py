"""Builds a tiny random Phi-3 and its tokenizer offline, for tests, benchmarks and the local demo.

No hub is reachable on our machines, so the model is made from a transformers config and a BPE
tokenizer trained in-process on a fixed corpus. The result is a real Phi-3 code path (fused qkv and
gate_up projections, chat template, safetensors on disk) that loads with the Auto* classes, but its
weights are random: callers assert on shapes, token counts and determinism, never on content.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)

_CORPUS = [
    "Kubernetes schedules pods onto nodes that have the resources they request.",
    "A workspace names the GPU instance type and the model preset to run.",
    "The operator creates machines, waits for the nodes, then deploys the model.",
    "Fine tuning with LoRA trains small adapter matrices beside frozen weights.",
    "QLoRA quantizes the base model to four bits and trains adapters in higher precision.",
    "The inference server answers chat requests with generated text.",
    "What is the capital of France? The capital of France is Paris.",
    "Write a haiku about autumn leaves falling on a quiet river.",
    "Explain the difference between a deployment and a statefulset.",
    "Tokens are generated one at a time until the end of sequence token appears.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Adapters can be combined with weights to change the style of answers.",
    "Batching many requests together keeps the accelerator busy and raises throughput.",
    "Status conditions tell the user whether resources and inference are ready.",
    "Numbers like 1 2 3 4 5 6 7 8 9 10 appear in many training examples.",
    "Hello! How can I help you today? I am a helpful assistant.",
    "The dataset contains conversations between a user and an assistant.",
    "Please summarize the following paragraph in one sentence.",
    "Machine learning models learn patterns from examples in their training data.",
    "An image registry stores container images and model adapters as artifacts.",
]


def build_tiny_phi3(
    out_dir: str | Path,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    vocab_size: int = 512,
    max_positions: int = 512,
    seed: int = 0,
) -> Path:
    """Writes a random Phi-3 model and a trained tokenizer with a chat template to ``out_dir``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Phi3Config, Phi3ForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_CORPUS, trainer)
    hf_tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="<|end|>",
        unk_token="<unk>",
        pad_token="<pad>",
    )
    hf_tokenizer.chat_template = CHAT_TEMPLATE
    config = Phi3Config(
        vocab_size=len(hf_tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        original_max_position_embeddings=max_positions,
        pad_token_id=hf_tokenizer.pad_token_id,
        bos_token_id=hf_tokenizer.bos_token_id,
        eos_token_id=hf_tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    Phi3ForCausalLM(config).save_pretrained(out)
    hf_tokenizer.save_pretrained(out)
    return out


def main() -> None:
    """Command line: ``python -m kaito_runtime.tinymodel OUT_DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir")
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args()
    print(build_tiny_phi3(args.out_dir, hidden_size=args.hidden_size, num_layers=args.layers))


if __name__ == "__main__":
    main()
