"""FineWeb's heuristic quality filters as pure functions: ``measure`` (text -> signals), ``decide``.

FineWeb (``examples/fineweb.py`` in huggingface/datatrove) runs, after URL filtering, Trafilatura
and English language ID, four datatrove filters in this order, each seeing what the previous
one passed on:

1. ``GopherRepetitionFilter()``  — default thresholds, on the extracted text;
2. ``GopherQualityFilter()``     — default thresholds, on the same text;
3. ``C4QualityFilter(filter_no_terminal_punct=False)`` — *removes lines* and may drop the document;
4. ``FineWebQualityFilter()``    — default thresholds, on the text **as C4 left it**.

:func:`measure` reproduces that data flow: ``gopher_rep_*``, ``gopher_q_*`` and ``c4_*`` signals
are measured on the input text, ``fineweb_*`` signals on the text returned by :func:`c4_clean`
(the C4-cleaned text). :func:`decide` applies the rules in FineWeb's order and reports the first
one that fails, so a document is kept exactly when FineWeb's four filters would all pass it.
The thresholds in :class:`QualityThresholds` are FineWeb's (datatrove's defaults, except C4's
``filter_no_terminal_punct=False``); every default is annotated with its source line.

Reference versions (huggingface/datatrove; line numbers below refer to these):
``pipeline/filters/gopher_repetition_filter.py`` and ``pipeline/filters/c4_filters.py`` at
f42332190d5f, ``pipeline/filters/gopher_quality_filter.py``,
``pipeline/filters/fineweb_quality_filter.py`` and ``examples/fineweb.py`` at 5c254fa5bfa3,
``utils/text.py`` at 3647626c977e. The datatrove release FineWeb actually ran (spring 2024)
may differ in details; the one we know of is listed under deviations.

Semantics kept exactly (including datatrove's quirks)
-----------------------------------------------------
* Gopher repetition: paragraphs are ``re.split(r"\\n{2,}", text.strip())``, lines
  ``re.split(r"\\n+", text)``; every duplicate *occurrence* after the first counts (count and
  characters); character fractions divide by ``len(text)`` of the unstripped text. The top
  n-gram (n = 2, 3, 4) is the most frequent n-gram, ties going to the one seen first, and its
  character length is that of the n-gram joined with single spaces times its count — also when
  the count is 1 (so a tiny text fails ``top_2gram``, as in datatrove). Duplicate n-grams
  (n = 5..10) use datatrove's greedy scan: walking left to right, an n-gram already seen adds
  its characters (tokens concatenated without spaces) and skips n positions.
* Gopher quality: a *word* is a token with at least one character outside datatrove's
  ``PUNCTUATION_SET``; word count and mean word length use words, the ``#`` and ellipsis ratios
  and the alphabetic ratio divide by *all* tokens (punctuation included); bullet lines start
  (after left-strip) with ``•`` or ``-``; stop words are matched case-sensitively.
* C4 (``split_paragraph=True``): per ``str.splitlines()`` line, stripped: drop the line if a
  whitespace-separated word is longer than 1000 characters; remove ``[1]``/``[edit]``/
  ``[citation needed]`` citations; drop it if it had fewer than 3 whitespace words (counted
  *before* citation removal); ``lorem ipsum`` (case-insensitive) drops the document; a line
  containing ``javascript`` is dropped; ``{`` drops the document; a line with a cookie/terms
  phrase is dropped; the rest is kept and its sentences counted. Checks run in that order per
  line, so ``{`` in a javascript line or in a two-word line does not drop the document. The
  cleaned text is the kept lines joined with ``\\n``, then stripped.
* FineWeb quality: on the C4-cleaned text, lines are ``text.split("\\n")``; the terminal
  punctuation ratio (``. ' " ! ?``) fails at ``<= 0.12``, the short-line ratio (``len <= 30``) at
  ``>= 0.67``, the duplicated-line character ratio (over non-blank lines, divided by the
  character count without newlines) at ``>= 0.01``, and newlines per token at ``> 0.3``.
* A threshold of ``0`` disables a Gopher rule, as datatrove's ``if self.x and ...`` does;
  ``None`` disables any rule (our addition).

Deviations from datatrove (deliberate)
--------------------------------------
* **Tokenisation.** datatrove tokenises with NLTK ``word_tokenize`` for English (spaCy, Stanza
  etc. for other languages); we use the regex tokenizer in :mod:`filters.text_units`, which
  imitates NLTK's English output (punctuation as separate tokens, ``don't -> do n't``).
  Sentence counting (C4) approximates Punkt with a regex and an abbreviation list.
* **Languages without spaces (ja, zh, th, lo, km, my, bo).** Their characters are tokens of
  their own (see :mod:`filters.text_units`), so: the Gopher mean-word-length rule is *not
  applied* (``gopher_q_avg_word_length_applicable = 0``: a character is not a word); the
  word-count bounds count characters that are not punctuation; top n-gram lengths add no
  separator (the text has none); C4's words-per-line and longest-word checks use those
  character tokens instead of ``line.split()`` (which would see one "word" per line and drop
  every line). Sentences (C4) and terminal punctuation (FineWeb's line-punctuation rule) also
  use the scripts' own terminators (``。！？｡`` for ja/zh, ``။`` my, ``។`` km, ``།`` bo); in Thai
  and Lao every space-separated segment is a sentence. All thresholds are applied unchanged.
  They were tuned on English words, and FineWeb-2 re-tuned them per language, so expect more
  rejections: character 5-grams repeat more often than word 5-grams (katakana loanwords), more
  CJK lines are under 30 characters, and Thai/Lao lines have no terminal punctuation, so they
  fail ``fineweb_line_punct_ratio`` unless ``fineweb_line_punct_exclude_zero=True``.
* **Stop words.** Gopher's list (the, be, to, of, and, that, have, with) is English. datatrove
  applies it to any text, but FineWeb only ever saw English. We apply the stop-word rule only
  when a list exists for the language, i.e. only for ``lang == "en"`` (after
  :func:`~filters.text_units.normalize_lang`: ``en-US``, ``eng_Latn`` are English); for every
  other language ``gopher_q_stop_words_applicable = 0`` and the rule is skipped. The count is
  still measured (with the English list) for provenance.
* **Degenerate input.** datatrove raises ``ZeroDivisionError`` on empty text (Gopher repetition
  divides by ``len(text)``) and FineWeb divides by the token count; here every ratio with a zero
  denominator is ``0.0``, so empty or whitespace-only text is measured and then dropped by
  ``gopher_q_word_count``. With no words the mean word length is ``0.0`` and its rule is
  skipped (datatrove's ``np.mean([])`` is NaN, which passes both bounds).
* **Duplicate n-grams** (5..10) are compared token by token; datatrove compares the tokens
  concatenated without spaces, so ``("ab", "c")`` and ``("a", "bc")`` collide there but not
  here (the same characters tokenised differently; practically never happens). Their
  character count is, as in datatrove, the concatenation's length.
* **Document-dropping C4 lines.** datatrove stops at the first ``lorem ipsum``/``{`` line; we
  scan every line so all ``c4_*`` counts are complete, record the index of the first line that
  would drop the document for each reason (``-1``: none), and keep neither in the cleaned text.
  :func:`decide` reports whichever comes first, as datatrove would.
* Gopher repetition lines: FineWeb's 2024 run used datatrove <= 0.2, whose repetition filter
  split lines with ``str.splitlines()`` (blank lines counted as duplicate lines; datatrove issue
  #273, fixed in 0.3.0 by splitting on ``\\n+``). We follow the fixed code.
* Only ``split_paragraph=True`` (C4's and FineWeb's setting) is implemented.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, fields
from itertools import accumulate, compress, repeat
from operator import add, itemgetter, mul, ne

from filters.text_units import (
    NO_SPACE_LANGS,
    count_sentences,
    normalize_lang,
    terminal_punctuation,
    word_tokens,
)

__all__ = [
    "C4Config",
    "C4Result",
    "C4_FINEWEB",
    "DATATROVE_REASONS",
    "DROP_REASONS",
    "GOPHER_STOP_WORDS",
    "PUNCTUATION_SET",
    "QualityDecision",
    "QualitySignals",
    "QualityThresholds",
    "c4_clean",
    "measure_and_clean",
    "decide",
    "evaluate",
    "measure",
    "signal_names",
]

# datatrove/utils/text.py L11-17 (3647626c977e): a token made only of these is a "symbol", not a word.
PUNCTUATION = "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»" + "".join(
    map(chr, (x for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b)))
)
PUNCTUATION_SET = frozenset(PUNCTUATION)

#: Gopher stop words per language (gopher_quality_filter.py L11); the rule applies only to these.
GOPHER_STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(["the", "be", "to", "of", "and", "that", "have", "with"]),
}

# gopher_repetition_filter.py L82-83: n-gram sizes (thresholds are in QualityThresholds).
TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)

# c4_filters.py L14-24
_CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
C4_POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
# fineweb_quality_filter.py L32
FINEWEB_STOP_CHARS = (".", "'", '"', "!", "?")
# fineweb_quality_filter.py L17
FINEWEB_SHORT_LINE_LENGTH = 30

_PARAGRAPH_RE = re.compile(r"\n{2,}")  # gopher_repetition_filter.py L106
_LINE_RE = re.compile(r"\n+")  # gopher_repetition_filter.py L107


# --- data types ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QualitySignals:
    """Every number a FineWeb quality rule looks at; one provenance column each.

    ``gopher_rep_*``, ``gopher_q_*`` and ``c4_*`` are measured on the input text, ``fineweb_*``
    on the C4-cleaned text. Ratios with a zero denominator are 0.0.
    """

    # Gopher repetition (input text)
    gopher_rep_dup_para_frac: float  # duplicate paragraphs / paragraphs
    gopher_rep_dup_para_char_frac: float  # chars in duplicate paragraphs / len(text)
    gopher_rep_dup_line_frac: float  # duplicate lines / lines
    gopher_rep_dup_line_char_frac: float  # chars in duplicate lines / len(text)
    gopher_rep_top_2gram_char_frac: float  # chars covered by the most frequent 2-gram / len(text)
    gopher_rep_top_3gram_char_frac: float
    gopher_rep_top_4gram_char_frac: float
    gopher_rep_dup_5gram_char_frac: float  # chars in repeated 5-grams (greedy scan) / len(text)
    gopher_rep_dup_6gram_char_frac: float
    gopher_rep_dup_7gram_char_frac: float
    gopher_rep_dup_8gram_char_frac: float
    gopher_rep_dup_9gram_char_frac: float
    gopher_rep_dup_10gram_char_frac: float
    # Gopher quality (input text)
    gopher_q_token_count: int  # all tokens, punctuation included
    gopher_q_word_count: int  # tokens with a character outside PUNCTUATION_SET
    gopher_q_avg_word_length: float  # mean length of those words (0.0 if none)
    gopher_q_avg_word_length_applicable: int  # 0 for languages without spaces (character tokens)
    gopher_q_hash_word_ratio: float  # text.count('#') / tokens
    gopher_q_ellipsis_word_ratio: float  # (count('...') + count('…')) / tokens
    gopher_q_bullet_lines_ratio: float  # lines starting with • or - / lines
    gopher_q_ellipsis_lines_ratio: float  # lines ending with ... or … / lines
    gopher_q_alpha_words_ratio: float  # tokens with an alphabetic character / tokens
    gopher_q_stop_word_count: int  # tokens in the stop-word list (English list if none for lang)
    gopher_q_stop_words_applicable: int  # 1 when a stop-word list exists for the language
    # C4 quality (input text, line by line)
    c4_lines_total: int
    c4_lines_too_long_word: int  # removed: a word over max_word_length chars
    c4_lines_no_terminal_punct: int  # removed (0 unless filter_no_terminal_punct; FineWeb: off)
    c4_lines_too_few_words: int  # removed: fewer than min_words_per_line words
    c4_lines_javascript: int  # removed: mentions javascript
    c4_lines_policy: int  # removed: cookie / terms-of-use phrase
    c4_lines_kept: int
    c4_sentence_count: int  # sentences in kept lines
    c4_lorem_ipsum_line: int  # index of the first line that drops the doc for lorem ipsum, -1: none
    c4_curly_bracket_line: int  # index of the first line that drops the doc for '{', -1: none
    c4_cleaned_chars: int  # length of the C4-cleaned text the FineWeb rules see
    # FineWeb quality (C4-cleaned text)
    fineweb_line_count: int
    fineweb_line_punct_ratio: float  # lines ending in terminal punctuation / lines
    fineweb_short_line_ratio: float  # lines of <= 30 chars / lines
    fineweb_char_dup_ratio: float  # chars in duplicate non-blank lines / chars without newlines
    fineweb_list_ratio: float  # newlines / tokens


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """FineWeb's thresholds (datatrove defaults as FineWeb ran them). ``None`` disables a rule.

    Comparisons are datatrove's: ``max_*`` fail when the signal is greater, ``min_*`` when it is
    smaller, except the FineWeb rules noted below.
    """

    # gopher_repetition_filter.py L78-83 (fail if signal > threshold)
    gopher_rep_dup_para_frac: float | None = 0.3
    gopher_rep_dup_para_char_frac: float | None = 0.2
    gopher_rep_dup_line_frac: float | None = 0.3
    gopher_rep_dup_line_char_frac: float | None = 0.2
    gopher_rep_top_2gram_char_frac: float | None = 0.2
    gopher_rep_top_3gram_char_frac: float | None = 0.18
    gopher_rep_top_4gram_char_frac: float | None = 0.16
    gopher_rep_dup_5gram_char_frac: float | None = 0.15
    gopher_rep_dup_6gram_char_frac: float | None = 0.14
    gopher_rep_dup_7gram_char_frac: float | None = 0.13
    gopher_rep_dup_8gram_char_frac: float | None = 0.12
    gopher_rep_dup_9gram_char_frac: float | None = 0.11
    gopher_rep_dup_10gram_char_frac: float | None = 0.10
    # gopher_quality_filter.py L19-27
    gopher_q_min_word_count: int | None = 50  # fail if <
    gopher_q_max_word_count: int | None = 100_000  # fail if >
    gopher_q_min_avg_word_length: float | None = 3  # fail if <
    gopher_q_max_avg_word_length: float | None = 10  # fail if >
    gopher_q_max_hash_word_ratio: float | None = 0.1  # max_symbol_word_ratio; fail if >
    gopher_q_max_ellipsis_word_ratio: float | None = 0.1  # max_symbol_word_ratio; fail if >
    gopher_q_max_bullet_lines_ratio: float | None = 0.9  # fail if >
    gopher_q_max_ellipsis_lines_ratio: float | None = 0.3  # fail if >
    gopher_q_min_alpha_words_ratio: float | None = 0.8  # datatrove: max_non_alpha_words_ratio; fail if <
    gopher_q_min_stop_words: int | None = 2  # fail if <
    # c4_filters.py L66 (fail if <)
    c4_min_sentences: int | None = 5
    # fineweb_quality_filter.py L14-19
    fineweb_line_punct_thr: float | None = 0.12  # fail if <=
    fineweb_line_punct_exclude_zero: bool = False  # if True, a ratio of exactly 0 passes
    fineweb_short_line_thr: float | None = 0.67  # fail if >=
    fineweb_char_dup_ratio: float | None = 0.01  # fail if >=
    fineweb_new_line_ratio: float | None = 0.3  # fail if >


@dataclass(frozen=True, slots=True)
class QualityDecision:
    kept: bool
    drop_reason: str | None  # first failed rule in FineWeb order (one of DROP_REASONS), None if kept


@dataclass(frozen=True, slots=True)
class C4Config:
    """C4QualityFilter's line-level settings: they change the cleaned text, so they are measured."""

    remove_citations: bool = True  # c4_filters.py L64
    filter_no_terminal_punct: bool = False  # L65 defaults to True; FineWeb passes False (fineweb.py L56)
    min_words_per_line: int = 3  # L67 (-1 disables)
    max_word_length: int = 1000  # L68 (-1 disables)
    filter_lorem_ipsum: bool = True  # L69
    filter_javascript: bool = True  # L70
    filter_curly_bracket: bool = True  # L71
    filter_policy: bool = True  # L72


C4_FINEWEB = C4Config()


@dataclass(frozen=True, slots=True)
class C4Result:
    """What :func:`c4_clean` did to each line (the ``c4_*`` signals without the prefix)."""

    lines_total: int
    lines_too_long_word: int
    lines_no_terminal_punct: int
    lines_too_few_words: int
    lines_javascript: int
    lines_policy: int
    lines_kept: int
    sentence_count: int
    lorem_ipsum_line: int
    curly_bracket_line: int


#: Every drop reason, in the order decide() checks them.
DROP_REASONS: tuple[str, ...] = (
    "gopher_rep_dup_para_frac",
    "gopher_rep_dup_para_char_frac",
    "gopher_rep_dup_line_frac",
    "gopher_rep_dup_line_char_frac",
    *(f"gopher_rep_top_{n}gram_char_frac" for n in TOP_NGRAM_SIZES),
    *(f"gopher_rep_dup_{n}gram_char_frac" for n in DUP_NGRAM_SIZES),
    "gopher_q_word_count",  # too few or too many words
    "gopher_q_avg_word_length",  # too short or too long on average
    "gopher_q_hash_word_ratio",
    "gopher_q_ellipsis_word_ratio",
    "gopher_q_bullet_lines_ratio",
    "gopher_q_ellipsis_lines_ratio",
    "gopher_q_alpha_words_ratio",
    "gopher_q_stop_word_count",
    "c4_lorem_ipsum",  # or c4_curly_bracket, whichever line comes first
    "c4_curly_bracket",
    "c4_sentence_count",
    "fineweb_line_punct_ratio",
    "fineweb_short_line_ratio",
    "fineweb_char_dup_ratio",
    "fineweb_list_ratio",
)

#: Our drop reason -> datatrove's (filter name, reason string(s)), for cross-checking with its logs.
DATATROVE_REASONS: dict[str, str] = {
    "gopher_rep_dup_para_frac": "GopherRepetitionFilter:dup_para_frac",
    "gopher_rep_dup_para_char_frac": "GopherRepetitionFilter:dup_para_char_frac",
    "gopher_rep_dup_line_frac": "GopherRepetitionFilter:dup_line_frac",
    "gopher_rep_dup_line_char_frac": "GopherRepetitionFilter:dup_line_char_frac",
    **{f"gopher_rep_top_{n}gram_char_frac": f"GopherRepetitionFilter:top_{n}_gram" for n in TOP_NGRAM_SIZES},
    **{f"gopher_rep_dup_{n}gram_char_frac": f"GopherRepetitionFilter:duplicated_{n}_n_grams" for n in DUP_NGRAM_SIZES},
    "gopher_q_word_count": "GopherQualityFilter:gopher_short_doc|gopher_long_doc",
    "gopher_q_avg_word_length": "GopherQualityFilter:gopher_below_avg_threshold|gopher_above_avg_threshold",
    "gopher_q_hash_word_ratio": "GopherQualityFilter:gopher_too_many_hashes",
    "gopher_q_ellipsis_word_ratio": "GopherQualityFilter:gopher_too_many_ellipsis",
    "gopher_q_bullet_lines_ratio": "GopherQualityFilter:gopher_too_many_bullets",
    "gopher_q_ellipsis_lines_ratio": "GopherQualityFilter:gopher_too_many_end_ellipsis",
    "gopher_q_alpha_words_ratio": "GopherQualityFilter:gopher_below_alpha_threshold",
    "gopher_q_stop_word_count": "GopherQualityFilter:gopher_enough_stop_words",
    "c4_lorem_ipsum": "C4QualityFilter:lorem_ipsum",
    "c4_curly_bracket": "C4QualityFilter:curly_bracket",
    "c4_sentence_count": "C4QualityFilter:too_few_sentences",
    "fineweb_line_punct_ratio": "FineWebQualityFilter:line_punct_ratio",
    "fineweb_short_line_ratio": "FineWebQualityFilter:short_line_ratio",
    "fineweb_char_dup_ratio": "FineWebQualityFilter:char_dup_ratio",
    "fineweb_list_ratio": "FineWebQualityFilter:list_ratio",
}


def signal_names() -> tuple[str, ...]:
    """QualitySignals field names in declaration order (for building the provenance schema)."""
    return _SIGNAL_NAMES


_SIGNAL_NAMES = tuple(f.name for f in fields(QualitySignals))


# --- measuring ----------------------------------------------------------------------------------


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _duplicates(items: list[str]) -> tuple[int, int]:
    """datatrove's find_duplicates: (#occurrences after the first, their total length)."""
    unique = set(items)
    n_dup = len(items) - len(unique)
    if not n_dup:
        return 0, 0
    return n_dup, sum(map(len, items)) - sum(map(len, unique))


def _first_occurrence_levels(tokens: list[str], max_n: int):
    """Yield ``(n, ids)`` for n = 2..max_n, where ``ids[i]`` is the position where the n-gram
    starting at ``i`` first occurs. Equal ids <=> equal n-grams, so ids stand in for n-grams
    (ints: cheap to hash, not tracked by the garbage collector). Level n+1 is built from
    level n: key = id_n[i] * B + token_id[i + n]. All loops run in C (map / dict.setdefault).
    """
    n_tokens = len(tokens)
    base = n_tokens + 1
    token_ids = list(map({}.setdefault, tokens, range(n_tokens)))
    ids = token_ids
    for n in range(2, max_n + 1):
        m = n_tokens - n + 1
        if m <= 0:
            return
        keys = map(add, map(mul, ids, repeat(base)), token_ids[n - 1 :])
        ids = list(map({}.setdefault, keys, range(m)))
        yield n, ids


def _top_ngram_chars(ids: list[int], n: int, cum: list[int], sep: int) -> int:
    """datatrove's find_top_duplicate: length of the most frequent n-gram (joined with ``sep``
    characters) times its count; ties go to the n-gram seen first, as with Counter.most_common."""
    first, count = max(Counter(ids).items(), key=itemgetter(1))
    return (cum[first + n] - cum[first] + sep * (n - 1)) * count


def _dup_ngram_chars(ids: list[int], n: int, cum: list[int]) -> int:
    """datatrove's find_all_duplicate: scan left to right; an n-gram seen before adds its
    characters (tokens concatenated) and the scan jumps n positions, otherwise it is recorded.

    Only positions whose n-gram occurred earlier (``ids[i] != i``) can be hits; the stretch
    before each of them is recorded in bulk, and skipped positions are passed by bisection.
    """
    m = len(ids)
    repeats = list(compress(range(m), map(ne, ids, range(m))))
    n_rep = len(repeats)
    seen: set[int] = set()
    idx = repeated = k = 0
    while k < n_rep:
        q = repeats[k]
        if q < idx:
            k = bisect_left(repeats, idx, k + 1)
            continue
        seen.update(ids[idx:q])  # visited, all first occurrences, so none was a hit
        gram = ids[q]
        if gram in seen:
            repeated += cum[q + n] - cum[q]
            idx = q + n
            if k + n < n_rep and repeats[k + n] == idx:  # a run of repeats: no need to bisect
                k += n
                continue
        else:
            seen.add(gram)
            idx = q + 1
        k += 1
    return repeated


def _gopher_repetition(text: str, tokens: list[str], sep: int) -> dict[str, float]:
    n_chars = len(text)
    paragraphs = _PARAGRAPH_RE.split(text.strip())
    para_dup, para_chars = _duplicates(paragraphs)
    lines = _LINE_RE.split(text)
    line_dup, line_chars = _duplicates(lines)
    out = {
        "gopher_rep_dup_para_frac": _ratio(para_dup, len(paragraphs)),
        "gopher_rep_dup_para_char_frac": _ratio(para_chars, n_chars),
        "gopher_rep_dup_line_frac": _ratio(line_dup, len(lines)),
        "gopher_rep_dup_line_char_frac": _ratio(line_chars, n_chars),
    }
    for n in TOP_NGRAM_SIZES:
        out[f"gopher_rep_top_{n}gram_char_frac"] = 0.0
    for n in DUP_NGRAM_SIZES:
        out[f"gopher_rep_dup_{n}gram_char_frac"] = 0.0
    cum = list(accumulate(map(len, tokens), initial=0))
    for n, ids in _first_occurrence_levels(tokens, DUP_NGRAM_SIZES[-1]):
        if n in TOP_NGRAM_SIZES:
            out[f"gopher_rep_top_{n}gram_char_frac"] = _ratio(_top_ngram_chars(ids, n, cum, sep), n_chars)
        elif n in DUP_NGRAM_SIZES:
            chars = _dup_ngram_chars(ids, n, cum)
            out[f"gopher_rep_dup_{n}gram_char_frac"] = _ratio(chars, n_chars)
            if not chars:
                break  # a repeated (n+1)-gram contains a repeated n-gram: none from here on
    return out


def _gopher_quality(text: str, tokens: list[str], lang: str) -> dict[str, float]:
    n_tokens = len(tokens)
    stop_words = GOPHER_STOP_WORDS.get(lang)
    count_with = stop_words if stop_words is not None else GOPHER_STOP_WORDS["en"]
    is_symbol = PUNCTUATION_SET.issuperset
    # One pass over the distinct tokens (a text repeats most of its tokens).
    n_words = word_chars = n_alpha = n_stop = 0
    for token, count in Counter(tokens).items():
        if not is_symbol(token):
            n_words += count
            word_chars += len(token) * count
        if token.isalpha() or any(map(str.isalpha, token)):
            n_alpha += count
        if token in count_with:
            n_stop += count
    lines = text.splitlines()
    n_lines = len(lines)
    return {
        "gopher_q_token_count": n_tokens,
        "gopher_q_word_count": n_words,
        "gopher_q_avg_word_length": _ratio(word_chars, n_words),
        "gopher_q_avg_word_length_applicable": int(lang not in NO_SPACE_LANGS),
        "gopher_q_hash_word_ratio": _ratio(text.count("#"), n_tokens),
        "gopher_q_ellipsis_word_ratio": _ratio(text.count("...") + text.count("…"), n_tokens),
        "gopher_q_bullet_lines_ratio": _ratio(sum(1 for s in lines if s.lstrip().startswith(("•", "-"))), n_lines),
        "gopher_q_ellipsis_lines_ratio": _ratio(sum(1 for s in lines if s.rstrip().endswith(("...", "…"))), n_lines),
        "gopher_q_alpha_words_ratio": _ratio(n_alpha, n_tokens),
        "gopher_q_stop_word_count": n_stop,
        "gopher_q_stop_words_applicable": int(stop_words is not None),
    }


def _has_policy_phrase(line_l: str) -> bool:
    # Cheap pre-check: every phrase contains one of these three.
    if "cookie" in line_l or "terms of use" in line_l or "privacy policy" in line_l:
        return any(p in line_l for p in C4_POLICY_SUBSTRINGS)
    return False


def _char_words(line: str) -> list[str]:
    """Words of a line in a language without spaces: character tokens that are not punctuation."""
    is_symbol = PUNCTUATION_SET.issuperset
    return [w for w in word_tokens(line) if not is_symbol(w)]


def c4_clean(text: str, lang: str = "en", config: C4Config = C4_FINEWEB) -> tuple[str, C4Result]:
    """C4QualityFilter's line filtering (FineWeb settings): the cleaned text and what happened.

    Lines that would drop the whole document (``lorem ipsum``, ``{``) are recorded in
    ``lorem_ipsum_line`` / ``curly_bracket_line`` and left out of the cleaned text; whether the
    document is dropped is :func:`decide`'s call.
    """
    return _c4_clean(text, normalize_lang(lang), config, None, None)


def _c4_clean(
    text: str, lang: str, config: C4Config, removed: list[str] | None, added: list[str] | None
) -> tuple[str, C4Result]:
    """c4_clean. If ``removed`` and ``added`` are lists, the lines whose tokens leave the text
    and the lines whose tokens join it (citation removal) are appended to them, so that the
    cleaned text's token count follows without tokenising it again."""
    char_mode = lang in NO_SPACE_LANGS
    end_punct = C4_END_PUNCTUATION + terminal_punctuation(lang)
    max_len = config.max_word_length
    min_words = config.min_words_per_line
    # counters: too long word, no terminal punctuation, too few words, javascript, policy
    too_long = no_punct = too_few = javascript = policy = sentences = 0
    lorem_line = curly_line = -1
    kept: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        line = original = line.strip()
        words = _char_words(line) if char_mode else line.split()
        if max_len != -1 and words and max(map(len, words)) > max_len:
            too_long += 1
        else:
            if config.remove_citations and "[" in line:
                line = _CITATION_RE.sub("", line)
            if config.filter_no_terminal_punct and (not line.endswith(end_punct) or line.endswith("...")):
                no_punct += 1
            elif len(words) < min_words:
                too_few += 1
            else:
                line_l = line.lower()
                if config.filter_lorem_ipsum and "lorem ipsum" in line_l:
                    if lorem_line < 0:
                        lorem_line = i
                elif config.filter_javascript and "javascript" in line_l:
                    javascript += 1
                elif config.filter_curly_bracket and "{" in line:
                    if curly_line < 0:
                        curly_line = i
                elif config.filter_policy and _has_policy_phrase(line_l):
                    policy += 1
                else:
                    sentences += count_sentences(line, lang)
                    kept.append(line)
                    if removed is not None and line is not original:  # citations were removed
                        removed.append(original)
                        added.append(line)  # type: ignore[union-attr]
                    continue
        if removed is not None:
            removed.append(original)
    result = C4Result(
        lines_total=len(lines),
        lines_too_long_word=too_long,
        lines_no_terminal_punct=no_punct,
        lines_too_few_words=too_few,
        lines_javascript=javascript,
        lines_policy=policy,
        lines_kept=len(kept),
        sentence_count=sentences,
        lorem_ipsum_line=lorem_line,
        curly_bracket_line=curly_line,
    )
    return "\n".join(kept).strip(), result


def _fineweb_quality(text: str, lang: str, short_line_length: int, n_tokens: int) -> dict[str, float]:
    """FineWeb rules' signals on the C4-cleaned ``text`` (``n_tokens``: its token count)."""
    lines = text.split("\n")
    n_lines = len(lines)
    stop_chars = FINEWEB_STOP_CHARS + terminal_punctuation(lang)
    non_blank = [line for line in lines if line.strip()]
    newlines = n_lines - 1
    return {
        "fineweb_line_count": n_lines,
        "fineweb_line_punct_ratio": sum(1 for line in lines if line.endswith(stop_chars)) / n_lines,
        "fineweb_short_line_ratio": sum(1 for line in lines if len(line) <= short_line_length) / n_lines,
        "fineweb_char_dup_ratio": _ratio(_duplicates(non_blank)[1], len(text) - newlines),
        "fineweb_list_ratio": _ratio(newlines, n_tokens),
    }


def measure(
    text: str,
    lang: str = "en",
    *,
    c4_config: C4Config = C4_FINEWEB,
    short_line_length: int = FINEWEB_SHORT_LINE_LENGTH,
) -> QualitySignals:
    """Measure every FineWeb quality signal of ``text`` (see the module docstring for which text
    each group sees). ``lang`` is a language code (``en``, ``en-US``, ``zho``, ...)."""
    return measure_and_clean(text, lang, c4_config=c4_config, short_line_length=short_line_length)[0]


def measure_and_clean(
    text: str,
    lang: str = "en",
    *,
    c4_config: C4Config = C4_FINEWEB,
    short_line_length: int = FINEWEB_SHORT_LINE_LENGTH,
) -> tuple[QualitySignals, str]:
    """:func:`measure`, plus the C4-cleaned text it computed on the way (what FineWeb passes on
    to the next step), so a pipeline does not clean the text twice."""
    lang = normalize_lang(lang)
    tokens = word_tokens(text)
    sep = 0 if lang in NO_SPACE_LANGS else 1
    removed: list[str] = []
    added: list[str] = []
    cleaned, c4 = _c4_clean(text, lang, c4_config, removed, added)
    # Tokens never span lines, so the cleaned text's tokens are the input's minus those of the
    # removed lines plus those of citation-stripped lines.
    n_clean_tokens = len(tokens) - len(word_tokens("\n".join(removed))) + len(word_tokens("\n".join(added)))
    signals = QualitySignals(
        **_gopher_repetition(text, tokens, sep),
        **_gopher_quality(text, tokens, lang),
        c4_lines_total=c4.lines_total,
        c4_lines_too_long_word=c4.lines_too_long_word,
        c4_lines_no_terminal_punct=c4.lines_no_terminal_punct,
        c4_lines_too_few_words=c4.lines_too_few_words,
        c4_lines_javascript=c4.lines_javascript,
        c4_lines_policy=c4.lines_policy,
        c4_lines_kept=c4.lines_kept,
        c4_sentence_count=c4.sentence_count,
        c4_lorem_ipsum_line=c4.lorem_ipsum_line,
        c4_curly_bracket_line=c4.curly_bracket_line,
        c4_cleaned_chars=len(cleaned),
        **_fineweb_quality(cleaned, lang, short_line_length, n_clean_tokens),
    )
    return signals, cleaned


# --- deciding -----------------------------------------------------------------------------------

_GOPHER_REP_MAX = tuple(name for name in DROP_REASONS if name.startswith("gopher_rep_"))
_KEPT = QualityDecision(True, None)


def _drop(reason: str) -> QualityDecision:
    return QualityDecision(False, reason)


def decide(signals: QualitySignals, thresholds: QualityThresholds = QualityThresholds()) -> QualityDecision:
    """Apply FineWeb's rules in pipeline order (Gopher repetition, Gopher quality, C4, FineWeb)
    and return the first that fails."""
    s, t = signals, thresholds

    # Gopher repetition: fail if signal > threshold; 0/None disables (datatrove: `if thr and`).
    for name in _GOPHER_REP_MAX:
        thr = getattr(t, name)
        if thr and getattr(s, name) > thr:
            return _drop(name)

    # Gopher quality
    n = s.gopher_q_word_count
    if (t.gopher_q_min_word_count and n < t.gopher_q_min_word_count) or (
        t.gopher_q_max_word_count and n > t.gopher_q_max_word_count
    ):
        return _drop("gopher_q_word_count")
    if s.gopher_q_avg_word_length_applicable and n:  # no words: NaN mean in datatrove, passes
        avg = s.gopher_q_avg_word_length
        if (t.gopher_q_min_avg_word_length and avg < t.gopher_q_min_avg_word_length) or (
            t.gopher_q_max_avg_word_length and avg > t.gopher_q_max_avg_word_length
        ):
            return _drop("gopher_q_avg_word_length")
    if t.gopher_q_max_hash_word_ratio and s.gopher_q_hash_word_ratio > t.gopher_q_max_hash_word_ratio:
        return _drop("gopher_q_hash_word_ratio")
    if t.gopher_q_max_ellipsis_word_ratio and s.gopher_q_ellipsis_word_ratio > t.gopher_q_max_ellipsis_word_ratio:
        return _drop("gopher_q_ellipsis_word_ratio")
    if t.gopher_q_max_bullet_lines_ratio and s.gopher_q_bullet_lines_ratio > t.gopher_q_max_bullet_lines_ratio:
        return _drop("gopher_q_bullet_lines_ratio")
    if t.gopher_q_max_ellipsis_lines_ratio and s.gopher_q_ellipsis_lines_ratio > t.gopher_q_max_ellipsis_lines_ratio:
        return _drop("gopher_q_ellipsis_lines_ratio")
    if t.gopher_q_min_alpha_words_ratio and s.gopher_q_alpha_words_ratio < t.gopher_q_min_alpha_words_ratio:
        return _drop("gopher_q_alpha_words_ratio")
    if (
        s.gopher_q_stop_words_applicable
        and t.gopher_q_min_stop_words
        and s.gopher_q_stop_word_count < t.gopher_q_min_stop_words
    ):
        return _drop("gopher_q_stop_word_count")

    # C4: the first document-dropping line wins (lorem ipsum is checked first within a line).
    lorem, curly = s.c4_lorem_ipsum_line, s.c4_curly_bracket_line
    if lorem >= 0 and (curly < 0 or lorem <= curly):
        return _drop("c4_lorem_ipsum")
    if curly >= 0:
        return _drop("c4_curly_bracket")
    if t.c4_min_sentences is not None and s.c4_sentence_count < t.c4_min_sentences:
        return _drop("c4_sentence_count")

    # FineWeb quality (on the C4-cleaned text)
    ratio = s.fineweb_line_punct_ratio
    if (
        t.fineweb_line_punct_thr is not None
        and ratio <= t.fineweb_line_punct_thr
        and not (ratio == 0 and t.fineweb_line_punct_exclude_zero)
    ):
        return _drop("fineweb_line_punct_ratio")
    if t.fineweb_short_line_thr is not None and s.fineweb_short_line_ratio >= t.fineweb_short_line_thr:
        return _drop("fineweb_short_line_ratio")
    if t.fineweb_char_dup_ratio is not None and s.fineweb_char_dup_ratio >= t.fineweb_char_dup_ratio:
        return _drop("fineweb_char_dup_ratio")
    if t.fineweb_new_line_ratio is not None and s.fineweb_list_ratio > t.fineweb_new_line_ratio:
        return _drop("fineweb_list_ratio")
    return _KEPT


def evaluate(
    text: str, lang: str = "en", thresholds: QualityThresholds = QualityThresholds()
) -> tuple[QualitySignals, QualityDecision]:
    """``measure`` then ``decide``: the signals (for provenance) and the decision."""
    signals = measure(text, lang)
    return signals, decide(signals, thresholds)
