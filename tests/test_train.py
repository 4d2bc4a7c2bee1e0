"""`ernte train` and `ernte sample` with tiny models on CPU: the loss falls, runs repeat exactly,
--resume continues the same curve, checkpoints load, sampling does what its parameters say."""

from __future__ import annotations

import hashlib
import json
import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from pipeline.cli import main  # noqa: E402
from pipeline.config import TrainConfig  # noqa: E402
from training import checkpoint as ckpt  # noqa: E402
from training.data_loader import BatchLoader, TokenWindows, shard_paths  # noqa: E402
from training.model import GPT, GPTConfig, sample_next  # noqa: E402
from training.token_shards import FORMATS, ShardWriter, format_for_vocab, read_header, write_shard  # noqa: E402
from training.tokenizer import eot_id, load_tokenizer, save_tokenizer, train_bpe  # noqa: E402
from training.train import lr_at, resolved, run_train, token_byte_lengths  # noqa: E402

CURATED_MANIFEST_SHA = "ab" * 32


def _documents(n: int, seed: int) -> list[str]:
    """Sentences from a small grammar: enough structure for a tiny model to learn in a few steps."""
    rng = random.Random(seed)
    adj = "red green quick lazy small big old new bright dark".split()
    noun = "fox dog cat bird tree river house garden mountain field".split()
    verb = "sees chases likes finds follows watches meets helps".split()
    return [" ".join(f"The {rng.choice(adj)} {rng.choice(noun)} {rng.choice(verb)} the {rng.choice(adj)} {rng.choice(noun)}." for _ in range(rng.randint(3, 12))) for _ in range(n)]


@pytest.fixture(scope="module")
def tokdir(tmp_path_factory):
    """A token directory as `ernte tokenize` writes it: tokenizer.json, EOT-prefixed documents in
    llm.c shards (several train shards), manifest.json with the source and tokenizer sections."""
    out = tmp_path_factory.mktemp("tok")
    train_docs, val_docs = _documents(400, 1), _documents(40, 2)
    tok = train_bpe(train_docs, 320)
    save_tokenizer(tok, out)
    eot = eot_id(tok)
    fmt = format_for_vocab(tok.get_vocab_size())
    for split, docs in (("train", train_docs), ("val", val_docs)):
        writer = ShardWriter(out, split, fmt, 20_000)
        for doc in docs:
            writer.add_document(np.array([eot, *tok.encode(doc).ids]))
        writer.close()
    manifest = {
        "kind": "ernte-tokens",
        "source": {"curated_dir": "/data/curated", "dataset_version": "run-20261122-test", "manifest_sha256": CURATED_MANIFEST_SHA},
        "tokenizer": {"file": "tokenizer.json", "sha256": hashlib.sha256((out / "tokenizer.json").read_bytes()).hexdigest(), "vocab_size": tok.get_vocab_size(), "eot_id": eot},
    }
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return out


def _cfg(**kw) -> TrainConfig:
    base = dict(preset="tiny", batch_size=8, max_steps=10, lr=3e-3, warmup_steps=2, eval_interval=5, eval_batches=2, checkpoint_interval=5, device="cpu", seed=7)
    return TrainConfig(**(base | kw))


def _metrics(modeldir) -> list[dict]:
    return [json.loads(line) for line in (modeldir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny matmuls gain nothing from threads, and on a busy 2-core machine spinning OpenMP
    # threads make steps erratic. Determinism tests compare runs in one process, same threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tokdir, tmp_path_factory):
    """A tiny model trained for 40 steps (shared by the tests that only read its directory)."""
    out = tmp_path_factory.mktemp("model") / "m"
    torch.set_num_threads(1)
    summary = run_train(tokdir, out, _cfg(max_steps=40, eval_interval=20, checkpoint_interval=20, eval_batches=4))
    return out, summary


# -- training ----------------------------------------------------------------------------------------


def test_loss_goes_down(trained):
    out, summary = trained
    rows = _metrics(out)
    assert [r["step"] for r in rows] == list(range(1, 41))
    first = np.mean([r["train_loss"] for r in rows[:3]])
    last = np.mean([r["train_loss"] for r in rows[-3:]])
    assert first > math.log(320) - 0.5  # starts near uniform over the vocabulary
    assert last < first - 2.0
    evals = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in evals] == [20, 40]
    assert evals[1]["val_loss"] < evals[0]["val_loss"] < first
    assert summary.val_loss == evals[1]["val_loss"] and 0 < summary.val_bpb < 8


def test_same_seed_same_curve(tokdir, tmp_path):
    curves = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        run_train(tokdir, tmp_path / name, _cfg(seed=seed, dropout=0.1))
        curves[name] = [(r["train_loss"], r.get("val_loss")) for r in _metrics(tmp_path / name)]
    assert curves["a"] == curves["b"]
    assert curves["a"] != curves["c"]


def test_resume_continues_the_same_curve(tokdir, tmp_path):
    """2N steps in one run == N steps, then --resume for N more: the same losses, bit for bit
    (dropout on, so the RNG state has to be restored; gradient accumulation on, so the batch
    index has to be right)."""
    settings = dict(dropout=0.1, grad_accum_steps=2, lr_decay_steps=16, eval_interval=4, checkpoint_interval=4)
    run_train(tokdir, tmp_path / "whole", _cfg(max_steps=16, **settings))
    run_train(tokdir, tmp_path / "split", _cfg(max_steps=8, **settings))
    assert json.loads((tmp_path / "split" / "config.json").read_text())["train"]["lr_decay_steps"] == 16
    # Resume through the CLI, which takes the stored settings and lets --max-steps win.
    result = CliRunner().invoke(main, ["train", str(tokdir), "--out", str(tmp_path / "split"), "--resume", "--max-steps", "16"])
    assert result.exit_code == 0, result.output
    whole, split = _metrics(tmp_path / "whole"), _metrics(tmp_path / "split")
    assert [r["step"] for r in split] == list(range(1, 17))
    for a, b in zip(whole, split):
        assert (a["step"], a["train_loss"], a["lr"], a.get("val_loss")) == (b["step"], b["train_loss"], b["lr"], b.get("val_loss"))
    config = json.loads((tmp_path / "split" / "config.json").read_text())
    assert [r["start_step"] for r in config["runs"]] == [0, 8]
    a, _ = ckpt.load_model(tmp_path / "whole")
    b, _ = ckpt.load_model(tmp_path / "split")
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_resume_after_metrics_past_the_checkpoint(tokdir, tmp_path):
    """Lines logged after the last checkpoint (a crash between checkpoints) are recomputed, not doubled."""
    out = tmp_path / "m"
    run_train(tokdir, out, _cfg(max_steps=6, lr_decay_steps=10, checkpoint_interval=4))
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 6
    # Pretend the run died at step 6 with the step-4 checkpoint: rewind the checkpoint files.
    run_train(tokdir, tmp_path / "four", _cfg(max_steps=4, lr_decay_steps=10, checkpoint_interval=4))
    for name in ("checkpoint.pt", "model.safetensors"):
        (out / name).write_bytes((tmp_path / "four" / name).read_bytes())
    run_train(tokdir, out, resolved(_cfg(max_steps=10, lr_decay_steps=10, checkpoint_interval=4)), resume=True)
    assert [r["step"] for r in _metrics(out)] == list(range(1, 11))


def test_checkpoint_files_and_config(trained, tokdir):
    out, _ = trained
    for name in ("config.json", "model.safetensors", "checkpoint.pt", "tokenizer.json", "metrics.jsonl", "loss_curve.png", "model_card.md"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.tmp*"))
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((out / "config.json").read_text())
    assert {k: config[k] for k in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size")} == {"n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 64, "vocab_size": 320}
    train = config["train"]
    assert (train["batch_size"], train["lr"], train["seed"], train["max_steps"], train["lr_decay_steps"]) == (8, 3e-3, 7, 40, 40)
    assert config["data"]["token_manifest_sha256"] == hashlib.sha256((tokdir / "manifest.json").read_bytes()).hexdigest()
    assert config["data"]["dataset_version"] == "run-20261122-test"
    assert config["software"]["torch"] == torch.__version__
    row = _metrics(out)[-1]
    assert {"step", "train_loss", "val_loss", "val_bpb", "tokens_per_s", "lr", "mfu"} <= set(row)
    assert row["tokens_per_s"] > 0

    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 40 and "optimizer" in state and "rng_cpu" in state
    model, _ = ckpt.load_model(out)
    assert model.transformer.wte.weight is model.lm_head.weight  # still tied after loading
    x = torch.tensor([[1, 2, 3, 4]])
    fresh = GPT(ckpt.model_config(config)).eval()
    assert not torch.equal(model(x)[0], fresh(x)[0])


def test_model_card_names_data_and_results(trained, tokdir):
    out, summary = trained
    card = (out / "model_card.md").read_text()
    for section in ("Model details", "Intended use", "Factors", "Metrics", "Evaluation data", "Training data", "Quantitative analyses", "Ethical considerations", "Caveats and recommendations"):
        assert f"## {section}" in card
    assert "run-20261122-test" in card
    assert CURATED_MANIFEST_SHA in card
    assert hashlib.sha256((tokdir / "manifest.json").read_bytes()).hexdigest() in card
    assert hashlib.sha256((tokdir / "tokenizer.json").read_bytes()).hexdigest() in card
    assert f"{summary.val_loss:.4f}" in card and "Seed: 7" in card and torch.__version__ in card


def test_bits_per_byte_counts_decoded_bytes(tokdir):
    tok = load_tokenizer(tokdir / "tokenizer.json")
    lengths = token_byte_lengths(tokdir / "tokenizer.json", 320)
    ids = np.asarray(TokenWindows(shard_paths(tokdir, "val"), 64).shards[0][:500])
    text = tok.decode([int(i) for i in ids], skip_special_tokens=True)
    assert lengths[ids].sum() == len(text.encode("utf-8"))


def test_lr_schedule():
    cfg = resolved(TrainConfig(lr=1e-3, warmup_steps=10, max_steps=100))
    assert lr_at(0, cfg) == pytest.approx(1e-3 / 11)
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(55, cfg) == pytest.approx(1e-4 + 0.5 * 0.9e-3)
    assert lr_at(100, cfg) == lr_at(500, cfg) == pytest.approx(1e-4)


# -- data ----------------------------------------------------------------------------------------------


def test_batches_are_functions_of_seed_and_index(tokdir):
    windows = TokenWindows(shard_paths(tokdir, "train"), 64)
    assert len(windows.shards) == 3
    a = windows.random_batch(8, seed=1, index=5)
    assert np.array_equal(a, windows.random_batch(8, seed=1, index=5))
    assert not np.array_equal(a, windows.random_batch(8, seed=1, index=6))
    loader = BatchLoader(windows, 8, torch.device("cpu"), seed=1, start=5)
    x, y = next(loader)
    assert torch.equal(x, torch.from_numpy(a[:, :-1])) and torch.equal(y, torch.from_numpy(a[:, 1:]))
    assert x.dtype == torch.long and x.is_contiguous() and y.is_contiguous()
    # Sequential windows tile the split in order; the next window starts with the last target.
    s = windows.sequential_batch(4, 0)
    assert np.array_equal(s[0], windows.shards[0][:65]) and s[1][0] == s[0][-1]
    loader.close()


def test_prefetching_loader_yields_the_same_batches(tokdir):
    """The background-thread path (used on CUDA, with pinned memory) gives the batches the
    synchronous one does, in order."""
    windows = TokenWindows(shard_paths(tokdir, "train"), 64)
    plain = BatchLoader(windows, 4, torch.device("cpu"), seed=3, start=2, prefetch=False)
    ahead = BatchLoader(windows, 4, torch.device("cpu"), seed=3, start=2, prefetch=True)
    for _ in range(5):
        (x1, y1), (x2, y2) = next(plain), next(ahead)
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    ahead.close()
    seq = BatchLoader(windows, 4, torch.device("cpu"), order="sequential", prefetch=True)
    assert torch.equal(next(seq)[0], torch.from_numpy(windows.sequential_batch(4, 0)[:, :-1]))
    seq.close()


def test_uint32_shards_are_read(tmp_path):
    ids = np.array([0, 70_000, 5, 2**32 - 1], dtype=np.uint32)
    write_shard(tmp_path / "train_000000.bin", ids, FORMATS["uint32"])
    header = read_header(tmp_path / "train_000000.bin")
    assert (header.format.magic, header.format.version, header.tokens) == (20240801, 7, 4)
    windows = TokenWindows([tmp_path / "train_000000.bin"], 3)
    assert windows.sequential_batch(1, 0).tolist() == [[0, 70_000, 5, 2**32 - 1]]


# -- sampling ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=100, block_size=16, n_layer=1, n_head=2, n_embd=32)).eval()


def test_greedy_is_deterministic_and_top_k_1_is_greedy(random_model):
    idx = torch.tensor([[1, 2, 3]])
    outs = [random_model.generate(idx, 10, temperature=t, top_k=k, generator=torch.Generator().manual_seed(s)) for t, k, s in ((0.0, None, 1), (1.0, 1, 2), (0.7, 1, 3))]
    assert outs[0].shape == (1, 13)
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])


def test_max_new_tokens_and_block_size_crop(random_model):
    idx = torch.zeros((2, 15), dtype=torch.long)
    out = random_model.generate(idx, 7, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 22)  # longer than block_size 16: the context is cropped
    assert torch.equal(out[:, :15], idx)
    assert int(out.max()) < 100  # padded embedding rows are never sampled
    assert random_model.generate(idx, 0).shape == (2, 15)


def test_seeded_sampling_repeats(random_model):
    idx = torch.tensor([[5]])
    a = random_model.generate(idx, 12, temperature=1.0, generator=torch.Generator().manual_seed(42))
    b = random_model.generate(idx, 12, temperature=1.0, generator=torch.Generator().manual_seed(42))
    assert torch.equal(a, b)


def test_top_k_and_top_p_restrict_the_candidates():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).repeat(2000, 1)
    gen = torch.Generator().manual_seed(0)
    assert set(sample_next(logits, 1.0, top_k=2, generator=gen).flatten().tolist()) == {0, 1}
    assert set(sample_next(logits, 1.0, top_p=0.7, generator=gen).flatten().tolist()) == {0, 1}
    assert set(sample_next(logits, 1.0, top_p=0.85, generator=gen).flatten().tolist()) == {0, 1, 2}
    assert set(sample_next(logits, 1.0, top_p=0.4, generator=gen).flatten().tolist()) == {0}
    assert set(sample_next(logits, 1.0, generator=gen).flatten().tolist()) == {0, 1, 2, 3}
    # Within the nucleus the relative probabilities stay: 0.5 : 0.3.
    draws = sample_next(logits, 1.0, top_p=0.7, generator=gen).flatten()
    assert (draws == 0).float().mean().item() == pytest.approx(0.5 / 0.8, abs=0.05)


# -- the command line ----------------------------------------------------------------------------------


def test_sample_cli(trained):
    out, _ = trained
    runner = CliRunner()
    args = ["sample", str(out), "--prompt", "The red fox", "--max-new-tokens", "12", "--temperature", "0"]
    first, second = runner.invoke(main, args), runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("The red fox") and first.stdout == second.stdout
    seeded = [runner.invoke(main, ["sample", str(out), "--seed", "3", "--top-p", "0.9", "--top-k", "20", "--num-samples", "2"]).stdout for _ in range(2)]
    assert seeded[0] == seeded[1] and "\n---\n" in seeded[0]


def test_cli_exit_codes(tokdir, tmp_path, trained):
    runner = CliRunner()
    missing = runner.invoke(main, ["train", str(tmp_path / "nope"), "--out", str(tmp_path / "m")])
    assert missing.exit_code == 2 and "not a directory" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    no_shards = runner.invoke(main, ["train", str(empty), "--out", str(tmp_path / "m")])
    assert no_shards.exit_code == 2 and "train_*.bin" in no_shards.stderr
    if not torch.cuda.is_available():
        cuda = runner.invoke(main, ["train", str(tokdir), "--out", str(tmp_path / "m"), "--device", "cuda"])
        assert cuda.exit_code == 2 and "CUDA is not available" in cuda.stderr
    out, _ = trained
    again = runner.invoke(main, ["train", str(tokdir), "--out", str(out), "--preset", "tiny"])
    assert again.exit_code == 2 and "--resume" in again.stderr
    nothing = runner.invoke(main, ["train", str(tokdir), "--out", str(tmp_path / "fresh"), "--resume"])
    assert nothing.exit_code == 2 and "no checkpoint" in nothing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  batch_sise: 4\n")
    config = runner.invoke(main, ["train", str(tokdir), "--out", str(tmp_path / "m"), "--config", str(bad)])
    assert config.exit_code == 2 and "batch_sise" in config.stderr
    shape = runner.invoke(main, ["train", str(tokdir), "--out", str(out), "--resume", "--preset", "small"])
    assert shape.exit_code == 2 and "the options ask for" in shape.stderr
    no_model = runner.invoke(main, ["sample", str(empty)])
    assert no_model.exit_code == 2 and "config.json" in no_model.stderr


def test_train_cli_end_to_end(tokdir, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["train", str(tokdir), "--out", str(out), "--preset", "tiny", "--max-steps", "3", "--batch-size", "4", "--eval-interval", "3", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "val loss" in result.stdout and "tokens/s" in result.stdout
    assert [r["step"] for r in _metrics(out)] == [1, 2, 3]
