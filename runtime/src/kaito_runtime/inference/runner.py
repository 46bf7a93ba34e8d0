"""The model and the KV cache of the running batch: prefill new sequences, decode one step, drop rows.

Sequences join a running batch between steps. Each joins with its own prompt length, so the batch is
left-padded: the attention mask marks padding, and every row's positions count only its own tokens.
A prefill builds a cache for the new rows and splices it onto the running one (padding whichever is
shorter on the left); finished rows are dropped, and columns that became padding in every remaining
row are trimmed. Every operation is deterministic in its arguments, which is what lets the other
torchrun ranks replay rank 0's operations (``distributed``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers import DynamicCache

BASE_ADAPTER = "__base__"


class ModelRunner:
    """Runs forwards of one causal LM over a batch whose rows join and leave between steps."""

    def __init__(self, model: Any, pad_token_id: int, *, adapters_enabled: bool = False) -> None:
        self.model = model
        self.pad_token_id = pad_token_id
        self.adapters_enabled = adapters_enabled
        self.device: torch.device = next(model.parameters()).device
        self._cache: DynamicCache | None = None
        self._mask: torch.Tensor | None = None  # [rows, cache columns], 1 = real token
        self._next_pos: torch.Tensor | None = None  # [rows], position of each row's next token

    @property
    def rows(self) -> int:
        """Rows in the running batch."""
        return 0 if self._mask is None else int(self._mask.shape[0])

    def reset(self) -> None:
        """Forgets the running batch."""
        self._cache = self._mask = self._next_pos = None

    def idle(self) -> None:
        """Nothing to do locally (the broadcasting wrapper sends a heartbeat)."""

    def prefill(self, prompts: list[list[int]], adapters: list[str] | None = None) -> torch.Tensor:
        """Appends rows for ``prompts``; returns their last-position logits, shape [len(prompts), vocab]."""
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[row, width - len(prompt) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        logits = self._forward(ids, mask, positions, cache, adapters)
        self._splice(cache, mask, torch.tensor([len(p) for p in prompts], dtype=torch.long))
        return logits

    def decode(self, tokens: list[int], adapters: list[str] | None = None) -> torch.Tensor:
        """Feeds one token per running row; returns the next logits, shape [rows, vocab]."""
        if self._cache is None or self._mask is None or self._next_pos is None:
            raise RuntimeError("decode called with no running batch")
        if len(tokens) != self.rows:
            raise ValueError(f"decode got {len(tokens)} tokens for {self.rows} rows")
        ids = torch.tensor(tokens, dtype=torch.long).unsqueeze(-1)
        mask = torch.cat([self._mask, torch.ones((self.rows, 1), dtype=torch.long)], dim=-1)
        logits = self._forward(ids, mask, self._next_pos.unsqueeze(-1), self._cache, adapters)
        self._mask = mask
        self._next_pos = self._next_pos + 1
        return logits

    def keep(self, rows: list[int]) -> None:
        """Keeps only ``rows`` (indices into the running batch, in order) and trims all-padding columns."""
        if self._cache is None or self._mask is None or self._next_pos is None:
            return
        if not rows:
            self.reset()
            return
        if rows == list(range(self.rows)):
            return
        index = torch.tensor(rows, dtype=torch.long)
        mask = self._mask[index]
        start = int((mask.sum(0) > 0).nonzero()[0].item()) if mask.any() else 0
        layers = []
        for keys, values in _states(self._cache):
            layers.append(
                (keys[index.to(keys.device), :, start:, :], values[index.to(values.device), :, start:, :])
            )
        self._cache = DynamicCache(ddp_cache_data=layers)
        self._mask = mask[:, start:]
        self._next_pos = self._next_pos[index]

    def generate(self, input_ids: list[int], kwargs: dict[str, Any], seed: int) -> list[int]:
        """Runs transformers' ``generate`` on one prompt, outside the running batch (beam search and
        other options the batch loop does not implement); returns the new tokens."""
        torch.manual_seed(seed)
        ids = torch.tensor([input_ids], dtype=torch.long, device=self.device)
        extra: dict[str, Any] = {}
        if self.adapters_enabled:
            extra["adapter_names"] = [kwargs.pop("adapter", BASE_ADAPTER)]
        else:
            kwargs.pop("adapter", None)
        out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs, **extra)
        return [int(t) for t in out[0, len(input_ids) :].tolist()]

    def _forward(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        positions: torch.Tensor,
        cache: DynamicCache,
        adapters: list[str] | None,
    ) -> torch.Tensor:
        extra: dict[str, Any] = {}
        if self.adapters_enabled:
            extra["adapter_names"] = adapters or [BASE_ADAPTER] * ids.shape[0]
        out = self.model(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
            **extra,
        )
        logits: torch.Tensor = out.logits[:, -1, :]
        return logits

    def _splice(self, cache: DynamicCache, mask: torch.Tensor, lengths: torch.Tensor) -> None:
        if self._cache is None or self._mask is None or self._next_pos is None:
            self._cache, self._mask, self._next_pos = cache, mask, lengths
            return
        old_width, new_width = self._mask.shape[1], mask.shape[1]
        width = max(old_width, new_width)
        layers = []
        for (old_k, old_v), (new_k, new_v) in zip(_states(self._cache), _states(cache), strict=True):
            keys = torch.cat([_left_pad(old_k, width), _left_pad(new_k, width)], dim=0)
            values = torch.cat([_left_pad(old_v, width), _left_pad(new_v, width)], dim=0)
            layers.append((keys, values))
        self._cache = DynamicCache(ddp_cache_data=layers)
        self._mask = torch.cat(
            [F.pad(self._mask, (width - old_width, 0)), F.pad(mask, (width - new_width, 0))]
        )
        self._next_pos = torch.cat([self._next_pos, lengths])


def _states(cache: DynamicCache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each layer's (keys, values), shape [batch, heads, seq, dim]."""
    layers: list[Any] = list(cache.layers)
    return [(layer.keys, layer.values) for layer in layers]


def _left_pad(states: torch.Tensor, width: int) -> torch.Tensor:
    """Pads [batch, heads, seq, dim] cache states with zeros on the left of the sequence axis."""
    missing = width - states.shape[-2]
    return F.pad(states, (0, 0, missing, 0)) if missing else states
