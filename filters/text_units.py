"""Word, sentence and language helpers shared by the quality and PII filters (stdlib only).

Word tokenisation
-----------------
datatrove tokenises words with a per-language tokenizer (``datatrove/utils/word_tokenizers.py``):
NLTK's ``word_tokenize`` (Punkt sentences + Treebank words) for English and other European
languages, spaCy / Stanza / pythainlp / kiwi for others. Those are slow and heavy dependencies,
so :func:`word_tokens` is one precompiled Unicode regex (plus a clitic split) that imitates
NLTK's English output closely enough for ratio heuristics:

* a *word* is a run of Unicode word characters (``\\w``) and combining marks (categories
  Mn/Mc/Me, which ``\\w`` lacks, so Devanagari or Arabic words with vowel signs stay whole),
  optionally joined by ``-``, ``.``, ``'`` or ``’`` to a further run, or by ``,`` or ``:``
  followed by a digit: ``well-known``, ``3.14``, ``example.com``, ``O'Brien``, ``3,645,000``,
  ``10:30`` are one token each (as in NLTK);
* English clitics are split off as NLTK does: ``don't -> do n't``, ``that's -> that 's``,
  ``we're / I've / you'll / he'd / I'm`` likewise (case-insensitive);
* every other non-space character is a token of its own (punctuation and symbols), except
  ``...`` and ``--``, which are one token each (as in NLTK);
* characters of scripts written without spaces between words (CJK ideographs, kana, Thai, Lao,
  Khmer, Myanmar, Tibetan) are one token each (a base character plus its combining marks).
  This *character-based* segmentation is applied whatever the document language, so a stray
  Chinese sentence inside English text does not become one giant "word".

Known differences from NLTK: an abbreviation's period is always a token of its own (``Mr.`` is
``Mr`` + ``.``; NLTK keeps ``Mr.`` inside a sentence), double quotes are not rewritten to
```` `` ```` / ``''`` (same token count), URLs split at ``:`` and ``/`` differently, and text is
not first split into sentences. These shift token counts by a few per cent at most; the FineWeb
heuristics are ratios over hundreds of tokens.

Sentences
---------
C4 counts sentences of each kept line with NLTK Punkt. :func:`count_sentences` approximates
Punkt without its trained model: a boundary is ``.``, ``!`` or ``?`` (runs allowed, closing
quotes/brackets allowed after it) followed by whitespace and more text on the line; a single
``.`` after a known English abbreviation (``Mr``, ``Dr``, ``etc``, ``vs``, ...) or a single letter
(``J. Smith``, ``e.g.``) is not a boundary, nor is ``...`` followed by a lower-case letter. The
scripts' own terminators in :data:`SENTENCE_TERMINATORS` (``。！？｡`` for Japanese and Chinese,
``။`` Myanmar, ``។`` Khmer, ``།`` Tibetan) also end a sentence, no space needed after them. Thai
and Lao have no sentence punctuation and separate sentences with spaces, so there every
space-separated segment counts as a sentence (a rough stand-in for the pythainlp splitter that
datatrove uses for Thai). A non-empty line has at least one sentence.

Languages
---------
:func:`normalize_lang` maps ``en``, ``en-US``, ``en_GB``, ``eng``, ``eng_Latn``, ``EN`` to
``en`` (first subtag, lower-cased; a few ISO 639-3 codes are mapped to their 639-1 code).
:data:`NO_SPACE_LANGS` are the languages whose text has no spaces between words.
"""

from __future__ import annotations

import re
import unicodedata

# ISO 639-3 / macro-language codes that language-ID models emit, mapped to the 639-1 code.
_LANG_ALIASES = {
    "eng": "en",
    "deu": "de",
    "ger": "de",
    "fra": "fr",
    "fre": "fr",
    "spa": "es",
    "ita": "it",
    "por": "pt",
    "nld": "nl",
    "dut": "nl",
    "rus": "ru",
    "pol": "pl",
    "jpn": "ja",
    "zho": "zh",
    "chi": "zh",
    "cmn": "zh",
    "yue": "zh",
    "wuu": "zh",
    "tha": "th",
    "lao": "lo",
    "khm": "km",
    "mya": "my",
    "bur": "my",
    "kor": "ko",
    "bod": "bo",
    "tib": "bo",
}

#: Languages written without spaces between words: word-level rules use character tokens.
NO_SPACE_LANGS = frozenset({"ja", "zh", "th", "lo", "km", "my", "bo"})

#: Sentence-ending punctuation of scripts that do not use ``. ! ?`` (counted in addition to them).
SENTENCE_TERMINATORS: dict[str, str] = {
    "ja": "。！？｡",
    "zh": "。！？｡",
    "my": "။",  # Myanmar
    "km": "។",  # Khmer
    "bo": "།",  # Tibetan
}

#: Languages that separate sentences (not words) with spaces and have no terminal punctuation.
SPACE_SEPARATED_SENTENCES = frozenset({"th", "lo"})


def terminal_punctuation(lang: str) -> tuple[str, ...]:
    """Extra line-final terminators for ``lang`` (normalised code); empty for most languages."""
    return tuple(SENTENCE_TERMINATORS.get(lang, ""))


def normalize_lang(lang: str | None) -> str:
    """``'en-US' -> 'en'``, ``'eng_Latn' -> 'en'``, ``'ZH' -> 'zh'``; ``None``/``''`` -> ``''``."""
    if not lang:
        return ""
    code = re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]
    return _LANG_ALIASES.get(code, code)


# --- character classes ---------------------------------------------------------------------------

# Scripts without word spaces: each character is a token.
_NO_SPACE_RANGES = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff\u19e0-\u19ff"  # Khmer, Khmer symbols
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c"  # 々〆〇, Hangzhou numerals, kana repeat marks
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana, Katakana phonetic extensions
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs (ext. A, unified, compatibility)
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK ideographs ext. B-G
)


def _build_classes() -> tuple[str, str]:
    """Regex class bodies (word characters, combining marks), from one scan of the BMP.

    A *word character* is ``str.isalnum()``, ``_`` or a combining mark (Mn/Mc/Me), minus the
    no-space scripts. One explicit class compiles to a bitmap, which is several times faster
    than ``(?:[^\\W...]|[marks])``. Outside the BMP, plane-1 characters below U+1F000 (historic
    scripts, mathematical letters) count as word characters; emoji and other U+1Fxxx symbols
    are single-character tokens; CJK extensions B-G are no-space characters.
    """
    no_space = re.compile(f"[{_NO_SPACE_RANGES}]")
    word: list[list[int]] = []
    marks: list[list[int]] = []

    def add(ranges: list[list[int]], cp: int) -> None:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])

    for cp in range(0x10000):
        ch = chr(cp)
        is_mark = unicodedata.category(ch)[0] == "M"
        if is_mark:
            add(marks, cp)
        if (ch.isalnum() or ch == "_" or is_mark) and not no_space.match(ch):
            add(word, cp)

    def body(ranges: list[list[int]]) -> str:
        return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)

    return (
        body(word) + "\U00010000-\U0001efff\U0001fbf0-\U0001fbf9\U000e0100-\U000e01ef",
        body(marks) + "\U000e0100-\U000e01ef",
    )


_WORD_CHARS, _MARKS = _build_classes()
_WORD = f"[{_WORD_CHARS}]+"
_TOKEN_RE = re.compile(
    rf"{_WORD}(?:(?:[-.'’]|[,:](?=\d)){_WORD})*"  # word, maybe hyphenated / dotted / 3,645,000 / 10:30
    rf"|[{_NO_SPACE_RANGES}][{_MARKS}]*"  # one character of a no-space script (+ its marks)
    r"|\.\.\.|--"  # NLTK keeps these together
    r"|\S"  # any other symbol or punctuation character
)
_CLITIC_RE = re.compile(r"(?i)^(.+?)(n['’]t|['’](?:s|re|ve|ll|d|m))$")


def _split_clitics(tokens: list[str]) -> list[str]:
    out: list[str] = []
    append = out.append
    for tok in tokens:
        if "'" in tok or "’" in tok:
            m = _CLITIC_RE.match(tok)
            if m:
                append(m.group(1))
                append(m.group(2))
                continue
        append(tok)
    return out


def word_tokens(text: str) -> list[str]:
    """Word and punctuation tokens of ``text`` (see the module docstring); never empty strings."""
    tokens = _TOKEN_RE.findall(text)
    if "'" in text or "’" in text:
        tokens = _split_clitics(tokens)
    return tokens


# --- sentences ----------------------------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st vs etc inc ltd co corp no nos vol vols fig figs pp ed eds al
    approx dept est govt mt ft gen col lt sgt capt cmdr adm rev hon pres gov sen rep jan feb mar apr
    jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun ca cf ibid op av ave blvd rd""".split()
)
# A candidate boundary: terminator run (group 1), closing quotes/brackets, whitespace, and the
# next character (group 2).
_SENT_END_RE = re.compile(r"([.!?]+)[\"'”’»)\]]*\s+(?=(\S))")
# Characters that start the word before a period: "(J." -> "J", "e.g." -> "g", "U.S." -> "S".
_WORD_START = frozenset(" \t\v\f\r\u00a0([\"'“‘.")
_EXTRA_SENT_END_RE = {
    lang: re.compile(rf"[{chars}]+[」』）)\"'”’]*\s*(?=\S)") for lang, chars in SENTENCE_TERMINATORS.items()
}


def count_sentences(line: str, lang: str = "en") -> int:
    """Approximate Punkt sentence count of one line (0 for a blank line); see module docstring."""
    if not line or line.isspace():
        return 0
    if lang in SPACE_SEPARATED_SENTENCES:
        return len(line.split())
    n = 1
    if "." in line or "!" in line or "?" in line:
        for m in _SENT_END_RE.finditer(line):
            punct = m.group(1)
            if punct == ".":
                end = j = m.start()
                while j and line[j - 1] not in _WORD_START:
                    j -= 1
                word = line[j:end]
                if (len(word) == 1 and word.isalpha()) or word.lower() in _ABBREVIATIONS:
                    continue  # "J. Smith", "e.g. this", "Mr. Smith"
            elif punct[0] == "." and m.group(2).islower():
                continue  # "... and so on"
            n += 1
    extra = _EXTRA_SENT_END_RE.get(lang)
    if extra is not None:
        n += len(extra.findall(line))
    return n
