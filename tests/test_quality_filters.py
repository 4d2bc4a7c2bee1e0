"""Tests for filters.quality (FineWeb's quality rules: measure -> decide) and filters.text_units.

Every rule gets a realistic document that trips it (checked to be *that* rule: with its
threshold switched off the document is no longer dropped for it) and a near miss that passes.
The optimised measurements are cross-checked against literal ports of datatrove's algorithms.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
import time
from collections import Counter

import pytest

from filters.quality import (
    C4_FINEWEB,
    DATATROVE_REASONS,
    DROP_REASONS,
    PUNCTUATION_SET,
    C4Config,
    QualityDecision,
    QualitySignals,
    QualityThresholds,
    c4_clean,
    decide,
    evaluate,
    measure,
    signal_names,
)
from filters.text_units import count_sentences, normalize_lang, word_tokens

DEFAULT = QualityThresholds()

# --- documents ----------------------------------------------------------------------------------

ARTICLE = """The History of Sourdough Bread in Northern Europe

Sourdough is one of the oldest forms of leavened bread. Long before commercial yeast was sold in paper packets, bakers kept a living culture of wild yeasts and lactic acid bacteria in a crock near the oven, feeding it with flour and water every day. A portion of that starter was mixed into each new batch of dough, and a portion of the dough was set aside to become the next starter. In this way a single culture could be kept alive for decades, passed from one generation of bakers to the next.

In the rye-growing regions of Germany, Poland and Scandinavia, sourdough was not merely a matter of taste. Rye flour contains little gluten and a great deal of an enzyme that breaks down starch, which makes a dough that is sticky and collapses in the oven. The acidity produced by the bacteria in a sourdough culture slows that enzyme down, so that the loaf can hold its shape. Without the sour culture, a good rye bread is almost impossible to bake, and this is why the dark, dense loaves of the north are almost always sourdough breads.

Medieval town records show that bakers were closely regulated. Guilds set the weight and price of a loaf, and a baker who sold bread that was too light could be fined or, in some cities, publicly shamed. Because the price of grain changed from year to year, the weight of a standard loaf changed with it, while the price stayed the same. Historians have used these records to reconstruct grain prices and harvests over several centuries.

The arrival of industrial yeast in the nineteenth century changed baking in the cities. Yeast from breweries and, later, from dedicated factories was fast and predictable, and it allowed bakers to produce light wheat bread on a large scale. Sourdough survived mainly in the countryside and in the rye-bread traditions of the north and east, where the old methods were still needed.

In recent decades sourdough has enjoyed a revival. Home bakers have rediscovered the pleasure of keeping a starter, and many small bakeries now advertise long fermentation as a mark of quality. Researchers have also taken an interest in the microbiology of these cultures. They have found that a typical starter contains only a handful of dominant species, but that the exact mix depends on the flour, the temperature and the habits of the baker. Two starters kept side by side in the same kitchen can slowly drift apart.

How to keep a starter alive

Keeping a starter is less difficult than it sounds. Mix equal weights of flour and water in a clean jar, cover it loosely and leave it at room temperature. After a day or two small bubbles will appear. Discard about half of the mixture each day and feed the rest with fresh flour and water. Within a week or so the culture should rise and fall in a regular rhythm, and it will smell pleasantly sour, a little like yoghurt or green apples.

A healthy starter can be kept in the refrigerator when it is not needed. It should be fed about once a week, and it should be taken out a day before baking so that it can become active again. If a layer of grey liquid forms on the surface, it can simply be poured off or stirred back in; it is a sign that the culture is hungry, not that it has died.

Bakers often give their starters names, and some claim that their culture is more than a hundred years old. Such claims are hard to check, since the population of microbes in a starter changes with every feeding. What is passed down is perhaps less a particular set of organisms than a set of habits: the flour, the timing and the care that shape the culture over time.

Why it still matters

Sourdough bread keeps longer than bread made with commercial yeast, because the acidity slows the growth of mould. Some people also find it easier to digest, although the scientific evidence for this is still limited. For many bakers, however, the main reason to bake with sourdough is the flavour, which is deeper and more complex than that of a quick yeast bread.

The story of sourdough is also a story about how knowledge is kept. Recipes were rarely written down; they were learned by watching and by doing. The revival of the craft has depended on older bakers who were willing to teach, and on the curiosity of people who wanted to understand why the old methods worked. In that sense, every jar of starter on a kitchen shelf is a small piece of living history.
"""

GERMAN = """Die Geschichte des Sauerteigbrotes

Sauerteig gehört zu den ältesten Formen gelockerten Brotes. Lange bevor Hefe in kleinen Würfeln verkauft wurde, hielten Bäcker eine lebendige Kultur aus wilden Hefen und Milchsäurebakterien in einem Tontopf neben dem Ofen. Sie fütterten diese Kultur jeden Tag mit Mehl und Wasser.

In den Roggenregionen Deutschlands, Polens und Skandinaviens war Sauerteig nicht nur eine Frage des Geschmacks. Roggenmehl enthält wenig Kleber, dafür aber viele Enzyme, die Stärke abbauen. Die Säure der Bakterien bremst diese Enzyme, sodass der Laib im Ofen seine Form behält. Ohne Sauerteig lässt sich ein gutes Roggenbrot kaum backen.

Mittelalterliche Stadtordnungen zeigen, wie streng das Bäckerhandwerk geregelt war. Zünfte legten Gewicht und Preis eines Brotes fest, und wer zu leichte Laibe verkaufte, musste mit einer Strafe rechnen. Weil sich der Getreidepreis von Jahr zu Jahr änderte, änderte sich auch das Gewicht des Standardbrotes.

Heute erlebt der Sauerteig eine Renaissance. Viele Menschen backen wieder zu Hause, geben ihrem Ansatz einen Namen und pflegen ihn über Jahre. Forscher untersuchen die Mikroorganismen in diesen Kulturen und stellen fest, dass jede Backstube ihre eigene Mischung hervorbringt.
"""

CHINESE = """酸面包的历史

酸面包是人类最古老的发酵面包之一。在商业酵母出现以前，面包师会在炉子旁边保存一罐由野生酵母和乳酸菌组成的面种，每天用面粉和清水喂养它。每次做面包时，他们都会取出一部分面种加入新的面团里。

在德国、波兰和北欧的黑麦产区，酸面种不仅仅关乎口味。黑麦粉中的面筋很少，却含有大量分解淀粉的酶。乳酸菌产生的酸性环境能够抑制这些酶的活性，使面包在烤箱里保持形状。没有酸面种，很难烤出一个好的黑麦面包。

中世纪的城市档案显示，面包行业受到严格的管理。行会规定了每个面包的重量和价格，出售分量不足的面包的师傅会被罚款。历史学家利用这些记录，重建了几百年来的粮食价格和收成情况。

近几十年来，酸面包重新受到欢迎。许多人在家里养起了面种，还给它们取了名字。科学家也开始研究这些面种中的微生物，发现每个厨房里的面种都有自己独特的组合。
"""

JAPANESE = """サワードウの歴史

サワードウは最も古い発酵パンの一つです。市販のイーストが売られるようになる前、パン職人は野生の酵母と乳酸菌からなる元種を窯のそばの壺で育て、毎日小麦粉と水を与えていました。新しい生地を作るたびに、元種の一部を混ぜ込んだのです。

ドイツやポーランド、北欧のライ麦地帯では、サワードウは味の問題だけではありませんでした。ライ麦粉にはグルテンが少なく、でんぷんを分解する酵素が多く含まれています。乳酸菌が作る酸がその酵素の働きを抑えるため、パンは窯の中で形を保つことができます。

中世の町の記録を見ると、パン屋の仕事は厳しく管理されていたことがわかります。ギルドはパンの重さと値段を決め、軽すぎるパンを売った職人は罰金を払わなければなりませんでした。

近年、サワードウは再び人気を集めています。家庭で元種を育てる人が増え、研究者たちもその微生物の組み合わせに関心を寄せています。
"""

THAI = """ขนมปังซาวร์โดว์เป็นขนมปังหมักที่เก่าแก่ที่สุดชนิดหนึ่ง ก่อนที่จะมียีสต์สำเร็จรูปขาย คนทำขนมปังจะเลี้ยงหัวเชื้อที่มีทั้งยีสต์ธรรมชาติและแบคทีเรียกรดแลคติกไว้ในโถข้างเตาอบ และให้อาหารด้วยแป้งกับน้ำทุกวัน

ในเขตปลูกข้าวไรย์ของเยอรมนีและโปแลนด์ ซาวร์โดว์ไม่ได้เป็นเพียงเรื่องของรสชาติ แป้งข้าวไรย์มีกลูเตนน้อยแต่มีเอนไซม์ที่ย่อยแป้งมาก ความเป็นกรดจากแบคทีเรียช่วยชะลอการทำงานของเอนไซม์นั้น ทำให้ขนมปังคงรูปอยู่ได้ในเตาอบ

ปัจจุบันซาวร์โดว์กลับมาได้รับความนิยมอีกครั้ง หลายคนเลี้ยงหัวเชื้อไว้ที่บ้านและตั้งชื่อให้มันด้วย
"""

PARAGRAPHS = ARTICLE.strip().split("\n\n")  # 13: a title, 2 headings, 10 prose paragraphs
BODY = [p for p in PARAGRAPHS if len(p) > 200]
BODY_TEXT = "\n\n".join(BODY)
SENTENCES = [s for p in BODY for s in p.replace(". ", ".\n").split("\n")]


def sentence_lines(paragraph: str) -> str:
    return paragraph.replace(". ", ".\n")


def insert_every(text: str, phrase: str, k: int) -> str:
    """Keyword stuffing: ``phrase`` after every k-th word of each paragraph."""
    out = []
    for para in text.split("\n\n"):
        words = para.split(" ")
        stuffed = []
        for i, w in enumerate(words):
            stuffed.append(w)
            if i % k == k - 1:
                stuffed.append(phrase)
        out.append(" ".join(stuffed))
    return "\n\n".join(out)


def share_buttons(copies: int) -> str:
    """The article, one sentence per line, with a 'Share this!' paragraph after the first paragraphs."""
    parts = []
    for i, p in enumerate(PARAGRAPHS):
        parts.append(sentence_lines(p))
        if i < copies:
            parts.append("Share this!")
    return "\n\n".join(parts)


def reply_links(links: list[str]) -> str:
    """Forum-style: every paragraph followed by the same link lines (same paragraph)."""
    return "\n\n".join(sentence_lines(p) + "\n" + "\n".join(links) for p in BODY)


DISCLAIMER = (
    "Disclaimer: the information on this page is provided for general interest only and is not "
    "professional baking or nutrition advice."
)


def with_disclaimer(disclaimer: str) -> str:
    return "\n\n".join(disclaimer + "\n" + sentence_lines(p) for p in BODY)


def self_quoting(k: int) -> str:
    """k sentences quoted again ('As noted above: ...') at the end of different paragraphs."""
    paras = list(BODY)
    for j in range(k):
        paras[j % len(paras)] += " As noted above: " + SENTENCES[(7 * j + 3) % len(SENTENCES)]
    return "\n\n".join(paras)


def first_words(n: int) -> str:
    words = [w.strip(".,;:") for w in " ".join(BODY).split()]
    return " ".join(words[:n]) + "."


CHILD_DIARY = (
    "So i am up at six and i go to my job by bus as it is not far if it is wet i do not go on my "
    "own but my dad or mum can go in the car with me we do it a lot and it is ok by me."
)
_LONG_WORD_RNG = random.Random(3)
LONG_WORDS = " ".join(  # a list of long technical terms: mean word length over 10
    _LONG_WORD_RNG.choice(
        [
            "internationalization",
            "telecommunications",
            "characteristically",
            "incomprehensibility",
            "counterrevolutionary",
            "electroencephalogram",
            "uncharacteristically",
            "institutionalization",
            "disproportionately",
            "interdisciplinary",
        ]
    )
    for _ in range(80)
)


def hashtags(n: int) -> str:
    tags = " ".join("#" + w.strip(".,;:").lower() for w in BODY_TEXT.split()[:n])
    return BODY_TEXT + "\n\n" + tags


TEASERS = "\n".join(" ".join(s.split()[:7]) + "..." for s in SENTENCES)


def trailing_ellipses(every: int) -> str:
    return "\n".join(s[:-1] + "..." if i % 5 < every else s for i, s in enumerate(SENTENCES))


def bullet_list(bullets: int, lines: int = 20) -> str:
    return "\n".join(("- " + s) if i < bullets else s for i, s in enumerate(SENTENCES[:lines]))


CITIES = [
    ("Berlin", "Germany", "3,645,000", "891.7"), ("Madrid", "Spain", "3,223,000", "604.3"),
    ("Rome", "Italy", "2,873,000", "1,285.0"), ("Paris", "France", "2,161,000", "105.4"),
    ("Vienna", "Austria", "1,897,000", "414.6"), ("Hamburg", "Germany", "1,841,000", "755.2"),
    ("Warsaw", "Poland", "1,790,000", "517.2"), ("Budapest", "Hungary", "1,752,000", "525.2"),
    ("Barcelona", "Spain", "1,620,000", "101.9"), ("Munich", "Germany", "1,472,000", "310.4"),
    ("Milan", "Italy", "1,352,000", "181.8"), ("Prague", "Czechia", "1,309,000", "496.0"),
    ("Sofia", "Bulgaria", "1,236,000", "492.0"), ("Brussels", "Belgium", "1,209,000", "161.4"),
    ("Stockholm", "Sweden", "975,000", "188.0"), ("Amsterdam", "Netherlands", "873,000", "219.3"),
]  # fmt: skip
CITY_TABLE = (
    "The largest cities of the European Union by population within city limits, with the area of each city.\n"
    + "\n".join(f"| {c} | {k} | {p} | {a} km² |" for c, k, p, a in CITIES)
)

TRAVEL_LINKS = [
    "Cheap Flights Berlin Munich Hamburg Frankfurt Cologne Stuttgart Dresden Leipzig Hanover Nuremberg",
    "Hotel Deals Paris London Rome Madrid Vienna Prague Budapest Warsaw Lisbon Athens Dublin Brussels",
    "Car Rental Airport Pickup Unlimited Mileage Free Cancellation Best Price Guarantee Secure Booking",
    "Travel Insurance Family Plans Single Trip Annual Multi Trip Cover Medical Expenses Baggage Delay",
    "Last Minute Offers Weekend Breaks City Trips Beach Holidays Ski Resorts Cruises Adventure Tours",
]


def travel_links(stop_words: int) -> str:
    lines = [line + "." for line in TRAVEL_LINKS]
    extra = ["the", "and", "with"][:stop_words]
    lines[0] = " ".join([*extra, lines[0]])
    return "\n".join(lines)


def unpunctuated_lines(with_period: int, lines: int = 25) -> str:
    bare = [s[:-1] if s.endswith(".") else s for s in SENTENCES[:lines]]
    return "\n".join(s + "." if i < with_period else s for i, s in enumerate(bare))


RECIPE_INTRO = (
    "This dark rye loaf is baked in a tin and keeps well for a week, which makes it a good everyday bread for a family."
)
RECIPE_METHOD = (
    "Mix everything in a large bowl, cover it and leave it overnight, then scrape the dough into "
    "the tin and bake it for an hour."
)
RECIPE_CRUST = "The crust should be dark and firm, and the crumb moist but not sticky when the loaf is cut."
INGREDIENTS = [
    "2 cups of rye flour.", "1 cup of warm water.", "A pinch of sea salt.", "Half a cup of starter.",
    "1 tablespoon of honey.", "2 teaspoons of caraway.", "A little oil for the tin.",
    "Seeds for the top, if liked.",
]  # fmt: skip
RECIPE_MOSTLY_SHORT = "\n".join([RECIPE_INTRO, *INGREDIENTS, RECIPE_METHOD])  # 8 of 10 lines short
RECIPE_TWO_THIRDS = "\n".join([RECIPE_INTRO, RECIPE_METHOD, RECIPE_CRUST, *INGREDIENTS[:6]])  # 6 of 9


def repeated_line(line: str) -> str:
    return BODY_TEXT.replace(BODY[3], BODY[3] + "\n" + line).replace(BODY[7], BODY[7] + "\n" + line)


LONG_TERMS = [
    "Photovoltaic electricity generation", "Intercontinental transmission corridors",
    "Electrochemical storage technologies", "Decarbonisation pathway modelling",
    "Thermodynamic efficiency improvements", "Hydroelectric reservoir management",
    "Agrivoltaic farmland installations", "Superconducting cable prototypes",
]  # fmt: skip
SHORT_TERMS = [
    "Wind and solar", "Heat of fusion", "Capture and storage", "Grid frequency control",
    "Smart meter data", "Tidal stream power", "Biogas from waste", "Green hydrogen supply",
    "Heat pump grants", "Rooftop solar leasing", "Peak demand pricing", "Battery recycling rules",
    "Energy savings tips",
]  # fmt: skip


def glossary(periods: set[int]) -> str:
    """A keyword list: one term per line, three words each, a few ending in a period."""
    terms = [t for pair in zip(LONG_TERMS, SHORT_TERMS, strict=False) for t in pair] + SHORT_TERMS[len(LONG_TERMS) :]
    return "Renewable energy glossary.\n" + "\n".join(t + "." if i in periods else t for i, t in enumerate(terms))


LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit."

# --- helpers ------------------------------------------------------------------------------------

# The QualityThresholds fields behind each drop reason (switching them off disables the rule).
RULE_THRESHOLDS = {
    **{name: (name,) for name in DROP_REASONS if name.startswith("gopher_rep_")},
    "gopher_q_word_count": ("gopher_q_min_word_count", "gopher_q_max_word_count"),
    "gopher_q_avg_word_length": ("gopher_q_min_avg_word_length", "gopher_q_max_avg_word_length"),
    "gopher_q_hash_word_ratio": ("gopher_q_max_hash_word_ratio",),
    "gopher_q_ellipsis_word_ratio": ("gopher_q_max_ellipsis_word_ratio",),
    "gopher_q_bullet_lines_ratio": ("gopher_q_max_bullet_lines_ratio",),
    "gopher_q_ellipsis_lines_ratio": ("gopher_q_max_ellipsis_lines_ratio",),
    "gopher_q_alpha_words_ratio": ("gopher_q_min_alpha_words_ratio",),
    "gopher_q_stop_word_count": ("gopher_q_min_stop_words",),
    "c4_sentence_count": ("c4_min_sentences",),
    "fineweb_line_punct_ratio": ("fineweb_line_punct_thr",),
    "fineweb_short_line_ratio": ("fineweb_short_line_thr",),
    "fineweb_char_dup_ratio": ("fineweb_char_dup_ratio",),
    "fineweb_list_ratio": ("fineweb_new_line_ratio",),
}
# The C4 document drops are measured, so they are switched off in the C4 configuration.
RULE_C4_SWITCH = {"c4_lorem_ipsum": "filter_lorem_ipsum", "c4_curly_bracket": "filter_curly_bracket"}


def reason(text: str, lang: str = "en", thresholds: QualityThresholds = DEFAULT) -> str | None:
    return decide(measure(text, lang), thresholds).drop_reason


def without_rule(rule: str) -> tuple[QualityThresholds, C4Config]:
    thresholds = dataclasses.replace(DEFAULT, **{f: None for f in RULE_THRESHOLDS.get(rule, ())})
    c4 = C4_FINEWEB
    if rule in RULE_C4_SWITCH:
        c4 = dataclasses.replace(C4_FINEWEB, **{RULE_C4_SWITCH[rule]: False})
    return thresholds, c4


# --- one document per rule ----------------------------------------------------------------------

# (rule, document that trips it, near miss, what happens to the near miss: None = kept)
RULE_CASES = [
    ("gopher_rep_dup_para_frac", share_buttons(8), share_buttons(7), None),  # 7/21 vs 6/20 = 0.3
    ("gopher_rep_dup_para_char_frac", "\n\n".join(BODY + BODY[:3]), "\n\n".join(BODY + BODY[:1]),
     "fineweb_char_dup_ratio"),
    ("gopher_rep_dup_line_frac", reply_links(["Reply", "Share"]), reply_links(["Reply"]), None),
    ("gopher_rep_dup_line_char_frac", with_disclaimer(DISCLAIMER), with_disclaimer(DISCLAIMER[:60]),
     "fineweb_char_dup_ratio"),
    ("gopher_rep_top_2gram_char_frac", insert_every(BODY_TEXT, "Hauptbahnhofrestaurant Berlin", 8),
     insert_every(BODY_TEXT, "Hauptbahnhofrestaurant Berlin", 40), None),
    ("gopher_rep_top_3gram_char_frac", insert_every(BODY_TEXT, "in our Hauptbahnhofrestaurant", 8),
     insert_every(BODY_TEXT, "in our Hauptbahnhofrestaurant", 40), None),
    ("gopher_rep_top_4gram_char_frac", insert_every(BODY_TEXT, "in our Berlin Hauptbahnhofrestaurant", 12),
     insert_every(BODY_TEXT, "in our Berlin Hauptbahnhofrestaurant", 40), None),
    ("gopher_rep_dup_5gram_char_frac", self_quoting(9), self_quoting(6), None),
    ("gopher_rep_dup_10gram_char_frac", self_quoting(7), self_quoting(6), None),
    ("gopher_q_word_count", first_words(49), first_words(50), "c4_sentence_count"),
    ("gopher_q_avg_word_length", CHILD_DIARY, BODY_TEXT, None),
    ("gopher_q_avg_word_length", LONG_WORDS, BODY_TEXT, None),
    ("gopher_q_hash_word_ratio", hashtags(130), hashtags(80), None),
    ("gopher_q_ellipsis_word_ratio", TEASERS, trailing_ellipses(1), None),
    ("gopher_q_bullet_lines_ratio", bullet_list(20), bullet_list(18), None),  # 20/20 vs 18/20 = 0.9
    ("gopher_q_ellipsis_lines_ratio", trailing_ellipses(2), trailing_ellipses(1), None),
    ("gopher_q_alpha_words_ratio", CITY_TABLE, CITY_TABLE + "\n\n" + BODY_TEXT, None),
    ("gopher_q_stop_word_count", travel_links(1), travel_links(2), None),  # 1 vs 2 stop words
    ("c4_lorem_ipsum", BODY_TEXT + "\n\n" + LOREM, BODY_TEXT + "\n\nLorem ipsum", None),
    ("c4_curly_bracket", BODY_TEXT + '\n\nvar config = { theme: "dark" };',
     BODY_TEXT + "\n\nPlease enable JavaScript to see this {widget}.", None),
    ("c4_sentence_count", "\n".join(SENTENCES[:4]), "\n".join(SENTENCES[:5]), None),  # 4 vs 5
    ("fineweb_line_punct_ratio", unpunctuated_lines(3), unpunctuated_lines(4), None),  # 3/25 = 0.12
    ("fineweb_short_line_ratio", RECIPE_MOSTLY_SHORT, RECIPE_TWO_THIRDS, None),
    ("fineweb_char_dup_ratio", repeated_line("Subscribe to our newsletter for more recipes."),
     repeated_line("Thanks for reading."), None),
    ("fineweb_list_ratio", glossary({5, 12}), glossary({5, 12, 16}), None),  # 21/70 = 0.3 passes
]  # fmt: skip
CASE_IDS = [f"{rule}-{i}" for i, (rule, *_) in enumerate(RULE_CASES)]


@pytest.mark.parametrize(("rule", "failing", "near_miss", "near_miss_reason"), RULE_CASES, ids=CASE_IDS)
def test_rule_trips_on_its_document(rule, failing, near_miss, near_miss_reason):
    signals = measure(failing)
    assert decide(signals).drop_reason == rule
    # ... and it is that rule: switched off, the document is no longer dropped for it.
    thresholds, c4 = without_rule(rule)
    assert decide(measure(failing, c4_config=c4), thresholds).drop_reason != rule


@pytest.mark.parametrize(("rule", "failing", "near_miss", "near_miss_reason"), RULE_CASES, ids=CASE_IDS)
def test_near_miss_passes_the_rule(rule, failing, near_miss, near_miss_reason):
    assert reason(near_miss) == near_miss_reason


def test_the_article_is_kept_and_every_rule_has_a_case():
    signals, decision = evaluate(ARTICLE)
    assert decision == QualityDecision(True, None)
    assert signals.gopher_q_stop_words_applicable == 1
    assert signals.gopher_q_avg_word_length_applicable == 1
    covered = {rule for rule, *_ in RULE_CASES}
    untested = set(DROP_REASONS) - covered
    # dup 6..9-gram windows are too narrow for natural text; they are covered by the signal tests.
    assert untested == {f"gopher_rep_dup_{n}gram_char_frac" for n in (6, 7, 8, 9)}


def test_real_text_boundaries_are_exact():
    assert measure(share_buttons(7)).gopher_rep_dup_para_frac == 0.3
    assert measure(first_words(50)).gopher_q_word_count == 50
    assert measure(first_words(49)).gopher_q_word_count == 49
    assert measure(bullet_list(18)).gopher_q_bullet_lines_ratio == 0.9
    assert measure(travel_links(2)).gopher_q_stop_word_count == 2
    assert measure("\n".join(SENTENCES[:5])).c4_sentence_count == 5
    assert measure(unpunctuated_lines(3)).fineweb_line_punct_ratio == 0.12
    assert measure(glossary({5, 12, 16})).fineweb_list_ratio == 0.3


# --- decide: boundaries, order, switches --------------------------------------------------------

BASE = measure(ARTICLE)
UP, DOWN = math.inf, -math.inf


def after(x: float, direction: float) -> float:
    return math.nextafter(x, direction)


# (signal overrides, expected reason) around every default threshold
BOUNDARIES = [
    *(({name: thr}, None) for name, thr in [
        ("gopher_rep_dup_para_frac", 0.3), ("gopher_rep_dup_para_char_frac", 0.2),
        ("gopher_rep_dup_line_frac", 0.3), ("gopher_rep_dup_line_char_frac", 0.2),
        ("gopher_rep_top_2gram_char_frac", 0.2), ("gopher_rep_top_3gram_char_frac", 0.18),
        ("gopher_rep_top_4gram_char_frac", 0.16), ("gopher_rep_dup_5gram_char_frac", 0.15),
        ("gopher_rep_dup_6gram_char_frac", 0.14), ("gopher_rep_dup_7gram_char_frac", 0.13),
        ("gopher_rep_dup_8gram_char_frac", 0.12), ("gopher_rep_dup_9gram_char_frac", 0.11),
        ("gopher_rep_dup_10gram_char_frac", 0.10),
    ]),
    *(({name: after(thr, UP)}, name) for name, thr in [
        ("gopher_rep_dup_para_frac", 0.3), ("gopher_rep_dup_para_char_frac", 0.2),
        ("gopher_rep_dup_line_frac", 0.3), ("gopher_rep_dup_line_char_frac", 0.2),
        ("gopher_rep_top_2gram_char_frac", 0.2), ("gopher_rep_top_3gram_char_frac", 0.18),
        ("gopher_rep_top_4gram_char_frac", 0.16), ("gopher_rep_dup_5gram_char_frac", 0.15),
        ("gopher_rep_dup_6gram_char_frac", 0.14), ("gopher_rep_dup_7gram_char_frac", 0.13),
        ("gopher_rep_dup_8gram_char_frac", 0.12), ("gopher_rep_dup_9gram_char_frac", 0.11),
        ("gopher_rep_dup_10gram_char_frac", 0.10),
    ]),
    ({"gopher_q_word_count": 50}, None),
    ({"gopher_q_word_count": 49}, "gopher_q_word_count"),
    ({"gopher_q_word_count": 100_000}, None),
    ({"gopher_q_word_count": 100_001}, "gopher_q_word_count"),
    ({"gopher_q_avg_word_length": 3.0}, None),
    ({"gopher_q_avg_word_length": after(3.0, DOWN)}, "gopher_q_avg_word_length"),
    ({"gopher_q_avg_word_length": 10.0}, None),
    ({"gopher_q_avg_word_length": after(10.0, UP)}, "gopher_q_avg_word_length"),
    ({"gopher_q_hash_word_ratio": 0.1}, None),
    ({"gopher_q_hash_word_ratio": after(0.1, UP)}, "gopher_q_hash_word_ratio"),
    ({"gopher_q_ellipsis_word_ratio": 0.1}, None),
    ({"gopher_q_ellipsis_word_ratio": after(0.1, UP)}, "gopher_q_ellipsis_word_ratio"),
    ({"gopher_q_bullet_lines_ratio": 0.9}, None),
    ({"gopher_q_bullet_lines_ratio": after(0.9, UP)}, "gopher_q_bullet_lines_ratio"),
    ({"gopher_q_ellipsis_lines_ratio": 0.3}, None),
    ({"gopher_q_ellipsis_lines_ratio": after(0.3, UP)}, "gopher_q_ellipsis_lines_ratio"),
    ({"gopher_q_alpha_words_ratio": 0.8}, None),
    ({"gopher_q_alpha_words_ratio": after(0.8, DOWN)}, "gopher_q_alpha_words_ratio"),
    ({"gopher_q_stop_word_count": 2}, None),
    ({"gopher_q_stop_word_count": 1}, "gopher_q_stop_word_count"),
    ({"c4_sentence_count": 5}, None),
    ({"c4_sentence_count": 4}, "c4_sentence_count"),
    ({"fineweb_line_punct_ratio": 0.12}, "fineweb_line_punct_ratio"),  # FineWeb fails at <=
    ({"fineweb_line_punct_ratio": after(0.12, UP)}, None),
    ({"fineweb_short_line_ratio": 0.67}, "fineweb_short_line_ratio"),  # fails at >=
    ({"fineweb_short_line_ratio": after(0.67, DOWN)}, None),
    ({"fineweb_char_dup_ratio": 0.01}, "fineweb_char_dup_ratio"),  # fails at >=
    ({"fineweb_char_dup_ratio": after(0.01, DOWN)}, None),
    ({"fineweb_list_ratio": 0.3}, None),  # fails at >
    ({"fineweb_list_ratio": after(0.3, UP)}, "fineweb_list_ratio"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "expected"), BOUNDARIES, ids=[str(o) for o, _ in BOUNDARIES])
def test_thresholds_at_the_boundary(overrides, expected):
    assert BASE.gopher_q_word_count > 50 and decide(BASE).kept
    assert decide(dataclasses.replace(BASE, **overrides)).drop_reason == expected


# Signal values that fail each rule (and nothing else) when applied to the kept article.
FAILING = {
    **{name: {name: 0.99} for name in DROP_REASONS if name.startswith("gopher_rep_")},
    "gopher_q_word_count": {"gopher_q_word_count": 10},
    "gopher_q_avg_word_length": {"gopher_q_avg_word_length": 12.0},
    "gopher_q_hash_word_ratio": {"gopher_q_hash_word_ratio": 0.5},
    "gopher_q_ellipsis_word_ratio": {"gopher_q_ellipsis_word_ratio": 0.5},
    "gopher_q_bullet_lines_ratio": {"gopher_q_bullet_lines_ratio": 1.0},
    "gopher_q_ellipsis_lines_ratio": {"gopher_q_ellipsis_lines_ratio": 0.5},
    "gopher_q_alpha_words_ratio": {"gopher_q_alpha_words_ratio": 0.5},
    "gopher_q_stop_word_count": {"gopher_q_stop_word_count": 0},
    "c4_lorem_ipsum": {"c4_lorem_ipsum_line": 3},
    "c4_curly_bracket": {"c4_curly_bracket_line": 7},
    "c4_sentence_count": {"c4_sentence_count": 1},
    "fineweb_line_punct_ratio": {"fineweb_line_punct_ratio": 0.0},
    "fineweb_short_line_ratio": {"fineweb_short_line_ratio": 0.9},
    "fineweb_char_dup_ratio": {"fineweb_char_dup_ratio": 0.5},
    "fineweb_list_ratio": {"fineweb_list_ratio": 0.9},
}


def test_each_failing_signal_is_reported_as_its_rule():
    assert set(FAILING) == set(DROP_REASONS)
    for rule, overrides in FAILING.items():
        assert decide(dataclasses.replace(BASE, **overrides)).drop_reason == rule


def test_drop_reason_is_the_first_failing_rule_in_fineweb_order():
    # DROP_REASONS is gopher_rep -> gopher_q -> c4 -> fineweb; every pair reports the earlier one.
    prefixes = [r.split("_")[0] + ("_rep" if r.startswith("gopher_rep") else "") for r in DROP_REASONS]
    assert prefixes == sorted(prefixes, key=["gopher_rep", "gopher", "c4", "fineweb"].index)
    for i, first in enumerate(DROP_REASONS):
        for later in DROP_REASONS[i + 1 :]:
            signals = dataclasses.replace(BASE, **FAILING[later], **FAILING[first])
            assert decide(signals).drop_reason == first, (first, later)


def test_order_on_real_text():
    # Hashtag spam that also contains lorem ipsum and a curly bracket: Gopher quality comes first.
    text = hashtags(130) + "\n\n" + LOREM + "\n\nvar x = { a: 1 } here"
    assert reason(text) == "gopher_q_hash_word_ratio"
    # Without the hashtags, C4: the lorem ipsum line comes before the curly bracket line.
    assert reason(BODY_TEXT + "\n\n" + LOREM + "\n\nvar x = { a: 1 } here") == "c4_lorem_ipsum"
    assert reason("var x = { a: 1 } here\n" + BODY_TEXT + "\n\n" + LOREM) == "c4_curly_bracket"
    # A lorem ipsum line with a curly bracket: C4 checks lorem ipsum first within a line.
    assert reason(BODY_TEXT + "\n\nLorem ipsum { dolor } sit amet.") == "c4_lorem_ipsum"
    # Too short *and* lorem ipsum *and* a curly bracket: the Gopher word count comes first.
    assert reason(first_words(30) + "\n" + LOREM + "\nvar x = { a: 1 } here") == "gopher_q_word_count"
    # A tiny text fails Gopher repetition before that: its only 2-gram is a large share of it.
    assert reason("Too short to be a document") == "gopher_rep_top_2gram_char_frac"


def test_zero_or_none_disables_rules_like_datatrove():
    spam = dataclasses.replace(BASE, gopher_rep_dup_para_frac=0.9, gopher_q_hash_word_ratio=0.9)
    assert decide(spam).drop_reason == "gopher_rep_dup_para_frac"
    # datatrove checks `if self.dup_para_frac and ...`: 0 switches a Gopher rule off, as does None.
    for off in (0, None):
        t = dataclasses.replace(DEFAULT, gopher_rep_dup_para_frac=off)
        assert decide(spam, t).drop_reason == "gopher_q_hash_word_ratio"
    zero = dataclasses.replace(BASE, fineweb_line_punct_ratio=0.0)
    assert decide(zero).drop_reason == "fineweb_line_punct_ratio"
    assert decide(zero, dataclasses.replace(DEFAULT, fineweb_line_punct_exclude_zero=True)).kept
    assert decide(zero, dataclasses.replace(DEFAULT, fineweb_line_punct_thr=None)).kept


def test_inapplicable_rules_are_skipped():
    no_stop = dataclasses.replace(BASE, gopher_q_stop_word_count=0)
    assert decide(no_stop).drop_reason == "gopher_q_stop_word_count"
    assert decide(dataclasses.replace(no_stop, gopher_q_stop_words_applicable=0)).kept
    chars = dataclasses.replace(BASE, gopher_q_avg_word_length=1.0)
    assert decide(chars).drop_reason == "gopher_q_avg_word_length"
    assert decide(dataclasses.replace(chars, gopher_q_avg_word_length_applicable=0)).kept
    # No words at all: datatrove's mean is NaN and passes both bounds.
    no_words = dataclasses.replace(BASE, gopher_q_word_count=0, gopher_q_avg_word_length=0.0)
    assert decide(no_words, dataclasses.replace(DEFAULT, gopher_q_min_word_count=None)).kept


def test_default_thresholds_are_finewebs():
    t = QualityThresholds()
    assert (t.gopher_rep_dup_para_frac, t.gopher_rep_dup_para_char_frac) == (0.3, 0.2)
    assert (t.gopher_rep_dup_line_frac, t.gopher_rep_dup_line_char_frac) == (0.3, 0.2)
    assert [getattr(t, f"gopher_rep_top_{n}gram_char_frac") for n in (2, 3, 4)] == [0.2, 0.18, 0.16]
    assert [getattr(t, f"gopher_rep_dup_{n}gram_char_frac") for n in range(5, 11)] == [
        0.15,
        0.14,
        0.13,
        0.12,
        0.11,
        0.10,
    ]
    assert (t.gopher_q_min_word_count, t.gopher_q_max_word_count) == (50, 100_000)
    assert (t.gopher_q_min_avg_word_length, t.gopher_q_max_avg_word_length) == (3, 10)
    assert (t.gopher_q_max_hash_word_ratio, t.gopher_q_max_ellipsis_word_ratio) == (0.1, 0.1)
    assert (t.gopher_q_max_bullet_lines_ratio, t.gopher_q_max_ellipsis_lines_ratio) == (0.9, 0.3)
    assert (t.gopher_q_min_alpha_words_ratio, t.gopher_q_min_stop_words) == (0.8, 2)
    assert t.c4_min_sentences == 5
    assert (t.fineweb_line_punct_thr, t.fineweb_line_punct_exclude_zero) == (0.12, False)
    assert (t.fineweb_short_line_thr, t.fineweb_char_dup_ratio, t.fineweb_new_line_ratio) == (0.67, 0.01, 0.3)
    c4 = C4_FINEWEB
    assert (c4.filter_no_terminal_punct, c4.min_words_per_line, c4.max_word_length) == (False, 3, 1000)
    assert c4.remove_citations and c4.filter_lorem_ipsum and c4.filter_javascript
    assert c4.filter_curly_bracket and c4.filter_policy


# --- the signals --------------------------------------------------------------------------------


def test_signal_names_are_the_flat_prefixed_fields():
    names = signal_names()
    assert names == tuple(f.name for f in dataclasses.fields(QualitySignals))
    assert len(set(names)) == len(names)
    assert all(n.startswith(("gopher_rep_", "gopher_q_", "c4_", "fineweb_")) for n in names)
    for name in names:
        value = getattr(BASE, name)
        assert type(value) in (int, float), name
    with pytest.raises(dataclasses.FrozenInstanceError):
        BASE.c4_lines_kept = 0  # type: ignore[misc]
    assert set(DATATROVE_REASONS) == set(DROP_REASONS)


def test_fineweb_signals_are_measured_on_the_c4_cleaned_text():
    nav = "\n".join(["Home", "About us", "Contact", "Shop", "Blog", "Login"] * 3)
    text = nav + "\n" + BODY_TEXT + "\n" + nav
    cleaned, c4 = c4_clean(text)
    s = measure(text)
    assert c4.lines_too_few_words == 36 + BODY_TEXT.count("\n\n")  # nav lines and blank lines
    assert cleaned == "\n".join(BODY) and s.c4_cleaned_chars == len(cleaned)
    assert s.fineweb_line_count == len(BODY)
    assert s.fineweb_short_line_ratio == 0.0  # the nav lines were removed by C4 first
    assert s.fineweb_list_ratio == cleaned.count("\n") / len(word_tokens(cleaned))
    assert s.gopher_rep_dup_line_frac > 0.3  # ... but Gopher saw them
    assert reason(text) == "gopher_rep_dup_line_frac"
    # Citations are removed from kept lines; FineWeb sees and counts the text without them.
    cited = BODY_TEXT.replace("in the oven.", "in the oven.[1]").replace("regulated.", "regulated.[citation needed]")
    cleaned, _ = c4_clean(cited)
    assert "[1]" not in cleaned and "[citation needed]" not in cleaned
    assert measure(cited).fineweb_list_ratio == cleaned.count("\n") / len(word_tokens(cleaned))


def test_c4_line_rules():
    lines = [
        "A perfectly normal line with enough words.",
        "Two words",
        "Please enable JavaScript in your browser to continue.",
        "This site uses cookies to improve your experience.",
        "Read our privacy policy and terms of use before you continue.",
        "A word that is far too long: " + "x" * 1001,
        "x = { braces in a javascript line do not drop the document }",
        "{braces}",  # one word: dropped as too short before the bracket check
        "The last line. It has two sentences.",
    ]
    cleaned, c4 = c4_clean("\n".join(lines))
    assert cleaned == "A perfectly normal line with enough words.\nThe last line. It has two sentences."
    assert (c4.lines_total, c4.lines_kept, c4.sentence_count) == (9, 2, 3)
    assert (c4.lines_too_few_words, c4.lines_javascript, c4.lines_policy) == (2, 2, 2)
    assert (c4.lines_too_long_word, c4.lines_no_terminal_punct) == (1, 0)
    assert (c4.lorem_ipsum_line, c4.curly_bracket_line) == (-1, -1)
    # C4's default (not FineWeb's) also drops lines without terminal punctuation.
    strict = dataclasses.replace(C4_FINEWEB, filter_no_terminal_punct=True)
    cleaned, c4 = c4_clean(
        'No full stop here\nA full stop here.\nEllipsis here...\nQuoted text is here."', config=strict
    )
    assert cleaned == 'A full stop here.\nQuoted text is here."' and c4.lines_no_terminal_punct == 2


def test_empty_and_blank_text():
    # datatrove divides by len(text) and raises on ""; here the ratios are 0 and the word count fails.
    for text in ("", " ", "\n\n\n", "\t \r\n"):
        s = measure(text)
        assert s.gopher_q_word_count == 0 and s.c4_lines_kept == 0 and s.c4_cleaned_chars == 0
        assert all(math.isfinite(getattr(s, n)) for n in signal_names())
        # re.split("\n+", "\n\n\n") == ["", ""]: a duplicate (empty) line, as in datatrove.
        expected = "gopher_rep_dup_line_frac" if text == "\n\n\n" else "gopher_q_word_count"
        assert decide(s).drop_reason == expected
    assert c4_clean("")[0] == ""
    assert measure("").fineweb_line_count == 1 and measure("").fineweb_line_punct_ratio == 0.0


# --- literal ports of datatrove's algorithms (slow, for cross-checking the fast code) ------------

STOP_WORDS = {"the", "be", "to", "of", "and", "that", "have", "with"}


def dt_find_duplicates(items):
    unique, dup_chars, dup_items = set(), 0, 0
    for item in items:
        if item in unique:
            dup_chars += len(item)
            dup_items += 1
        else:
            unique.add(item)
    return dup_items, dup_chars


def dt_top_duplicate(words, n):
    grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


def dt_all_duplicate(words, n):
    unique, repeated, idx = set(), 0, 0
    while idx < len(words) - n + 1:
        gram = "".join(words[idx : idx + n])
        if gram in unique:
            repeated += len(gram)
            idx += n
        else:
            unique.add(gram)
            idx += 1
    return repeated


def dt_gopher_repetition(text):
    words = word_tokens(text)
    paragraphs = re.split(r"\n{2,}", text.strip())
    para_dup, para_chars = dt_find_duplicates(paragraphs)
    lines = re.split("\n+", text)
    line_dup, line_chars = dt_find_duplicates(lines)
    out = {
        "gopher_rep_dup_para_frac": para_dup / len(paragraphs),
        "gopher_rep_dup_para_char_frac": para_chars / len(text),
        "gopher_rep_dup_line_frac": line_dup / len(lines),
        "gopher_rep_dup_line_char_frac": line_chars / len(text),
    }
    for n in (2, 3, 4):
        out[f"gopher_rep_top_{n}gram_char_frac"] = dt_top_duplicate(words, n) / len(text)
    for n in range(5, 11):
        out[f"gopher_rep_dup_{n}gram_char_frac"] = dt_all_duplicate(words, n) / len(text)
    return out


def dt_gopher_quality(text):
    words = word_tokens(text)
    non_symbol = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
    lines = text.splitlines()
    return {
        "gopher_q_word_count": len(non_symbol),
        "gopher_q_avg_word_length": sum(len(w) for w in non_symbol) / len(non_symbol),
        "gopher_q_hash_word_ratio": text.count("#") / len(words),
        "gopher_q_ellipsis_word_ratio": (text.count("...") + text.count("…")) / len(words),
        "gopher_q_bullet_lines_ratio": sum(s.lstrip().startswith("•") or s.lstrip().startswith("-") for s in lines)
        / len(lines),
        "gopher_q_ellipsis_lines_ratio": sum(s.rstrip().endswith("...") or s.rstrip().endswith("…") for s in lines)
        / len(lines),
        "gopher_q_alpha_words_ratio": sum(any(c.isalpha() for c in w) for w in words) / len(words),
        "gopher_q_stop_word_count": sum(w in STOP_WORDS for w in words),
    }


def dt_c4(text):
    """C4QualityFilter(filter_no_terminal_punct=False): (reason or None, cleaned text, sentences)."""
    sentences, kept = 0, []
    for line in text.splitlines():
        line = line.strip()
        words = line.split()
        if any(len(word) > 1000 for word in words):
            continue
        line = re.sub(r"\[\d*]|\[edit]|\[citation needed]", "", line)
        if len(words) < 3:
            continue
        line_l = line.lower()
        if "lorem ipsum" in line_l:
            return "c4_lorem_ipsum", None, None
        if "javascript" in line_l:
            continue
        if "{" in line:
            return "c4_curly_bracket", None, None
        if any(p in line_l for p in ["terms of use", "privacy policy", "cookie policy", "uses cookies",
                                     "use of cookies", "use cookies"]):  # fmt: skip
            continue
        sentences += count_sentences(line)
        kept.append(line)
    return None, "\n".join(kept).strip(), sentences


def dt_fineweb(text):
    lines = text.split("\n")
    non_empty = [line for line in lines if line.strip() != ""]
    return {
        "fineweb_line_punct_ratio": sum(1 for line in lines if line.endswith((".", "'", '"', "!", "?"))) / len(lines),
        "fineweb_short_line_ratio": sum(1 for line in lines if len(line) <= 30) / len(lines),
        "fineweb_char_dup_ratio": dt_find_duplicates(non_empty)[1] / len(text.replace("\n", "")),
        "fineweb_list_ratio": text.count("\n") / len(word_tokens(text)),
    }


def dt_pipeline(text):
    """FineWeb's four filters in order, as datatrove runs them (English): the first failure."""
    rep = dt_gopher_repetition(text)
    for name, thr in [
        ("gopher_rep_dup_para_frac", 0.3), ("gopher_rep_dup_para_char_frac", 0.2),
        ("gopher_rep_dup_line_frac", 0.3), ("gopher_rep_dup_line_char_frac", 0.2),
        ("gopher_rep_top_2gram_char_frac", 0.2), ("gopher_rep_top_3gram_char_frac", 0.18),
        ("gopher_rep_top_4gram_char_frac", 0.16), ("gopher_rep_dup_5gram_char_frac", 0.15),
        ("gopher_rep_dup_6gram_char_frac", 0.14), ("gopher_rep_dup_7gram_char_frac", 0.13),
        ("gopher_rep_dup_8gram_char_frac", 0.12), ("gopher_rep_dup_9gram_char_frac", 0.11),
        ("gopher_rep_dup_10gram_char_frac", 0.10),
    ]:  # fmt: skip
        if rep[name] > thr:
            return name
    q = dt_gopher_quality(text)
    if not 50 <= q["gopher_q_word_count"] <= 100_000:
        return "gopher_q_word_count"
    if not 3 <= q["gopher_q_avg_word_length"] <= 10:
        return "gopher_q_avg_word_length"
    for name, fails in [
        ("gopher_q_hash_word_ratio", q["gopher_q_hash_word_ratio"] > 0.1),
        ("gopher_q_ellipsis_word_ratio", q["gopher_q_ellipsis_word_ratio"] > 0.1),
        ("gopher_q_bullet_lines_ratio", q["gopher_q_bullet_lines_ratio"] > 0.9),
        ("gopher_q_ellipsis_lines_ratio", q["gopher_q_ellipsis_lines_ratio"] > 0.3),
        ("gopher_q_alpha_words_ratio", q["gopher_q_alpha_words_ratio"] < 0.8),
        ("gopher_q_stop_word_count", q["gopher_q_stop_word_count"] < 2),
    ]:
        if fails:
            return name
    dropped, cleaned, sentences = dt_c4(text)
    if dropped:
        return dropped
    if sentences < 5:
        return "c4_sentence_count"
    fw = dt_fineweb(cleaned)
    if fw["fineweb_line_punct_ratio"] <= 0.12:
        return "fineweb_line_punct_ratio"
    if fw["fineweb_short_line_ratio"] >= 0.67:
        return "fineweb_short_line_ratio"
    if fw["fineweb_char_dup_ratio"] >= 0.01:
        return "fineweb_char_dup_ratio"
    if fw["fineweb_list_ratio"] > 0.3:
        return "fineweb_list_ratio"
    return None


def random_documents(count: int, seed: int = 7):
    """Word salad with repeated stretches, hashtags, ellipses, bullets, blank lines and C4 lines.

    Words are three letters long, so datatrove's space-less n-gram concatenation cannot collide.
    """
    rng = random.Random(seed)
    vocab = ["the", "and", "cat", "dog", "sat", "ran", "big", "red", "sun", "sky", "far", "old", "new", "end"]
    extras = ["#", "...", "…", "•", "-", "!", "?", ",", "."]
    docs = []
    for _ in range(count):
        tokens = [rng.choice(vocab) if rng.random() < 0.85 else rng.choice(extras) for _ in range(rng.randint(30, 400))]
        for _ in range(rng.randint(0, 4)):  # repeated stretches
            i, j = sorted(rng.sample(range(len(tokens)), 2))
            k = rng.randrange(len(tokens))
            tokens[k:k] = tokens[i : min(j, i + 30)]
        parts = []
        for tok in tokens:
            parts.append(tok)
            r = rng.random()
            parts.append("\n" if r < 0.06 else "\n\n" if r < 0.08 else " ")
        text = "".join(parts)
        if rng.random() < 0.3:
            text += "\n" + rng.choice(
                ["Enable javascript now please.", "We use cookies on this site.", "big cat [1] sat."]
            )
        docs.append(text)
    return docs


CORPUS = [ARTICLE, GERMAN, *[case[1] for case in RULE_CASES], *[case[2] for case in RULE_CASES], *random_documents(150)]


@pytest.mark.parametrize("text", CORPUS, ids=range(len(CORPUS)))
def test_measure_matches_a_literal_port_of_datatrove(text):
    s = measure(text, "en")
    for name, value in dt_gopher_repetition(text).items():
        assert getattr(s, name) == value, name
    if s.gopher_q_word_count:
        for name, value in dt_gopher_quality(text).items():
            assert getattr(s, name) == pytest.approx(value, rel=1e-12, abs=0), name
    dropped, cleaned, sentences = dt_c4(text)
    if dropped is None:
        assert c4_clean(text)[0] == cleaned
        assert s.c4_sentence_count == sentences
        if cleaned:
            for name, value in dt_fineweb(cleaned).items():
                assert getattr(s, name) == pytest.approx(value, rel=1e-12, abs=0), name
    assert decide(s).drop_reason == dt_pipeline(text)


def test_c4_quirks_match_datatrove():
    # Words are counted before citations are removed, and the stripped line keeps inner spaces.
    text = SENTENCES[0] + "\n[1] [2] three\n" + "\n".join(SENTENCES[1:5])
    assert c4_clean(text)[0] == dt_c4(text)[1]
    assert c4_clean(text)[0].split("\n")[1] == "  three"
    # '{' in a line with fewer than three words, or in a javascript line, does not drop the document.
    assert reason(BODY_TEXT + "\n{ }\nNo javascript { here } today.") is None
    # Unicode line breaks split lines for C4 (str.splitlines) but not for FineWeb (split on \n only).
    _, c4 = c4_clean("\u2028".join(SENTENCES[:5]))
    assert c4.lines_kept == 5


# --- tokens and sentences -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("I don't think that's right.", ["I", "do", "n't", "think", "that", "'s", "right", "."]),
        (
            "We're sure you'll see I'm not CAN'T",
            ["We", "'re", "sure", "you", "'ll", "see", "I", "'m", "not", "CA", "N'T"],
        ),
        ("O'Brien's well-known e-mail at example.com", ["O'Brien", "'s", "well-known", "e-mail", "at", "example.com"]),
        (
            "Pop. 3,645,000 at 10:30, a,b x:y",
            ["Pop", ".", "3,645,000", "at", "10:30", ",", "a", ",", "b", "x", ":", "y"],
        ),
        ('Wait... -- "quoted" #tag $5 50%', ["Wait", "...", "--", '"', "quoted", '"', "#", "tag", "$", "5", "50", "%"]),
        ("हिन्दी भाषा में", ["हिन्दी", "भाषा", "में"]),
        ("Привет, мир! Ça va?", ["Привет", ",", "мир", "!", "Ça", "va", "?"]),
        ("我们是中国人。", ["我", "们", "是", "中", "国", "人", "。"]),
        ("日本語のテキスト", ["日", "本", "語", "の", "テ", "キ", "ス", "ト"]),
        ("ภาษาไทย", ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]),
        ("emoji 😀x 𝐀𝐁", ["emoji", "😀", "x", "𝐀𝐁"]),
    ],
)
def test_word_tokens(text, tokens):
    assert word_tokens(text) == tokens


def test_tokens_cover_the_text_and_never_cross_a_line():
    rng = random.Random(11)
    alphabet = "abc XYZ 09 .,;:!?'’\"-#…•{}[]()\n\r\t\u2028\x0c\x1c\u00a0é\u0301ßЖж中文かなカナไทย😀𝐀\U00020000"
    texts = [*CORPUS[:40], "".join(rng.choice(alphabet) for _ in range(3000))]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(300)]
    for text in texts:
        tokens = word_tokens(text)
        assert "".join(tokens) == "".join(text.split())
        assert all(tokens)
        assert len(tokens) == sum(len(word_tokens(line)) for line in text.splitlines())


@pytest.mark.parametrize(
    ("line", "lang", "count"),
    [
        ("Hello world. This is Mr. Smith. He said e.g. that. Wait... what? Yes!", "en", 5),
        ("The U.S. economy grew 3.5 per cent. Analysts were surprised.", "en", 2),
        ('In 2010. Then (J. Doe) came.  "Quoted." Next', "en", 4),
        ("No terminal punctuation at all", "en", 1),
        ("   ", "en", 0),
        ("我们是中国人。日本語の文章です！はい", "zh", 3),
        ("我们是中国人。日本語の文章です！はい", "en", 1),
        ("ภาษาไทย เป็นภาษาราชการ ของประเทศไทย", "th", 3),
    ],
)
def test_count_sentences(line, lang, count):
    assert count_sentences(line, lang) == count


def test_normalize_lang():
    assert [normalize_lang(x) for x in ("en", "EN", "en-US", "en_GB", "eng", "eng_Latn")] == ["en"] * 6
    assert [normalize_lang(x) for x in ("zh-Hans", "zho", "cmn", "jpn", "tha", "de-AT")] == [
        "zh", "zh", "zh", "ja", "th", "de"
    ]  # fmt: skip
    assert normalize_lang("") == "" and normalize_lang(None) == ""


# --- languages ----------------------------------------------------------------------------------


def test_german_skips_the_english_stop_word_rule():
    s = measure(GERMAN, "de")
    assert s.gopher_q_stop_words_applicable == 0 and s.gopher_q_stop_word_count == 0
    assert decide(s).kept
    assert reason(GERMAN, "de-AT") is None
    # Declared English, the same text fails Gopher's stop-word rule, as in datatrove.
    assert reason(GERMAN, "en") == "gopher_q_stop_word_count"
    assert reason(GERMAN, "en-US") == "gopher_q_stop_word_count"


@pytest.mark.parametrize(("text", "lang"), [(CHINESE, "zh"), (CHINESE, "zh-Hans"), (CHINESE, "cmn"), (JAPANESE, "ja")])
def test_chinese_and_japanese_use_character_tokens(text, lang):
    s = measure(text, lang)
    assert decide(s).kept
    assert s.gopher_q_avg_word_length_applicable == 0 and s.gopher_q_stop_words_applicable == 0
    assert s.gopher_q_avg_word_length == 1.0  # every word token is one character
    body = "".join(text.split())
    assert s.gopher_q_token_count == len(body)
    assert s.gopher_q_word_count == sum(ch not in PUNCTUATION_SET for ch in body)
    assert s.c4_lines_kept == 5 and s.c4_sentence_count >= 11  # sentences end in 。
    assert s.fineweb_line_punct_ratio == 0.8  # 4 of 5 lines end in 。; the title does not


def test_cjk_declared_english_fails_like_datatrove_would():
    # As English: a character is a "word" of length 1, and C4's whitespace words see one per line.
    assert reason(CHINESE, "en") == "gopher_q_avg_word_length"
    s = measure(CHINESE, "en")
    assert s.c4_lines_kept == 0 and s.c4_sentence_count == 0


def test_thai_has_no_terminal_punctuation():
    s = measure(THAI, "th")
    assert s.gopher_q_avg_word_length_applicable == 0
    assert s.c4_lines_kept == 3 and s.c4_sentence_count == sum(len(p.split()) for p in THAI.split("\n") if p)
    assert s.fineweb_line_punct_ratio == 0.0
    assert decide(s).drop_reason == "fineweb_line_punct_ratio"
    assert decide(s, dataclasses.replace(DEFAULT, fineweb_line_punct_exclude_zero=True)).kept


def test_mixed_and_odd_scripts_do_not_crash():
    mixed = BODY_TEXT + "\n\nThe Chinese word for sourdough is 酸面包, and Japanese uses サワードウ."
    assert reason(mixed) is None
    rng = random.Random(5)
    pools = [range(0x20, 0x7F), range(0x400, 0x4FF), range(0x600, 0x6FF), range(0x900, 0x97F),
             range(0x3040, 0x30FF), range(0x4E00, 0x4FFF), range(0xE00, 0xE7F), range(0x1F600, 0x1F64F),
             range(0xD800, 0xD810), [0x0A, 0x0A, 0x20, 0x20, 0x20, 0x2028, 0x85, 0x00]]  # fmt: skip
    for lang in ("en", "de", "ar", "hi", "ja", "zh", "th", "xx", ""):
        text = "".join(chr(rng.choice(rng.choice(pools))) for _ in range(5000))
        s = measure(text, lang)
        assert all(math.isfinite(getattr(s, n)) for n in signal_names())
        decide(s)


# --- speed --------------------------------------------------------------------------------------


def megabyte_of_prose(seed: int = 0) -> str:
    rng = random.Random(seed)
    words = [w.strip(".,") for w in BODY_TEXT.split()]
    paragraphs, size = [], 0
    while size < 1_000_000:
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(8, 25))).capitalize() + "."
            for _ in range(rng.randint(3, 8))
        ]
        paragraphs.append(" ".join(sentences))
        size += len(paragraphs[-1]) + 2
    return "\n\n".join(paragraphs)


def best_time(fn, attempts: int = 3) -> float:
    best = math.inf
    for _ in range(attempts):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        if best < 1.0:
            break
    return best


@pytest.mark.parametrize("kind", ["prose", "repetitive"])
def test_measure_one_megabyte_under_a_second(kind):
    text = megabyte_of_prose() if kind == "prose" else (ARTICLE + "\n") * (1_000_000 // (len(ARTICLE) + 1))
    assert len(text) > 990_000
    assert best_time(lambda: measure(text)) < 1.0
    s = measure(text)
    if kind == "prose":  # ~170,000 words: over Gopher's 100,000-word limit
        assert s.gopher_q_word_count > 100_000 and decide(s).drop_reason == "gopher_q_word_count"
    else:
        assert decide(s).drop_reason == "gopher_rep_dup_para_frac"
        assert s.gopher_rep_dup_10gram_char_frac > 0.8


def test_measure_and_clean_returns_what_c4_clean_returns():
    from filters.quality import c4_clean, measure, measure_and_clean

    text = "A first line that ends well.\nclick here\nJavascript must be enabled to view this page.\nThe last sentence is here, and it is long enough."
    signals, cleaned = measure_and_clean(text, "en")
    assert cleaned == c4_clean(text, "en")[0] != text
    assert signals == measure(text, "en")
