"""Byte-level BPE: training with Hugging Face `tokenizers`, loading, and conversion to tiktoken.

The tokenizer is GPT-2's kind: the ByteLevel pre-tokenizer (GPT-2's split regex, bytes mapped to
printable characters, no prefix space), a BPE model without an unknown token (every byte is in
the vocabulary) and one special token, `<|endoftext|>`, given the last id as in GPT-2. It is saved
as tokenizer.json, which `transformers.PreTrainedTokenizerFast(tokenizer_file=...)` loads.

For encoding, the same BPE is turned into a tiktoken `Encoding` where that gives the same ids:
tiktoken takes the vocabulary as byte strings ranked by merge priority, and a trained vocabulary's
ids are that ranking (each merge adds the next id). Both engines are run on a sample and the
converted one is only used when every id agrees (see `choose_encoder`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np


logger = logging.getLogger(__name__)

EOT = "<|endoftext|>"
# GPT-2's pre-tokenization regex as tiktoken writes it for gpt2/r50k_base (possessive quantifiers,
# faster, same splits); the ByteLevel pre-tokenizer spells it 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|...
GPT2_PAT_STR = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


@lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    """GPT-2's printable character -> byte table (the inverse of ByteLevel's byte -> character)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def new_bpe_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2, length: int | None = None):
    """A byte-level BPE of at most VOCAB_SIZE ids (the 256 bytes, merges, then EOT last).

    Deterministic for the same texts in the same order. Fewer ids when the texts run out of pairs
    seen at least MIN_FREQUENCY times.
    """
    from tokenizers import pre_tokenizers, trainers

    if vocab_size < 257:
        raise ValueError("vocab_size must be at least 257 (256 bytes and <|endoftext|>)")
    tok = new_bpe_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 1,  # EOT is added afterwards so that it gets the last id, as in GPT-2
        min_frequency=min_frequency,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=length)
    tok.add_special_tokens([EOT])
    return tok


def load_tokenizer(path: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    if tok.token_to_id(EOT) is None:
        raise ValueError(f"{path}: the tokenizer has no {EOT} token")
    return tok


def eot_id(tok) -> int:
    return tok.token_to_id(EOT)


def save_tokenizer(tok, out_dir: Path, original: bytes | None = None) -> Path:
    """tokenizer.json (ORIGINAL's bytes when given, so a reused file keeps its hash) plus a
    tokenizer_config.json so that AutoTokenizer.from_pretrained(DIR) works."""
    out_dir = Path(out_dir)
    path = out_dir / "tokenizer.json"
    if original is not None:
        path.write_bytes(original)
    else:
        tok.save(str(path))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": EOT, "eos_token": EOT, "unk_token": EOT, "clean_up_tokenization_spaces": False}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


# -- tiktoken ------------------------------------------------------------------------------------


class NotConvertible(ValueError):
    """A tokenizer.json whose BPE tiktoken cannot reproduce (the HF engine is used instead)."""


def _merges(model: dict) -> list[tuple[str, str]]:
    out = []
    for m in model.get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        out.append((a, b))
    return out


def tiktoken_ranks(tokenizer_json: str) -> tuple[dict[bytes, int], dict[str, int]]:
    """(mergeable_ranks, special_tokens) for tiktoken, or NotConvertible saying why not."""
    spec = json.loads(tokenizer_json)
    model, pre = spec.get("model") or {}, spec.get("pre_tokenizer") or {}
    if model.get("type") != "BPE":
        raise NotConvertible(f"model is {model.get('type')}, not BPE")
    for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix", "byte_fallback"):
        if model.get(key):
            raise NotConvertible(f"BPE option {key}={model.get(key)!r}")
    if spec.get("normalizer") is not None:
        raise NotConvertible("has a normalizer")
    if pre.get("type") != "ByteLevel" or pre.get("add_prefix_space") or not pre.get("use_regex", True):
        raise NotConvertible(f"pre-tokenizer is not GPT-2's ByteLevel: {pre}")
    decode = byte_decoder()
    added = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
    plain = [t["content"] for t in spec.get("added_tokens", []) if not t.get("special")]
    if plain:
        # tokenizers finds added tokens inside ordinary text; tiktoken's encode_ordinary does not.
        raise NotConvertible(f"added tokens that are not special: {plain[:3]}")
    ranks: dict[bytes, int] = {}
    try:
        for token, idx in model["vocab"].items():
            if token in added:
                continue
            ranks[bytes(decode[c] for c in token)] = idx
    except KeyError as exc:
        raise NotConvertible(f"vocabulary entry with a character outside the byte alphabet: {exc}") from None
    if len(set(ranks.values())) != len(ranks):
        raise NotConvertible("two vocabulary entries map to the same bytes")
    if any(bytes([b]) not in ranks for b in range(256)):
        raise NotConvertible("not every byte is in the vocabulary")
    # tiktoken merges the adjacent pair whose concatenation has the lowest id; HF merges the pair
    # that comes first in the merge list. Equal when the merges' results have increasing ids.
    previous = -1
    for a, b in _merges(model):
        merged = model["vocab"].get(a + b)
        if merged is None or merged <= previous:
            raise NotConvertible(f"merge {a!r} + {b!r} does not produce the next-ranked token")
        previous = merged
    # tiktoken takes a piece found whole in the vocabulary as one token; without ignore_merges HF
    # reaches tokens only through merges, so every non-byte entry must be some merge's result.
    if not model.get("ignore_merges") and len(ranks) - 256 != len(_merges(model)):
        raise NotConvertible("vocabulary entries that no merge produces")
    return ranks, added


def to_tiktoken(tokenizer_json: str, name: str = "ernte-bpe"):
    """The tokenizer as a tiktoken Encoding (raises NotConvertible)."""
    import tiktoken

    ranks, special = tiktoken_ranks(tokenizer_json)
    return tiktoken.Encoding(name, pat_str=GPT2_PAT_STR, mergeable_ranks=ranks, special_tokens=special)


# -- encoders --------------------------------------------------------------------------------------


class Encoder:
    """Encodes documents to id arrays (special-token text is encoded as ordinary text)."""

    backend = ""

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        raise NotImplementedError


class TiktokenEncoder(Encoder):
    backend = "tiktoken"

    def __init__(self, tokenizer_json: str):
        self.encoding = to_tiktoken(tokenizer_json)

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        # With no special token allowed or disallowed this is encode_ordinary, returned as a uint32
        # array instead of a Python list.
        encode = self.encoding.encode_to_numpy
        return [encode(t, disallowed_special=()) for t in texts]


class HFEncoder(Encoder):
    backend = "hf"

    def __init__(self, tokenizer_json: str):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.tokenizer.encode_special_tokens = True  # "<|endoftext|>" inside a document is text, not EOT

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        encodings = self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.uint32) for e in encodings]


ENCODERS = {"tiktoken": TiktokenEncoder, "hf": HFEncoder}


@dataclass
class EncoderChoice:
    backend: str
    reason: str
    checked_documents: int = 0
    checked_bytes: int = 0
    mismatched_documents: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def compare_encoders(a: Encoder, b: Encoder, texts: Sequence[str]) -> int:
    """How many of TEXTS the two encoders give different ids for."""
    return sum(not np.array_equal(x, y) for x, y in zip(a.encode_batch(texts), b.encode_batch(texts)))


def choose_encoder(tokenizer_json: str, sample: Iterable[str], wanted: str = "auto") -> EncoderChoice:
    """tiktoken where it reproduces the HF ids on every sample document, else HF.

    WANTED "hf" always gives HF; "tiktoken" insists (the check still runs; a mismatch is an error).
    """
    if wanted == "hf":
        return EncoderChoice("hf", "configured")
    try:
        fast = TiktokenEncoder(tokenizer_json)
    except NotConvertible as exc:
        if wanted == "tiktoken":
            raise
        return EncoderChoice("hf", f"not convertible to tiktoken: {exc}")
    reference = HFEncoder(tokenizer_json)
    texts = list(sample)
    mismatched = compare_encoders(fast, reference, texts)
    checked = EncoderChoice("tiktoken", "ids identical to tokenizers on the sample", len(texts), sum(len(t.encode("utf-8")) for t in texts), mismatched)
    if mismatched:
        if wanted == "tiktoken":
            raise NotConvertible(f"tiktoken gives different ids on {mismatched} of {len(texts)} sample documents")
        logger.warning("tiktoken conversion differs from tokenizers on %d of %d sample documents; encoding with tokenizers", mismatched, len(texts))
        checked.backend, checked.reason = "hf", "tiktoken ids differ on the sample"
    return checked


def sample_texts(texts: Iterable[str], max_docs: int, max_bytes: int) -> Iterator[str]:
    """The first documents up to MAX_DOCS / about MAX_BYTES (each text cut to 64 KiB)."""
    used = 0
    for i, text in enumerate(texts):
        if i >= max_docs or used >= max_bytes:
            return
        text = text[: 64 * 1024]
        used += len(text)
        yield text
