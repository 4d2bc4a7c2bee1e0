"""`ernte tokenize`: BPE training, llm.c token shards, the train/val split, tiktoken conversion, CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import TokenizeConfig
from pipeline.schema import SHARD
from training.encode_worker import normalize_for_overlap, text_key
from training.token_shards import (
    FORMATS,
    HEADER_BYTES,
    ShardFormatError,
    ShardWriter,
    format_for_vocab,
    read_header,
    read_shard,
    split_documents,
    write_shard,
)
from training.tokenize_dataset import (
    TokenizeFailed,
    assign_split,
    run_tokenize,
    val_keep_mask,
)
from training.tokenizer import (
    EOT,
    HFEncoder,
    NotConvertible,
    TiktokenEncoder,
    choose_encoder,
    compare_encoders,
    load_tokenizer,
    tiktoken_ranks,
    train_bpe,
)

WORDS = (
    "the data model curated shard token crawl archive robots policy licence consent Debian package "
    "Paket Verzeichnis Übersetzung straße größer café naïve résumé déjà Ελληνικά русский текст "
    "日本語 テキスト 中文 한국어 العربية हिन्दी"
).split()
ODD = [
    "emoji 😀😀😀 👩‍👩‍👧 🇩🇪 and ZWJ sequences",
    "   leading spaces, \t\ttabs\t and   runs    of   spaces   ",
    "numbers 1234567890 3.14159 1,000,000 -42 ٣٤٥ ⅷ ²³",
    "don't won't I'll we've they're she'd IT'S",
    "\u00a0nbsp\u2003em-space\u200bzero-width\u0085next-line\u2028line-sep",
    "x\u0301\u0302 combining marks é vs e\u0301",
    "\r\n\r\nwindows\r\nlines\n\n\n\nand blank lines\n",
    "<|endoftext|> written inside a document is text, not a separator",
    "a" * 300 + " " + "ab" * 200,
    "",
]


def make_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(20, 120))]
        text = " ".join(words) + f". Document {i} of {n}, {rng.randint(0, 10**6)} items.\n"
        texts.append(text + ODD[i % len(ODD)])
    return texts


def write_curated(directory: Path, texts: list[str], doc_ids: list[str] | None = None, eligible: list | None = None, shards: int = 2) -> Path:
    """A curated directory as `ernte curate` leaves it: shards/*.parquet (SHARD schema) + manifest.json."""
    (directory / "shards").mkdir(parents=True)
    doc_ids = doc_ids or [f"doc-{i:05d}" for i in range(len(texts))]
    # SHARD has train_eligible (consent issue); eligible=None writes shards as older curate runs did, without it.
    schema = SHARD.remove(SHARD.get_field_index("train_eligible")) if eligible is None else SHARD
    rows = [{"doc_id": d, "text": t, "url": f"https://example.org/{d}", "host": "example.org", "lang": "en", "run_id": "run-0001"} for d, t in zip(doc_ids, texts)]
    if eligible is not None:
        for row, flag in zip(rows, eligible):
            row["train_eligible"] = flag
    names = []
    per = max(1, -(-len(rows) // shards))
    for k in range(shards):
        name = f"run-0001-{k:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[k * per : (k + 1) * per], schema=schema), directory / "shards" / name)
        names.append(name)
    manifest = {"ernte_version": "test", "runs": [{"run_id": "run-0001", "outputs": {"shards": names, "provenance": [], "rejected": []}}]}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def config(**kw) -> TokenizeConfig:
    base = {"vocab_size": 600, "workers": 1, "val_fraction": 0.2, "shard_tokens": 3000, "spot_check_docs": 50}
    return TokenizeConfig(**(base | kw))


def read_split(out: Path, split: str) -> np.ndarray:
    files = sorted(out.glob(f"{split}_*.bin"))
    return np.concatenate([np.asarray(read_shard(f)) for f in files]) if files else np.zeros(0, dtype=np.uint16)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return make_texts(120)


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory, texts):
    base = tmp_path_factory.mktemp("tok")
    curated = write_curated(base / "curated", texts)
    summary = run_tokenize(curated, base / "tok", config(), progress=False)
    return curated, base / "tok", summary.manifest


# -- shard format ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["uint16", "uint32"])
def test_shard_header_and_ids_round_trip(tmp_path, name):
    fmt = FORMATS[name]
    ids = np.array([0, 1, 65535, 7] + ([70000, 2**31] if name == "uint32" else []), dtype=fmt.dtype)
    path = tmp_path / "s.bin"
    write_shard(path, ids, fmt)
    header = np.fromfile(path, dtype="<i4", count=256)
    assert (header[0], header[1], header[2]) == ((20240520, 1, len(ids)) if name == "uint16" else (20240801, 7, len(ids)))
    assert not header[3:].any()
    assert path.stat().st_size == HEADER_BYTES + len(ids) * np.dtype(fmt.dtype).itemsize
    assert read_header(path).format is fmt
    assert np.array_equal(read_shard(path), ids)


def test_truncated_or_foreign_shard_is_rejected(tmp_path):
    path = tmp_path / "s.bin"
    write_shard(path, np.arange(10), FORMATS["uint16"])
    with open(path, "r+b") as f:
        f.truncate(HEADER_BYTES + 10)
    with pytest.raises(ShardFormatError, match="header says 10 tokens"):
        read_header(path)
    path.write_bytes(b"\0" * 2048)
    with pytest.raises(ShardFormatError, match="magic"):
        read_header(path)


def test_format_follows_vocabulary_size():
    assert format_for_vocab(50257).name == "uint16"
    assert format_for_vocab(65536).name == "uint16"
    assert format_for_vocab(65537).name == "uint32"


def test_shard_writer_fills_shards_exactly_and_documents_cross_boundaries(tmp_path):
    writer = ShardWriter(tmp_path, "train", FORMATS["uint32"], shard_tokens=5)
    docs = [np.array([9, 70001, 70002]), np.array([9, 1, 2, 3, 4, 5, 6]), np.array([9])]
    where = [writer.add_document(d) for d in docs]
    shards = writer.close()
    assert [s.tokens for s in shards] == [5, 5, 1]
    assert where == [("train_000000.bin", 0), ("train_000000.bin", 3), ("train_000002.bin", 0)]
    stream = np.concatenate([read_shard(tmp_path / s.file) for s in shards])
    assert [d.tolist() for d in split_documents(stream, 9)] == [[70001, 70002], [1, 2, 3, 4, 5, 6], []]


# -- split and deduplication -----------------------------------------------------------------------


def test_split_is_a_deterministic_function_of_doc_id():
    ids = [f"urn:uuid:{i}" for i in range(20000)]
    first = [assign_split(d, 0.1) for d in ids]
    assert first == [assign_split(d, 0.1) for d in ids]
    assert 0.09 < first.count("val") / len(ids) < 0.11
    assert [assign_split(d, 0.1, seed=1) for d in ids] != first
    assert {assign_split(d, 0.0) for d in ids} == {"train"}


def test_val_keeps_neither_copies_of_train_nor_repeats():
    same = text_key("Hello   World\n")
    assert same == text_key("hello world") and normalize_for_overlap("A\u0301  B\n") == "\u00c1b".encode()
    keep, dup = val_keep_mask(np.array([same, text_key("other"), text_key("other"), text_key("new")], dtype=np.uint64), np.array([same], dtype=np.uint64))
    assert keep.tolist() == [False, True, False, True]
    assert dup.tolist() == [True, False, False, False]


# -- the stage -------------------------------------------------------------------------------------


def test_shards_round_trip_to_the_curated_text(tokenized, texts):
    curated, out, manifest = tokenized
    tok = load_tokenizer(out / "tokenizer.json")
    eot = manifest["tokenizer"]["eot_id"]
    assert eot == tok.token_to_id(EOT) == manifest["tokenizer"]["vocab_size"] - 1
    by_id = {f"doc-{i:05d}": t for i, t in enumerate(texts)}
    docs = pq.read_table(out / "documents.parquet").to_pylist()
    for split in ("train", "val"):
        stream = read_split(out, split)
        assert stream[0] == eot  # EOT before every document, llm.c style
        pieces = split_documents(stream, eot)
        expected = [d for d in docs if d["split"] == split]
        assert len(pieces) == len(expected) == manifest["splits"][split]["documents"]
        for piece, row in zip(pieces, expected):
            assert tok.decode(piece.tolist(), skip_special_tokens=False) == by_id[row["doc_id"]]
            assert len(piece) == row["tokens"]
            assert read_shard(out / row["shard"])[row["offset"]] == eot
        assert len(stream) == manifest["splits"][split]["tokens"] == sum(s["tokens"] for s in manifest["splits"][split]["shards"])
    # The literal "<|endoftext|>" inside a document is text: only separators are EOT ids.
    assert sum(len(split_documents(read_split(out, s), eot)) for s in ("train", "val")) == len(texts)


def test_headers_match_files_and_manifest(tokenized):
    _, out, manifest = tokenized
    assert manifest["format"] | {} == {"name": "llm.c", "dtype": "uint16", "magic": 20240520, "version": 1, "header_bytes": 1024, "shard_tokens": 3000, "eot": "before every document"}
    shards = manifest["splits"]["train"]["shards"]
    assert len(shards) > 1 and all(s["tokens"] == 3000 for s in shards[:-1])
    docs = pq.read_table(out / "documents.parquet").to_pylist()
    for split in ("train", "val"):
        for entry in manifest["splits"][split]["shards"]:
            header = read_header(out / entry["file"])
            assert header.tokens == entry["tokens"] and header.format.magic == 20240520
            assert entry["documents"] == sum(d["shard"] == entry["file"] for d in docs)
        assert sum(e["documents"] for e in manifest["splits"][split]["shards"]) == manifest["splits"][split]["documents"]


def test_manifest_names_the_dataset_version_and_hashes(tokenized):
    import hashlib

    curated, out, manifest = tokenized
    assert manifest["source"]["dataset_version"] == "run-0001"
    assert manifest["source"]["manifest_sha256"] == hashlib.sha256((curated / "manifest.json").read_bytes()).hexdigest()
    assert manifest["tokenizer"]["sha256"] == hashlib.sha256((out / "tokenizer.json").read_bytes()).hexdigest()
    for split in ("train", "val"):
        for entry in manifest["splits"][split]["shards"]:
            assert entry["sha256"] == hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest()
    assert manifest["encoding"]["backend"] == "tiktoken" and manifest["encoding"]["mismatched_documents"] == 0
    assert manifest["config"]["vocab_size"] == 600 and manifest["config_sha256"].startswith("sha256:")
    assert {"tokenizers", "tiktoken", "numpy", "ernte"} <= set(manifest["versions"])
    assert {"tokenizer_s", "encode_s", "total_s"} <= set(manifest["timings_s"])


def test_split_follows_the_doc_id_hash(tokenized, texts):
    _, out, _ = tokenized
    docs = pq.read_table(out / "documents.parquet").to_pylist()
    assert sorted(d["doc_id"] for d in docs) == [f"doc-{i:05d}" for i in range(len(texts))]
    for d in docs:
        assert d["split"] == assign_split(d["doc_id"], 0.2)


def test_val_documents_duplicating_train_are_dropped(tmp_path):
    texts = make_texts(60, seed=3)
    ids = [f"doc-{i:05d}" for i in range(60)]
    val_ids = [d for d in ids if assign_split(d, 0.3) == "val"]
    train_ids = [d for d in ids if assign_split(d, 0.3) == "train"]
    assert len(val_ids) >= 3
    by_id = dict(zip(ids, texts))
    relaid = "".join(c.upper() if c.isascii() else c for c in by_id[train_ids[0]]).replace(" ", "\n ")
    by_id[val_ids[0]] = "  " + relaid  # the same text, laid out and capitalised differently
    by_id[val_ids[2]] = by_id[val_ids[1]]  # a repeat inside val
    curated = write_curated(tmp_path / "curated", [by_id[d] for d in ids], ids)
    manifest = run_tokenize(curated, tmp_path / "tok", config(val_fraction=0.3), progress=False).manifest
    docs = {d["doc_id"]: d for d in pq.read_table(tmp_path / "tok" / "documents.parquet").to_pylist()}
    assert docs[val_ids[0]]["split"] == "excluded" and docs[val_ids[0]]["drop_reason"] == "val_duplicate_of_train"
    assert docs[val_ids[1]]["split"] == "val"
    assert docs[val_ids[2]]["drop_reason"] == "val_duplicate"
    assert manifest["splits"]["val"]["dropped_duplicate_of_train"] == 1 and manifest["splits"]["val"]["dropped_duplicate_within_val"] == 1
    train_keys = {text_key(by_id[d]) for d in train_ids}
    assert not [d for d, row in docs.items() if row["split"] == "val" and text_key(by_id[d]) in train_keys]


def test_only_train_eligible_documents_are_tokenized(tmp_path):
    texts = make_texts(40, seed=5)
    eligible = [i % 3 != 0 for i in range(40)]
    eligible[1] = None  # unknown consent is no consent
    curated = write_curated(tmp_path / "curated", texts, eligible=eligible)
    manifest = run_tokenize(curated, tmp_path / "tok", config(), progress=False).manifest
    docs = {d["doc_id"]: d for d in pq.read_table(tmp_path / "tok" / "documents.parquet").to_pylist()}
    excluded = {f"doc-{i:05d}" for i, ok in enumerate(eligible) if ok is not True}
    assert {d for d, row in docs.items() if row["drop_reason"] == "not_train_eligible"} == excluded
    assert manifest["documents"]["excluded_not_train_eligible"] == len(excluded)
    assert manifest["splits"]["train"]["documents"] + manifest["splits"]["val"]["documents"] == 40 - len(excluded)
    assert "train_eligible true" in manifest["source"]["eligibility"]


def test_workers_and_reruns_give_identical_shards(tmp_path, tokenized, texts):
    _, first_out, first = tokenized
    curated = write_curated(tmp_path / "curated", texts)
    out = tmp_path / "tok"
    # Several small chunks on two worker processes, into a directory that held an earlier run.
    (out).mkdir()
    (out / "train_000099.bin").write_bytes(b"stale")
    again = run_tokenize(curated, out, config(workers=2, chunk_bytes=2048), progress=False).manifest
    assert not (out / "train_000099.bin").exists()
    assert again["tokenizer"]["sha256"] == first["tokenizer"]["sha256"]
    for split in ("train", "val"):
        assert [s["sha256"] for s in again["splits"][split]["shards"]] == [s["sha256"] for s in first["splits"][split]["shards"]]


def test_reused_tokenizer_with_more_than_65536_ids_writes_uint32_shards(tmp_path, tokenized, texts):
    _, first_out, _ = tokenized
    tok = load_tokenizer(first_out / "tokenizer.json")
    tok.add_special_tokens([f"<|reserved_{i}|>" for i in range(65536)])
    big = tmp_path / "big.json"
    tok.save(str(big))
    curated = write_curated(tmp_path / "curated", texts[:30])
    manifest = run_tokenize(curated, tmp_path / "tok", config(tokenizer=big, encoder="hf"), progress=False).manifest
    assert manifest["tokenizer"]["trained"] is False and manifest["tokenizer"]["vocab_size"] > 65536
    assert manifest["format"]["dtype"] == "uint32" and manifest["format"]["magic"] == 20240801 and manifest["format"]["version"] == 7
    eot = manifest["tokenizer"]["eot_id"]
    docs = [d for d in pq.read_table(tmp_path / "tok" / "documents.parquet").to_pylist() if d["split"] == "train"]
    pieces = split_documents(read_split(tmp_path / "tok", "train"), eot)
    by_id = {f"doc-{i:05d}": t for i, t in enumerate(texts)}
    assert [tok.decode(p.tolist(), skip_special_tokens=False) for p in pieces] == [by_id[d["doc_id"]] for d in docs]


# -- tokenizer -------------------------------------------------------------------------------------


def test_tokenizer_json_loads_in_transformers_with_the_same_ids(tokenized, texts):
    transformers = pytest.importorskip("transformers")
    _, out, manifest = tokenized
    hf = transformers.PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"))
    auto = transformers.AutoTokenizer.from_pretrained(str(out))
    tok = load_tokenizer(out / "tokenizer.json")
    for text in texts[:20] + ODD[:-3]:
        ids = tok.encode(text).ids
        assert hf.encode(text, add_special_tokens=False) == ids == auto.encode(text, add_special_tokens=False)
        assert hf.decode(ids) == text
    assert hf.convert_tokens_to_ids(EOT) == auto.eos_token_id == manifest["tokenizer"]["eot_id"]


def test_tiktoken_conversion_gives_identical_ids_on_varied_text(texts):
    tok = train_bpe(texts + ODD, 800)
    js = tok.to_str()
    fast, reference = TiktokenEncoder(js), HFEncoder(js)
    rng = random.Random(1)
    probes = ODD + texts[:30] + ["".join(rng.choice(" \t\n.,!?'0123456789aäé漢😀-_") for _ in range(200)) for _ in range(50)]
    assert compare_encoders(fast, reference, probes) == 0
    for text in probes:
        assert tok.decode(fast.encode_batch([text])[0].tolist()) == text


def test_conversion_refuses_what_tiktoken_cannot_reproduce(texts):
    from tokenizers import normalizers

    tok = train_bpe(texts[:40], 400)
    tok.normalizer = normalizers.Lowercase()
    with pytest.raises(NotConvertible, match="normalizer"):
        tiktoken_ranks(tok.to_str())
    tok = train_bpe(texts[:40], 400)
    spec = json.loads(tok.to_str())
    spec["model"]["merges"] = spec["model"]["merges"][::-1]  # merge priority no longer follows the ids
    with pytest.raises(NotConvertible, match="next-ranked"):
        tiktoken_ranks(json.dumps(spec))
    assert choose_encoder(json.dumps(spec), texts[:5]).backend == "hf"


def test_spot_check_falls_back_to_tokenizers_when_ids_differ(monkeypatch, texts):
    tok = train_bpe(texts[:40], 400)
    monkeypatch.setattr(TiktokenEncoder, "encode_batch", lambda self, batch: [np.zeros(1, dtype=np.uint32) for _ in batch])
    choice = choose_encoder(tok.to_str(), texts[:10])
    assert (choice.backend, choice.mismatched_documents, choice.checked_documents) == ("hf", 10, 10)
    with pytest.raises(NotConvertible):
        choose_encoder(tok.to_str(), texts[:10], wanted="tiktoken")


def test_bpe_training_is_deterministic(texts):
    assert train_bpe(texts[:60], 500).to_str() == train_bpe(texts[:60], 500).to_str()


# -- CLI -------------------------------------------------------------------------------------------


def invoke(*args):
    return CliRunner().invoke(main, ["tokenize", *map(str, args)])


def test_cli_exit_codes(tmp_path):
    assert invoke("--help").exit_code == 0
    missing = invoke(tmp_path / "nope", "--out", tmp_path / "o")
    assert missing.exit_code == 2 and "not found" in missing.output
    (tmp_path / "plain").mkdir()
    assert invoke(tmp_path / "plain", "--out", tmp_path / "o").exit_code == 2  # no manifest.json
    empty = write_curated(tmp_path / "empty", [])
    result = invoke(empty, "--out", tmp_path / "o2")
    assert result.exit_code == 1 and "no document" in result.output
    none_eligible = write_curated(tmp_path / "ineligible", ["some text"] * 3, eligible=[False, None, False])
    result = invoke(none_eligible, "--out", tmp_path / "o3")
    assert result.exit_code == 1 and "train-eligible" in result.output
    (tmp_path / "cfg.yaml").write_text("tokenize:\n  vocab_sise: 5\n")
    assert invoke(none_eligible, "--out", tmp_path / "o4", "--config", tmp_path / "cfg.yaml").exit_code == 2
    assert invoke(none_eligible, "--out", tmp_path / "o4", "--vocab-size", "100").exit_code == 2
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    result = invoke(write_curated(tmp_path / "c", make_texts(5)), "--out", tmp_path / "busy")
    assert result.exit_code == 2 and "notes.txt" in result.output


def test_cli_tokenizes_and_reuses_a_tokenizer(tmp_path, tokenized, texts):
    _, first_out, first = tokenized
    curated = write_curated(tmp_path / "curated", texts)
    result = invoke(curated, "--out", tmp_path / "tok", "--tokenizer", first_out / "tokenizer.json", "--workers", "1", "--val-fraction", "0.2", "--shard-tokens", "3000")
    assert result.exit_code == 0, result.output
    assert "train:" in result.output and "reused" in result.output
    manifest = json.loads((tmp_path / "tok" / "manifest.json").read_text())
    assert manifest["tokenizer"]["sha256"] == first["tokenizer"]["sha256"]
    assert [s["sha256"] for s in manifest["splits"]["train"]["shards"]] == [s["sha256"] for s in first["splits"]["train"]["shards"]]


def test_all_documents_in_val_is_a_failure(tmp_path):
    curated = write_curated(tmp_path / "curated", ["one text", "another text"], doc_ids=["a", "b"])
    with pytest.raises(TokenizeFailed, match="val split"):
        run_tokenize(curated, tmp_path / "tok", config(val_fraction=0.999999), progress=False)
