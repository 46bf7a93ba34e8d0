"""The LoRA/QLoRA tuning job: config from a ConfigMap, data from URLs, adapter to a volume and an OCI image.

Run as ``python -m kaito_runtime.tuning`` or ``kaito-tuning`` (under torchrun for several processes).
Importing this package (and its ``config`` module) does not import torch.
"""
