"""`ernte evaluate` and the memorization audit's pieces: bits per byte on a known case, canaries
that repeat, exact-reproduction counts with a real tiny model that memorized a canary and an
untrained one that did not, and the command's exit codes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from pipeline.cli import main  # noqa: E402
from pipeline.config import TrainConfig  # noqa: E402
from training.evaluate import EVAL_FILE, REFERENCE_DIR, bits_per_byte, document_stream, score_stream  # noqa: E402
from training.memorization import canary_text, deduplicate, make_canaries, plant, reproduced  # noqa: E402
from training.model import GPT, GPTConfig  # noqa: E402
from training.token_shards import ShardWriter, format_for_vocab  # noqa: E402
from training.tokenizer import eot_id, save_tokenizer, train_bpe  # noqa: E402
from training.train import run_train  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- bits per byte --------------------------------------------------------------------------------


class _Uniform(torch.nn.Module):
    """A real module whose logits are all zero: every target costs ln(V) nats."""

    def __init__(self, vocab: int, block_size: int):
        super().__init__()
        self.config = GPTConfig(vocab_size=vocab, block_size=block_size, n_layer=1, n_head=1, n_embd=8)
        self.vocab = vocab

    def forward(self, idx, targets=None):
        return torch.zeros(*idx.shape, self.vocab), None


def test_bits_per_byte_known_case():
    # A uniform model over 256 byte tokens: 8 bits per token; each token one byte -> 8 bits/byte.
    ids = np.arange(101) % 256
    total, n_tok, n_bytes = score_stream(_Uniform(256, 16), ids, np.ones(256, dtype=np.int64), batch_size=3)
    assert n_tok == 100 and n_bytes == 100  # windows overlap by one token: every token but the first is a target once
    assert total == pytest.approx(100 * math.log(256))
    assert bits_per_byte(total, n_bytes) == pytest.approx(8.0)
    # Two bytes per token halves it; no bytes: undefined.
    assert bits_per_byte(total, 2 * n_bytes) == pytest.approx(4.0)
    assert bits_per_byte(total, 0) is None
    # max_tokens caps the targets.
    assert score_stream(_Uniform(256, 16), ids, None, max_tokens=40)[1:] == (40, 0)


def test_document_stream_puts_eot_before_every_document():
    ids, n = document_stream(["ab", "", "c"], lambda t: [ord(ch) for ch in t], eot=0)
    assert n == 3 and ids.tolist() == [0, 97, 98, 0, 0, 99]


# -- canaries -------------------------------------------------------------------------------------


def _bytes(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def test_canaries_are_deterministic_and_distinct():
    assert canary_text(5) == canary_text(5) and canary_text(5) != canary_text(6)
    a = make_canaries(_bytes, {1: 2, 10: 1}, length=64)
    b = make_canaries(_bytes, {1: 2, 10: 1}, length=64)
    assert [c.text for c in a] == [c.text for c in b]
    assert len({c.text for c in a}) == 3 and [c.repeats for c in a] == [1, 1, 10]
    assert all(len(c.ids) >= 64 for c in a)
    planted = plant(["x y z"] * 3, a, seed=0)
    assert len(planted) == 3 + 1 + 1 + 10 and planted == plant(["x y z"] * 3, a, seed=0)


def test_curation_dedup_collapses_repeated_canaries():
    canaries = make_canaries(_bytes, {1: 2, 10: 2, 100: 1}, length=64)
    background = [canary_text(900 + i, 80) for i in range(5)]
    kept = deduplicate(plant(background, canaries))
    assert sorted(kept) == sorted(background + [c.text for c in canaries])


@pytest.fixture(scope="module")
def memorizer():
    """A real tiny GPT trained for 80 steps on one canary, repeated: it memorizes it."""
    torch.manual_seed(0)
    canary = make_canaries(_bytes, {100: 1}, length=64)[0]
    model = GPT(GPTConfig(vocab_size=257, block_size=64, n_layer=1, n_head=2, n_embd=32))
    ids = torch.tensor([256, *canary.ids[:64]])
    x, y = ids[:-1].unsqueeze(0), ids[1:].unsqueeze(0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(80):
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, canary


def test_reproduction_counts_a_memorized_canary(memorizer):
    model, canary = memorizer
    other = make_canaries(_bytes, {1: 1}, length=64, first_seed=50)[0]
    assert reproduced(model, [canary, other, canary], eot=256) == [True, False, True]
    # The count is exact: one wrong token in the expected suffix and it no longer counts.
    broken = type(canary)(canary.seed, 1, canary.text, canary.ids[:40] + [(canary.ids[40] + 1) % 256] + canary.ids[41:])
    assert reproduced(model, [broken], eot=256) == [False]
    torch.manual_seed(1)
    untrained = GPT(model.config)
    assert reproduced(untrained, [canary], eot=256) == [False]


# -- ernte evaluate ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    docs = [f"The {a} fox sees the {b} dog near the {c} river." * 3 for a in ("red", "old", "quick") for b in ("lazy", "big") for c in ("dark", "wide")]
    tok = train_bpe(docs, 300)
    tokdir = root / "tok"
    tokdir.mkdir()
    save_tokenizer(tok, tokdir)
    eot = eot_id(tok)
    for split, part in (("train", docs * 5), ("val", docs[:4])):
        w = ShardWriter(tokdir, split, format_for_vocab(tok.get_vocab_size()), 10**6)
        for d in part:
            w.add_document(np.array([eot, *tok.encode(d).ids]))
        w.close()
    (tokdir / "manifest.json").write_text(json.dumps({"tokenizer": {"vocab_size": tok.get_vocab_size(), "eot_id": eot}}))
    out = root / "model"
    run_train(tokdir, out, TrainConfig(preset="tiny", max_steps=4, batch_size=4, warmup_steps=1, eval_interval=4, eval_batches=1, checkpoint_interval=4, device="cpu", seed=1))
    (root / "texts").mkdir()
    (root / "texts" / "a.txt").write_text(docs[0])
    return out, tokdir, root


def test_evaluate_cli_writes_eval_json_and_card(small_model):
    out, _, root = small_model
    result = CliRunner().invoke(main, ["evaluate", str(out), "--text-dir", f"mine={root / 'texts'}", "--max-tokens", "500", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / EVAL_FILE).read_text())
    names = [s["name"] for s in record["sets"]]
    assert names == ["val", "mine", "reference"]  # the model's own val split when no --tokens is given
    for s in record["sets"]:
        assert s["tokens"] > 0 and s["bytes"] > 0 and s["bpb"] == pytest.approx(s["loss"] * s["tokens"] / (math.log(2) * s["bytes"]))
    assert "reference" in result.stdout and "bits/byte" in result.stdout
    card = (out / "model_card.md").read_text()
    assert "| reference | reference |" in card and "`ernte evaluate`" in card
    assert len(list(REFERENCE_DIR.glob("*.txt"))) >= 3 and "CC0" in (REFERENCE_DIR / "README.md").read_text()


def test_evaluate_cli_exit_codes(small_model, tmp_path):
    out, tokdir, _ = small_model
    runner = CliRunner()
    no_model = runner.invoke(main, ["evaluate", str(tmp_path)])
    assert no_model.exit_code == 2 and "no model" in no_model.stderr
    missing = runner.invoke(main, ["evaluate", str(out), "--parquet", str(tmp_path / "nope.parquet")])
    assert missing.exit_code == 2 and "not found" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(main, ["evaluate", str(out), "--text-dir", str(tmp_path / "empty"), "--no-reference"])
    assert empty.exit_code == 2 and "holds no text" in empty.stderr
    other = tmp_path / "other"
    other.mkdir()
    for name in ("val_000000.bin",):
        (other / name).write_bytes((tokdir / name).read_bytes())
    (other / "manifest.json").write_text(json.dumps({"tokenizer": {"sha256": "0" * 64}}))
    clash = runner.invoke(main, ["evaluate", str(out), "--tokens", str(other), "--no-reference"])
    assert clash.exit_code == 2 and "another tokenizer" in clash.stderr
