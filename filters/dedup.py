"""Per-document deduplication signals: an exact hash of normalised text and MinHash LSH band keys.

FineWeb's parameters by default: word 5-grams, 14 bands x 8 rows (112 permutations), seed 1,
signatures from datasketch's MinHash. Two documents are near-duplicate candidates when they share
any band key; clustering over the whole dataset happens in `pipeline/dedup_index.py`.

Normalisation follows datatrove's TextNormConfig as FineWeb used it: lower case, Unicode
diacritics removed, digits mapped to 0, punctuation removed, whitespace collapsed. Word splitting
is on whitespace; text without spaces (Japanese, Chinese, Thai) has character n-grams instead,
since one 'word' per sentence would make every sentence a shingle.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import types
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Pinned: signatures of different datasketch schemes are not comparable, and the index persists.
MINHASH_SCHEME = "affine32"
_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_DIGITS = re.compile(r"\d")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class DedupConfig:
    ngram: int = 5
    bands: int = 14
    rows: int = 8
    seed: int = 1
    # Fewer than this many spaces per 100 characters: treat as a script without word spaces.
    min_spaces_per_100_chars: float = 8.0  # English has ~16, German ~13; Japanese with punctuation ~5

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


@dataclass(frozen=True)
class DedupSignals:
    exact_hash: str  # blake2b-128 of the normalised text, hex
    band_keys: tuple[bytes, ...]  # one 8-byte key per band; empty when the text has no shingle


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _DIGITS.sub("0", text)
    text = _PUNCT.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def shingles(normalized: str, config: DedupConfig) -> list[bytes]:
    if not normalized:
        return []
    spaces = normalized.count(" ")
    if spaces * 100 < config.min_spaces_per_100_chars * len(normalized):
        units: list[str] = list(normalized.replace(" ", ""))
        joiner = ""
    else:
        units = normalized.split(" ")
        joiner = " "
    n = config.ngram
    if len(units) < n:
        return [joiner.join(units).encode("utf-8")]
    return list(dict.fromkeys(joiner.join(units[i : i + n]).encode("utf-8") for i in range(len(units) - n + 1)))


@lru_cache(maxsize=1)
def _minhash_class():
    """datasketch's MinHash, imported without the rest of datasketch where possible.

    The `datasketch` package's __init__ imports every sketch it has: its LSH modules import
    `scipy.integrate` for their parameter optimiser, its asyncio LSH imports redis; 0.1-0.6 s,
    paid again by every worker process. Only `datasketch.minhash` (and `datasketch.hashfunc`, which
    it imports) is needed here, so unless datasketch is already imported, those two modules are
    loaded from the installed package under a stand-in package module that has only their search
    path; the stand-in is removed straight after. A later `import datasketch` runs the real
    __init__, which finds the same `datasketch.minhash` module, so there is one MinHash class.
    """
    if "datasketch" in sys.modules:
        from datasketch import MinHash

        return MinHash
    spec = importlib.util.find_spec("datasketch")
    stand_in = types.ModuleType("datasketch")
    stand_in.__path__ = list(spec.submodule_search_locations)
    sys.modules["datasketch"] = stand_in
    try:
        from datasketch.minhash import MinHash
    finally:
        if sys.modules.get("datasketch") is stand_in:
            del sys.modules["datasketch"]
    return MinHash


@lru_cache(maxsize=4)
def _template(num_perm: int, seed: int):
    return _minhash_class()(num_perm=num_perm, seed=seed, scheme=MINHASH_SCHEME)  # permutations generated once per process


def minhash_signature(shingle_list: list[bytes], config: DedupConfig) -> np.ndarray:
    template = _template(config.num_perm, config.seed)
    MinHash = _minhash_class()
    minhash = MinHash(num_perm=config.num_perm, seed=config.seed, permutations=template.permutations, scheme=MINHASH_SCHEME)
    minhash.update_batch(shingle_list)
    return minhash.hashvalues


def band_keys(signature: np.ndarray, config: DedupConfig) -> tuple[bytes, ...]:
    keys = []
    for band in range(config.bands):
        chunk = np.ascontiguousarray(signature[band * config.rows : (band + 1) * config.rows], dtype=np.uint64)
        # The band number is part of the key: equal rows in different bands are no evidence.
        keys.append(hashlib.blake2b(band.to_bytes(2, "little") + chunk.tobytes(), digest_size=8).digest())
    return tuple(keys)


def dedup_signals(text: str, config: DedupConfig = DedupConfig()) -> DedupSignals:
    normalized = normalize(text)
    exact = hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).hexdigest()
    found = shingles(normalized, config)
    if not found:
        return DedupSignals(exact, ())
    return DedupSignals(exact, band_keys(minhash_signature(found, config), config))
