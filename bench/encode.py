"""Tokenizer encode throughput: Ernte's encoding path against tiktoken's GPT-2 encoding.

Same text, same machine, same run. The text is a curated dataset (`--curated DIR`, its eligible
documents) or, by default, the bundled demo site's pages extracted as `ernte curate` extracts them
(trafilatura, FineWeb settings), repeated until there are `--mb` MB of text. Ernte's tokenizer is
trained on that text as `ernte tokenize` trains it (byte-level BPE, `--vocab-size` ids) unless
`--tokenizer` gives one.

Rows (median of `--repeat` rounds, the sides alternating which goes first):

1. **1 process**: Ernte's encoder (the trained BPE converted to tiktoken, `encode_to_numpy`) vs
   GPT-2 `encode_ordinary` per document; for reference, Ernte's fallback engine (Hugging Face
   `tokenizers`, `encode_batch_fast`, which uses every core).
2. **W processes**: Ernte's ordered process pool (`training.encode_worker.ChunkEncoder`, as
   the stage runs it: ids, normalised-text hashes, byte counts) vs tiktoken's own parallel API
   (`encode_ordinary_batch(num_threads=W)`) and vs llm.c's dev/data/fineweb.py pattern
   (`multiprocessing.Pool(W).imap(tokenize, docs, chunksize=16)`, EOT + uint16 per document).
   Pools are started and warmed up before the clock starts.

Each side gets its best wall time (the least disturbed round on a shared machine) and its median
CPU time (user + system of the process and its pool workers, via psutil), which other load on the
machine hardly changes; MB/s and MB per CPU-second are of UTF-8 text. The ratio is Ernte against
the fastest GPT-2 side of the row. `tokenizers` (Ernte's fallback when the conversion does not
match) is timed once, on the distinct documents.
3. **End to end** (`--end-to-end`): `ernte tokenize CURATED --tokenizer T --workers W` as a user
   runs it (Parquet in, shards, document index and manifest out), against an llm.c-style script
   over the same Parquet shards (read, Pool imap GPT-2, write llm.c shards), each its own process.

GPT-2's encoding: `tiktoken.get_encoding("gpt2")` downloads vocab.bpe and encoder.json from
OpenAI at first use, which is not reachable from a machine that only reaches PyPI. The same BPE is
tiktoken's `r50k_base` (GPT-2's 50,256 merge ranks, GPT-2's regex, `<|endoftext|>` = 50256), whose
file, r50k_base.tiktoken, ships on PyPI as `whisper/assets/gpt2.tiktoken` in the openai-whisper
sdist. The script fetches that sdist with `pip download --no-deps` once into bench/.cache/, puts the
file into a TIKTOKEN_CACHE_DIR under the name tiktoken looks for, and loads it with
`tiktoken.get_encoding("r50k_base")`, which checks the file's sha256 against the hash built into
tiktoken. Where `get_encoding("gpt2")` already works (a warm tiktoken cache), that is used.

```sh
.venv/bin/python bench/encode.py                      # demo-site text, 32 MB, 3 rounds
.venv/bin/python bench/encode.py --mb 64 --repeat 5 --end-to-end --json /tmp/tok.json
.venv/bin/python bench/encode.py --curated curated/   # a real curated directory
```
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file is named like the standard library's tokenize module: keep its folder off the path
# (python puts it first), or `import tokenize` anywhere (linecache, inspect) would find this file.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
WHISPER_SDIST = "openai-whisper==20250625"
R50K_URL = "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken"
R50K_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"  # as in tiktoken_ext/openai_public.py


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- GPT-2 ---------------------------------------------------------------------------------------


def gpt2_encoding():
    """(Encoding, how it was obtained)."""
    import hashlib

    import tiktoken
    from tiktoken.load import read_file_cached  # noqa: F401  (the cache layout used below)

    cache_dir = Path(os.environ.get("TIKTOKEN_CACHE_DIR") or CACHE / "tiktoken")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    gpt2_keys = [hashlib.sha1(u.encode()).hexdigest() for u in ("https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe", "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json")]
    if all((cache_dir / k).exists() for k in gpt2_keys):
        return tiktoken.get_encoding("gpt2"), "tiktoken.get_encoding('gpt2') from the tiktoken cache"
    target = cache_dir / hashlib.sha1(R50K_URL.encode()).hexdigest()
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        sdists = CACHE / "sdist"
        found = sorted(sdists.glob("openai_whisper-*.tar.gz"))
        if not found:
            log(f"fetching {WHISPER_SDIST} (sdist, no dependencies) from PyPI for its gpt2.tiktoken")
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", "-d", str(sdists), WHISPER_SDIST], check=True)
            found = sorted(sdists.glob("openai_whisper-*.tar.gz"))
        with tarfile.open(found[-1]) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("whisper/assets/gpt2.tiktoken"))
            data = tar.extractfile(member).read()
        if hashlib.sha256(data).hexdigest() != R50K_SHA256:
            raise SystemExit("whisper's gpt2.tiktoken is not r50k_base (sha256 differs)")
        target.write_bytes(data)
    enc = tiktoken.get_encoding("r50k_base")  # tiktoken checks the sha256 itself
    assert enc.encode("Hello world") == [15496, 995] and enc.eot_token == 50256 and enc.n_vocab == 50257
    return enc, "tiktoken.get_encoding('r50k_base') = GPT-2's BPE; file from the openai-whisper sdist on PyPI, sha256 checked by tiktoken"


# -- corpus ----------------------------------------------------------------------------------------


def demo_site_texts() -> list[str]:
    from filters.extract import extract

    texts = []
    for path in sorted((ROOT / "pipeline" / "demo_site").rglob("*.html")):
        result = extract(path.read_text(encoding="utf-8", errors="replace"), url=f"http://demo.invalid/{path.name}")
        if result.text:
            texts.append(result.text)
    return texts


def curated_texts(directory: Path) -> list[str]:
    from training.tokenize_dataset import iter_documents, open_curated

    return [t for b in iter_documents(open_curated(directory)) for t, ok in zip(b.texts, b.eligible) if ok]


def write_curated(directory: Path, texts: list[str]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.schema import SHARD

    (directory / "shards").mkdir(parents=True)
    rows = [{"doc_id": f"bench-{i:07d}", "text": t, "run_id": "run-0001", "train_eligible": True} for i, t in enumerate(texts)]
    names = []
    for k in range(0, len(rows), 4096):
        names.append(f"run-0001-{k // 4096:05d}.parquet")
        pq.write_table(pa.Table.from_pylist(rows[k : k + 4096], schema=SHARD), directory / "shards" / names[-1])
    (directory / "manifest.json").write_text(json.dumps({"runs": [{"run_id": "run-0001", "outputs": {"shards": names}}]}))
    return directory


# -- measurements ------------------------------------------------------------------------------------


def cpu_seconds() -> float:
    """User + system CPU of this process (all threads) and its live children (pool workers)."""
    import psutil

    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
            total += c.user + c.system
        except psutil.NoSuchProcess:
            pass
    return total


def timed(fn) -> tuple[float, float, int]:
    """(wall s, CPU s, tokens)."""
    cpu, t = cpu_seconds(), time.perf_counter()
    tokens = fn()
    return time.perf_counter() - t, cpu_seconds() - cpu, tokens


_gpt2 = None


def _llmc_init() -> None:
    global _gpt2
    _gpt2, _ = gpt2_encoding()


def _llmc_tokenize(text: str) -> np.ndarray:
    # llm.c dev/data/fineweb.py: EOT first, encode_ordinary, uint16
    tokens = [_gpt2.eot_token]
    tokens.extend(_gpt2.encode_ordinary(text))
    return np.array(tokens).astype(np.uint16)


def llmc_end_to_end(curated: Path, out: Path, workers: int, shard_tokens: int) -> None:
    """llm.c's fineweb.py over Parquet shards: Pool imap, documents split across fixed-size shards."""
    import multiprocessing as mp

    import pyarrow.parquet as pq

    from training.token_shards import FORMATS, write_shard

    out.mkdir(parents=True, exist_ok=True)

    def docs():
        for path in sorted((curated / "shards").glob("*.parquet")):
            yield from pq.read_table(path, columns=["text"]).column("text").to_pylist()

    buf = np.empty(shard_tokens, dtype=np.uint16)
    filled, index = 0, 0
    with mp.get_context("spawn").Pool(workers, initializer=_llmc_init) as pool:
        for tokens in pool.imap(_llmc_tokenize, docs(), chunksize=16):
            pos = 0
            while pos < len(tokens):
                take = min(len(tokens) - pos, shard_tokens - filled)
                buf[filled : filled + take] = tokens[pos : pos + take]
                filled, pos = filled + take, pos + take
                if filled == shard_tokens:
                    write_shard(out / f"gpt2_{index:06d}.bin", buf, FORMATS["uint16"])
                    filled, index = 0, index + 1
    if filled:
        write_shard(out / f"gpt2_{index:06d}.bin", buf[:filled], FORMATS["uint16"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--curated", type=Path, help="Curated directory to take the text from (default: demo-site pages)")
    ap.add_argument("--mb", type=float, default=32.0, help="Repeat the text up to this many MB (UTF-8)")
    ap.add_argument("--vocab-size", type=int, default=16384)
    ap.add_argument("--tokenizer", type=Path, help="Use this tokenizer.json instead of training one")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--end-to-end", action="store_true", help="Also time `ernte tokenize` against an llm.c-style script, each in its own process")
    ap.add_argument("--json", type=Path, help="Write every measurement here")
    ap.add_argument("--llmc-run", nargs=4, metavar=("CURATED", "OUT", "WORKERS", "SHARD_TOKENS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.llmc_run:
        curated, out, workers, shard_tokens = args.llmc_run
        llmc_end_to_end(Path(curated), Path(out), int(workers), int(shard_tokens))
        return

    import multiprocessing as mp

    import tiktoken
    import tokenizers

    from pipeline.config import TokenizeConfig
    from training.encode_worker import ChunkEncoder
    from training.tokenize_dataset import _Chunk
    from training.tokenizer import (
        HFEncoder,
        TiktokenEncoder,
        compare_encoders,
        load_tokenizer,
        train_bpe,
    )

    gpt2, gpt2_source = gpt2_encoding()
    log(f"GPT-2: {gpt2_source}")
    unique = curated_texts(args.curated) if args.curated else demo_site_texts()
    unique_bytes = sum(len(t.encode("utf-8")) for t in unique)
    docs = list(unique)
    while sum(len(t.encode("utf-8")) for t in docs) < args.mb * 1e6:
        docs += unique
    nbytes = sum(len(t.encode("utf-8")) for t in docs)
    log(f"text: {len(unique)} distinct documents ({unique_bytes / 1e6:.1f} MB), repeated to {len(docs)} documents, {nbytes / 1e6:.1f} MB")

    t = time.perf_counter()
    tok = load_tokenizer(args.tokenizer) if args.tokenizer else train_bpe(unique, args.vocab_size)
    train_s = time.perf_counter() - t
    tokenizer_json = tok.to_str()
    ernte, hf = TiktokenEncoder(tokenizer_json), HFEncoder(tokenizer_json)
    mismatched = compare_encoders(ernte, hf, unique)
    log(f"Ernte BPE: {tok.get_vocab_size()} ids (trained in {train_s:.1f} s); tiktoken vs tokenizers ids differ on {mismatched} of {len(unique)} documents")

    W = args.workers
    chunk_chars = TokenizeConfig().chunk_bytes
    chunks: list[list[str]] = [[]]
    for text in docs:
        chunks[-1].append(text)
        if sum(map(len, chunks[-1])) >= chunk_chars:
            chunks.append([])

    def ernte_pool(encoder: ChunkEncoder):
        return lambda: sum(int(r.lengths.sum()) for _, r in encoder.map_ordered((_Chunk(texts=list(c)) for c in chunks if c), "tiktoken"))

    sides = {
        "1 process": {
            "Ernte (trained BPE, tiktoken engine)": lambda: sum(len(x) for x in ernte.encode_batch(docs)),
            "tiktoken GPT-2 encode_ordinary": lambda: sum(len(gpt2.encode_ordinary(t)) for t in docs),
            "tiktoken GPT-2 encode_to_numpy": lambda: sum(len(gpt2.encode_to_numpy(t, disallowed_special=())) for t in docs),
        },
    }
    results: dict[str, dict[str, list[tuple[float, int]]]] = {}
    with ChunkEncoder(tokenizer_json, tok.token_to_id("<|endoftext|>"), W) as pool_encoder, mp.get_context("spawn").Pool(W, initializer=_llmc_init) as llmc_pool:
        pool_encoder.warm_up("tiktoken")
        llmc_pool.map(_llmc_tokenize, ["warm up"] * W)
        sides[f"{W} processes"] = {
            f"Ernte ChunkEncoder ({W} workers)": ernte_pool(pool_encoder),
            f"tiktoken GPT-2 encode_ordinary_batch (num_threads={W})": lambda: sum(len(x) for x in gpt2.encode_ordinary_batch(docs, num_threads=W)),
            f"llm.c fineweb.py pattern, GPT-2 (Pool({W}).imap, chunksize 16)": lambda: sum(len(x) - 1 for x in llmc_pool.imap(_llmc_tokenize, docs, chunksize=16)),
        }
        for row, contenders in sides.items():
            names = list(contenders)
            for r in range(args.repeat):
                order = names if r % 2 == 0 else names[::-1]
                for name in order:
                    wall, cpu, n = timed(contenders[name])
                    results.setdefault(row, {}).setdefault(name, []).append((wall, cpu, n))
                    log(f"  round {r + 1} {row} | {name}: {wall:.2f} s, {nbytes / wall / 1e6:.1f} MB/s, {nbytes / cpu / 1e6:.1f} MB/CPU-s")
    # The fallback engine, once, on the distinct documents only (it is several times slower).
    hf_wall, hf_cpu, hf_n = timed(lambda: sum(len(x) for x in hf.encode_batch(unique)))
    log(f"  tokenizers encode_batch_fast (fallback): {unique_bytes / hf_wall / 1e6:.1f} MB/s")

    end_to_end = {}
    if args.end_to_end:
        with tempfile.TemporaryDirectory(prefix="ernte-bench-tok-") as tmp:
            tmp = Path(tmp)
            curated = write_curated(tmp / "curated", docs)
            tok.save(str(tmp / "tokenizer.json"))
            commands = {
                "ernte tokenize": [str(Path(sys.executable).parent / "ernte"), "-q", "tokenize", str(curated), "--out", str(tmp / "tok"), "--tokenizer", str(tmp / "tokenizer.json"), "--workers", str(W)],
                "llm.c-style script, GPT-2": [sys.executable, __file__, "--llmc-run", str(curated), str(tmp / "llmc"), str(W), str(10**8)],
            }
            for r in range(args.repeat):
                for name in list(commands) if r % 2 == 0 else list(commands)[::-1]:
                    t = time.perf_counter()
                    subprocess.run(commands[name], check=True, stdout=subprocess.DEVNULL, env=os.environ | {"ERNTE_BENCH": "1"})
                    dt = time.perf_counter() - t
                    end_to_end.setdefault(name, []).append(dt)
                    log(f"  round {r + 1} end to end | {name}: {dt:.2f} s, {nbytes / dt / 1e6:.1f} MB/s")
            manifest = json.loads((tmp / "tok" / "manifest.json").read_text())
            end_to_end["ernte_manifest_timings_s"] = manifest["timings_s"]

    # Report.
    print(f"text: {nbytes / 1e6:.1f} MB in {len(docs)} documents ({'curated: ' + str(args.curated) if args.curated else 'demo site via trafilatura'}); "
          f"Ernte BPE {tok.get_vocab_size()} ids, GPT-2 50257 ids; ids Ernte tiktoken == tokenizers on {len(unique) - mismatched}/{len(unique)} documents\n")
    print("| setting | encoder | MB/s (best) | MB/s (median) | MB per CPU-s (median) | M tokens/s (best) | tokens/byte |")
    print("|---|---|---:|---:|---:|---:|---:|")
    best, median_cpu = {}, {}
    for row, by_name in results.items():
        for name, runs in by_name.items():
            walls = [w for w, _, _ in runs]
            n = runs[0][2]
            best[(row, name)] = nbytes / min(walls) / 1e6
            median_cpu[(row, name)] = nbytes / statistics.median(c for _, c, _ in runs) / 1e6
            print(f"| {row} | {name} | {best[(row, name)]:.1f} | {nbytes / statistics.median(walls) / 1e6:.1f} | {median_cpu[(row, name)]:.1f} | {n / min(walls) / 1e6:.2f} | {n / nbytes:.3f} |")
    print(f"| all cores | Ernte fallback: tokenizers encode_batch_fast (distinct documents, once) | {unique_bytes / hf_wall / 1e6:.1f} | | {unique_bytes / hf_cpu / 1e6:.1f} | {hf_n / hf_wall / 1e6:.2f} | {hf_n / unique_bytes:.3f} |")
    print()
    ratios = {}
    for row, names in ((r, list(c)) for r, c in sides.items()):
        gpt2_names = [n for n in names if "GPT-2" in n]
        fastest = max(gpt2_names, key=lambda n: best[(row, n)])
        leanest = max(gpt2_names, key=lambda n: median_cpu[(row, n)])
        ratios[row] = {"wall_best": best[(row, names[0])] / best[(row, fastest)], "cpu_median": median_cpu[(row, names[0])] / median_cpu[(row, leanest)]}
        verdict = "meets" if ratios[row]["wall_best"] >= 1 else "BELOW"
        print(f"- {row}: Ernte / fastest GPT-2 side ({fastest}), best wall time: **{ratios[row]['wall_best']:.2f}x** ({verdict} the 1.0x target);"
              f" MB per CPU-second against the leanest GPT-2 side ({leanest}): **{ratios[row]['cpu_median']:.2f}x**")
    if end_to_end:
        e, l = statistics.median(end_to_end["ernte tokenize"]), statistics.median(end_to_end["llm.c-style script, GPT-2"])
        print(f"- end to end, Parquet to shards, {W} workers: `ernte tokenize` {e:.2f} s ({nbytes / e / 1e6:.1f} MB/s) vs llm.c-style GPT-2 {l:.2f} s ({nbytes / l / 1e6:.1f} MB/s): **{l / e:.2f}x**;"
              f" ernte's own timings: {end_to_end['ernte_manifest_timings_s']}")
    print(f"- GPT-2 encoding: {gpt2_source}. tiktoken {tiktoken.__version__ if hasattr(tiktoken, '__version__') else ''}, tokenizers {tokenizers.__version__}, {os.cpu_count()} CPUs")
    if args.json:
        args.json.write_text(json.dumps({"bytes": nbytes, "documents": len(docs), "mismatched_documents": mismatched, "results": {f"{k} | {n}": v for k, d in results.items() for n, v in d.items()}, "end_to_end": end_to_end, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
