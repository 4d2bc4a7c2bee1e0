"""Exact and MinHash near-duplicate signals, and deterministic incremental clustering."""

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq

from filters.dedup import DedupConfig, dedup_signals, normalize, shingles
from pipeline.dedup_index import DedupCandidate, assign_clusters, index_rows, load_index

DEMO = Path(__file__).resolve().parent.parent / "pipeline" / "demo_site"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _words(seed: int, n: int = 400) -> str:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(3000)]
    return " ".join(rng.choice(vocab) for _ in range(n))


def test_normalize_folds_case_accents_digits_punctuation():
    assert normalize("Ça  coûte 42,50 €!\nÉTÉ") == "ca coute 00 00 ete"


def test_exact_hash_ignores_formatting_only_differences():
    a = dedup_signals("Hello, World! 2024")
    b = dedup_signals("hello world 1999")
    c = dedup_signals("hello there world")
    assert a.exact_hash == b.exact_hash
    assert a.exact_hash != c.exact_hash


def test_near_duplicates_share_a_band_and_unrelated_texts_do_not():
    base = _words(1)
    words = base.split()
    near = " ".join(words[:200] + ["changed"] + words[201:])  # one word in 400 differs
    other = _words(2)
    s_base, s_near, s_other = dedup_signals(base), dedup_signals(near), dedup_signals(other)
    assert len(s_base.band_keys) == 14
    assert set(s_base.band_keys) & set(s_near.band_keys)
    assert not set(s_base.band_keys) & set(s_other.band_keys)


def test_texts_without_spaces_get_character_shingles():
    config = DedupConfig()
    ja = "これはテスト文書です。日本語には単語の間にスペースがありません。" * 3
    found = shingles(normalize(ja), config)
    assert all(len(s.decode("utf-8")) == config.ngram for s in found)
    assert dedup_signals(ja).band_keys


def _cand(doc_id, minutes, text):
    s = dedup_signals(text)
    return DedupCandidate(doc_id, T0 + timedelta(minutes=minutes), s.exact_hash, s.band_keys)


def _index_of(tmp_path, candidates, run_id="run-0001"):
    assignments = assign_clusters(candidates, load_index(tmp_path))
    pq.write_table(index_rows(candidates, assignments, run_id), tmp_path / f"index-{run_id}.parquet")
    return assignments


def test_representative_is_earliest_fetch_whatever_the_order():
    base = _words(3)
    near = base.replace(base.split()[10], "zzz", 1)
    cands = [_cand("b", 5, base), _cand("a", 9, near), _cand("c", 1, base), _cand("d", 3, _words(4))]
    results = [assign_clusters(list(order), load_index(Path("/nonexistent"))) for order in (cands, cands[::-1], cands[1:] + cands[:1])]
    assert results[0] == results[1] == results[2]
    r = results[0]
    assert r["c"].duplicate is False and r["c"].cluster_id == "c"
    assert r["b"].duplicate and r["b"].kind == "exact" and r["b"].cluster_id == "c"
    assert r["a"].duplicate and r["a"].kind == "near" and r["a"].cluster_size == 3
    assert r["d"].duplicate is False and r["d"].cluster_size == 1


def test_ties_on_fetch_time_break_by_smallest_doc_id():
    text = _words(5)
    r = assign_clusters([_cand("z9", 0, text), _cand("a1", 0, text)], load_index(Path("/nonexistent")))
    assert not r["a1"].duplicate and r["z9"].duplicate


def test_index_persists_and_later_runs_deduplicate_against_it(tmp_path):
    text, other = _words(6), _words(7)
    first = _index_of(tmp_path, [_cand("old", 10, text)])
    assert not first["old"].duplicate
    # A later run: an earlier-fetched copy still loses, since published documents stay published.
    second = _index_of(tmp_path, [_cand("new", 1, text), _cand("fresh", 2, other)], "run-0002")
    assert second["new"].duplicate and second["new"].cluster_id == "old"
    assert not second["fresh"].duplicate
    assert load_index(tmp_path).num_rows == 3


def test_demo_site_mirror_pages_are_exact_duplicates():
    html = (DEMO / "history" / "en" / "detailed.en.html").read_text(encoding="utf-8")
    mirror = (DEMO / "mirror" / "history" / "en" / "detailed.en.html").read_text(encoding="utf-8")
    assert dedup_signals(html).exact_hash == dedup_signals(mirror).exact_hash


def test_datasketch_minhash_is_imported_without_the_rest_of_datasketch():
    """Workers must not pay for datasketch's LSH, scipy.integrate and redis; a later `import datasketch`
    gets the real package, the same MinHash class and a working LSH."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from filters.dedup import _minhash_class, dedup_signals\n"
        "dedup_signals('one two three four five six seven eight nine ten eleven twelve')\n"
        "assert 'datasketch.minhash' in sys.modules\n"
        "for name in ('datasketch', 'datasketch.lsh', 'scipy.integrate', 'redis'):\n"
        "    assert name not in sys.modules, name + ' was imported'\n"
        "import datasketch\n"
        "assert datasketch.MinHash is _minhash_class() and hasattr(datasketch, 'MinHashLSH')\n"
        "from datasketch.lsh import integrate\n"
        "value, _ = integrate(lambda x: 2 * x, 0.0, 1.0)\n"
        "assert abs(value - 1.0) < 1e-9\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
