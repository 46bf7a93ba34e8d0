"""KAITO's inference server: a transformers model behind KAITO's /chat and an OpenAI-compatible API.

Modules: ``config`` (command line), ``loader`` (model, tokenizer, chat template), ``adapters`` (PEFT
adapters), ``schemas`` (request and response bodies), ``sampling`` (per-request logits processing),
``runner`` (the model and its KV cache), ``engine`` (dynamic batching), ``server`` (aiohttp routes),
``metrics`` (Prometheus), ``distributed`` (torchrun ranks), ``main`` (process entry point).
"""
