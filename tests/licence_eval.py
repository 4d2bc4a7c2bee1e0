"""The labelled licence evaluation (tests/data/licence/): hand-written fragments of real-world
patterns and pages of the demo site, each with the SPDX id it states for itself (or none).

precision = correct ids / pages where an id was predicted
recall    = correct ids / pages that state a licence
`python tests/licence_eval.py` prints the numbers and every disagreement.
The sets: snippets (cases.yaml), demo_site (demo_site.yaml), blind (blind.yaml, written and labelled
without reading the detector, so its numbers are the honest estimate), blind2 (blind2.yaml, a second
set written the same way, blind to the detector and to the earlier sets), blind3 (blind3.yaml, a third
set written the same way), blind4, blind5 and blind6 (blind4.yaml ... blind6.yaml, written the same way);
"all" is their union.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import lxml.html
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "licence"
DEMO_SITE = ROOT / "pipeline" / "demo_site"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from filters.licence import detect_licence  # noqa: E402


@dataclass(frozen=True)
class Case:
    id: str
    set: str  # snippets | demo_site | one of BLIND_SETS
    expected: str | None
    predicted: str | None
    evidence: str | None


@dataclass(frozen=True)
class Evaluation:
    cases: list[Case]

    def _counts(self, which: str | None = None):
        cases = [c for c in self.cases if which is None or c.set == which]
        predicted = [c for c in cases if c.predicted is not None]
        positive = [c for c in cases if c.expected is not None]
        correct = [c for c in predicted if c.predicted == c.expected]
        return len(cases), len(predicted), len(positive), len(correct)

    def precision(self, which: str | None = None) -> float:
        _, predicted, _, correct = self._counts(which)
        return correct / predicted if predicted else 1.0

    def recall(self, which: str | None = None) -> float:
        _, _, positive, correct = self._counts(which)
        return correct / positive if positive else 1.0

    def summary(self) -> str:
        lines = []
        for which in ("snippets", "demo_site", *BLIND_SETS, None):
            n, predicted, positive, correct = self._counts(which)
            lines.append(
                f"{which or 'all':10s} pages {n:3d}  with licence {positive:3d}  predicted {predicted:3d}  correct {correct:3d}  "
                f"precision {self.precision(which):.3f}  recall {self.recall(which):.3f}"
            )
        return "\n".join(lines)


_UTF8_PARSER = lxml.html.HTMLParser(encoding="utf-8")


def _parse(html: str):
    # the decoded str, as production parses it (bytes without a charset would be read as Latin-1);
    # lxml refuses a str with an XML encoding declaration, which is parsed as the UTF-8 bytes it came from
    try:
        return lxml.html.document_fromstring(html)
    except ValueError:
        return lxml.html.document_fromstring(html.encode("utf-8"), parser=_UTF8_PARSER)


def _case(case_id: str, which: str, expected: str | None, html: str) -> Case:
    found = detect_licence(_parse(html))
    return Case(case_id, which, expected, found.spdx if found else None, found.evidence if found else None)


def _load_snippet_file(name: str, which: str) -> list[Case]:
    """Cases of a list-of-{id, expected, html} YAML file under tests/data/licence/, as set `which`."""
    return [_case(c["id"], which, c["expected"], c["html"]) for c in yaml.safe_load((DATA / name).read_text(encoding="utf-8"))]


# The blind sets, in the order they were written: each written and labelled without reading the detector
# or the earlier sets. The newest is the held-out estimate until the detector is changed for its misses.
BLIND_SETS = ("blind", "blind2", "blind3", "blind4", "blind5", "blind6")


def evaluate_set(which: str) -> Evaluation:
    """One blind set (`which`.yaml)."""
    return Evaluation(_load_snippet_file(f"{which}.yaml", which))


def evaluate(blind_sets: tuple[str, ...] = BLIND_SETS) -> Evaluation:
    """The snippets, the demo site's pages and the given blind sets."""
    cases = _load_snippet_file("cases.yaml", "snippets")
    demo = yaml.safe_load((DATA / "demo_site.yaml").read_text(encoding="utf-8"))
    labelled: dict[str, str | None] = {}
    for pattern in demo["none_globs"]:
        for path in sorted(DEMO_SITE.glob(pattern)):
            labelled[path.relative_to(DEMO_SITE).as_posix()] = None
    for page in demo["gpl_pages"]:
        labelled[page] = demo["gpl_expected"]
    for rel, expected in sorted(labelled.items()):
        cases.append(_case(rel, "demo_site", expected, (DEMO_SITE / rel).read_text(encoding="utf-8", errors="replace")))
    for which in blind_sets:
        cases.extend(evaluate_set(which).cases)
    return Evaluation(cases)


if __name__ == "__main__":
    result = evaluate()
    for case in result.cases:
        if case.predicted != case.expected:
            print(f"{case.set:9s} {case.id:45s} expected {case.expected}  predicted {case.predicted}  {(case.evidence or '')[:160]}")
    print(result.summary())
