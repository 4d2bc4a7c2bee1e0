"""Memorization audit after Carlini et al. (2023, "Quantifying Memorization Across Neural Language
Models"): canary documents planted in the training data, and a count of those a model reproduces.

A canary is a document of made-up words drawn from a seeded generator: random-looking, so a model
can only continue it by having memorized it, and deterministic, so the audit can be repeated. A
canary counts as reproduced when greedy decoding from its first `prefix` tokens (after the
end-of-text token that starts every document) yields exactly its next `suffix` tokens.

`plant` repeats canaries among other documents; `deduplicate` runs curation's own exact and
MinHash clustering (filters/dedup.py, pipeline/dedup_index.py) over a document list, which is
what collapses the repeats in curated data (Lee et al. 2022).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kl", "st", "tr", "gn", "sk", "pl"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ee", "y"]
_CODAS = ["", "", "n", "r", "s", "k", "l", "m", "x", "th"]


def made_up_word(rng: random.Random) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(rng.randint(1, 3)))


def canary_text(seed: int, words: int = 60) -> str:
    """A canary of WORDS made-up words, a pure function of SEED."""
    rng = random.Random(f"ernte-canary-{seed}")
    return " ".join(made_up_word(rng) for _ in range(words)).capitalize() + "."


@dataclass
class Canary:
    seed: int
    repeats: int
    text: str
    ids: list[int]  # its tokens (without the end-of-text token), at least prefix + suffix


def make_canaries(encode, repeats: dict[int, int], length: int = 64, first_seed: int = 0) -> list[Canary]:
    """Canaries for {repeats: how many canaries}, each at least LENGTH tokens under ENCODE
    (text -> ids); canary seeds are consecutive from FIRST_SEED."""
    out, seed = [], first_seed
    for rep, count in repeats.items():
        for _ in range(count):
            words = 8
            text = canary_text(seed, words)
            while len(encode(text)) < length:  # the shortest canary of whole words that is long enough
                words += 1
                text = canary_text(seed, words)
            out.append(Canary(seed, rep, text, list(encode(text))))
            seed += 1
    return out


def plant(documents: list[str], canaries: list[Canary], seed: int = 0) -> list[str]:
    """DOCUMENTS with every canary added `repeats` times, shuffled deterministically."""
    docs = list(documents) + [c.text for c in canaries for _ in range(c.repeats)]
    random.Random(seed).shuffle(docs)
    return docs


def deduplicate(documents: list[str]) -> list[str]:
    """The documents curation keeps after exact and MinHash near-duplicate clustering: one per cluster."""
    from filters.dedup import dedup_signals
    from pipeline.dedup_index import DedupCandidate, assign_clusters
    from pipeline.schema import DEDUP_INDEX

    ids = [f"doc-{i:08d}" for i in range(len(documents))]
    candidates = []
    for doc_id, text in zip(ids, documents):
        s = dedup_signals(text)
        candidates.append(DedupCandidate(doc_id, None, s.exact_hash, s.band_keys))
    assignments = assign_clusters(candidates, DEDUP_INDEX.empty_table())
    return [text for doc_id, text in zip(ids, documents) if not assignments[doc_id].duplicate]


@torch.no_grad()
def reproduced(model, canaries: list[Canary], eot: int | None, prefix: int = 32, suffix: int = 32, batch_size: int = 32) -> list[bool]:
    """For each canary: does greedy decoding from [EOT] + its first PREFIX tokens give exactly its
    next SUFFIX tokens?"""
    out: list[bool] = []
    device = next(model.parameters()).device
    for i in range(0, len(canaries), batch_size):
        group = canaries[i : i + batch_size]
        head = [eot] if eot is not None else []
        idx = torch.tensor([head + c.ids[:prefix] for c in group], dtype=torch.long, device=device)
        gen = model.generate(idx, suffix, temperature=0.0)[:, idx.size(1) :]
        want = torch.tensor([c.ids[prefix : prefix + suffix] for c in group], dtype=torch.long, device=device)
        out += (gen == want).all(dim=1).tolist()
    return out
