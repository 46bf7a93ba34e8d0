"""Per-sequence sampling: the parameters one sequence is generated with, and the choice of its next token.

Each sequence in a batch keeps its own parameters and its own random generator, so its tokens do not
depend on which other requests share the batch (and a seeded request is reproducible). The logits
warpers are transformers' own; presence and frequency penalties (OpenAI's) and the minimum length are
applied here.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import cast

import torch
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)


@dataclass(frozen=True)
class SamplingParams:
    """How one sequence is generated; validated by the request layer before it gets here."""

    max_new_tokens: int
    min_new_tokens: int = 0
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    typical_p: float = 1.0
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    eos_token_ids: frozenset[int] | None = None
    logit_bias: tuple[tuple[int, float], ...] = field(default=())


class TokenChooser:
    """Chooses the next token of one sequence from its logits."""

    def __init__(self, params: SamplingParams, eos_token_ids: frozenset[int]) -> None:
        self.params = params
        self.eos = sorted(eos_token_ids)
        warpers = LogitsProcessorList()
        if params.repetition_penalty != 1.0:
            warpers.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
        sampling = params.do_sample and params.temperature > 0
        if sampling:
            if params.temperature != 1.0:
                warpers.append(TemperatureLogitsWarper(params.temperature))
            if params.top_k > 0:
                warpers.append(TopKLogitsWarper(params.top_k))
            if params.top_p < 1.0:
                warpers.append(TopPLogitsWarper(params.top_p))
            if params.typical_p < 1.0:
                warpers.append(TypicalLogitsWarper(params.typical_p))
        self.sampling = sampling
        self.warpers = warpers
        self.generator: torch.Generator | None = None
        if sampling:
            seed = params.seed if params.seed is not None else random.getrandbits(63)
            self.generator = torch.Generator().manual_seed(seed)
        self.plain_greedy = not sampling and not warpers and not self._needs_adjusting()

    def _needs_adjusting(self) -> bool:
        p = self.params
        return bool(p.min_new_tokens or p.presence_penalty or p.frequency_penalty or p.logit_bias)

    def choose(self, logits: torch.Tensor, prompt: list[int], generated: list[int]) -> int:
        """The next token, given this sequence's last-position logits (shape [vocab])."""
        scores = logits.float().unsqueeze(0)
        p = self.params
        if self._needs_adjusting():
            scores = scores.clone()
            if len(generated) < p.min_new_tokens and self.eos:
                scores[0, self.eos] = float("-inf")
            if generated and (p.presence_penalty or p.frequency_penalty):
                seen = Counter(generated)
                ids = torch.tensor(list(seen))
                counts = torch.tensor(list(seen.values()), dtype=torch.float32)
                scores[0, ids] -= p.frequency_penalty * counts + p.presence_penalty
            for token, bias in p.logit_bias:
                scores[0, token] += bias
        if self.warpers:
            history = cast(torch.LongTensor, torch.tensor([prompt + generated], dtype=torch.long))
            scores = self.warpers(history, scores)
        if not self.sampling:
            return int(scores.argmax(-1).item())
        probs = torch.softmax(scores, dim=-1)
        return int(torch.multinomial(probs.cpu(), 1, generator=self.generator).item())
