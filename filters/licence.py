"""The licence a page states for itself, as an SPDX id, with the evidence and how sure we are.

Pure functions over a parsed page (lxml). Precision matters more than recall: a page that links to
a licence, quotes one or explains one does not thereby grant it. The rules, in order of confidence:

high    an explicit machine-readable statement: `<link rel=license>`, `<a rel=license>`, ccREL
        (`rel`/`property` `cc:license`, `xhv:license`, `dc:license`, `dct:license`), meta
        `dcterms.license` / `DC.rights` / `DC.license` / `license`, JSON-LD `license` of the page's
        own item (not of an ImageObject, VideoObject or other media item).
medium  in the page's footer or legal notice (`<footer>`, role=contentinfo, or an ancestor whose
        id/class names footer, colophon, site-info, copyright, legal or licen[cs]e): a link or badge
        to a known licence URL, or a licence named in a sentence that grants it.
low     in the body: a licence named in a sentence that grants it *for this page*: a self-reference
        ("this document", "this work", "content on this site", "our articles", ...) before a grant
        verb with "under" ("is licensed under", "may be used under the terms of", "available under").
        A bare link or mention in the body (an article about Creative Commons) is not a grant.

Licence names: Creative Commons URLs, badges and names map to SPDX ids with version and port
(`CC-BY-SA-4.0`, `CC-BY-3.0-DE`, `CC0-1.0`, `CC-PDM-1.0`); ports the SPDX list lacks become
`LicenseRef-CC-...`. GPL, LGPL, GFDL (versioned), Apache-2.0, MIT and PSF-2.0 are recognised by URL
and by name. A name without a version (a bare "GNU GPL") is not mapped. When a page yields several
candidates the most confident wins, then head over footer over body, then the first in the page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement

CONFIDENCE_RANK = {"high": 3, "medium": 2, "low": 1}
_LOCATION_RANK = {"header": 3, "head": 3, "footer": 2, "body": 1}  # header: the HTTP Link header
MAX_EVIDENCE = 500

# Creative Commons jurisdiction ports on the SPDX License List (3.2x); other ports -> LicenseRef-.
SPDX_CC_PORTS = frozenset(
    {
        "CC-BY-2.5-AU", "CC-BY-3.0-AT", "CC-BY-3.0-AU", "CC-BY-3.0-DE", "CC-BY-3.0-IGO", "CC-BY-3.0-NL", "CC-BY-3.0-US",
        "CC-BY-NC-3.0-DE", "CC-BY-NC-ND-3.0-DE", "CC-BY-NC-ND-3.0-IGO", "CC-BY-NC-SA-2.0-DE", "CC-BY-NC-SA-2.0-FR",
        "CC-BY-NC-SA-2.0-UK", "CC-BY-NC-SA-3.0-DE", "CC-BY-NC-SA-3.0-IGO", "CC-BY-ND-3.0-DE", "CC-BY-SA-2.0-UK",
        "CC-BY-SA-2.1-JP", "CC-BY-SA-3.0-AT", "CC-BY-SA-3.0-DE", "CC-BY-SA-3.0-IGO",
    }
)  # fmt: skip
# Unported versions SPDX lists for each licence element combination.
_SPDX_CC_VERSIONS = {
    "BY": ("1.0", "2.0", "2.5", "3.0", "4.0"),
    "BY-SA": ("1.0", "2.0", "2.5", "3.0", "4.0"),
    "BY-ND": ("1.0", "2.0", "2.5", "3.0", "4.0"),
    "BY-NC": ("1.0", "2.0", "2.5", "3.0", "4.0"),
    "BY-NC-SA": ("1.0", "2.0", "2.5", "3.0", "4.0"),
    "BY-NC-ND": ("1.0", "2.0", "2.5", "3.0", "4.0"),
}


@dataclass(frozen=True)
class Licence:
    spdx: str
    evidence: str  # the matched markup or sentence, at most MAX_EVIDENCE characters
    source: str  # link_header | link_rel | a_rel | ccrel | meta | json_ld | footer_link | text
    location: str  # header (HTTP) | head | footer | body
    confidence: str  # high | medium | low


# -- names and URLs -> SPDX ------------------------------------------------------------------------

_CC_URL = re.compile(
    r"(?:creativecommons\.org/licenses|(?:i\.creativecommons\.org|licensebuttons\.net|mirrors\.creativecommons\.org/presskit/buttons/[^/]+)/l)"
    r"/(by(?:-nc)?(?:-nd|-sa)?|by-nd-nc)/(\d\.\d)(?:/(?!deed|legalcode|\d+x\d+)([a-z]{2,3}))?(?![a-z0-9.-])",
    re.I,
)
_CC_PD_URL = re.compile(r"(?:creativecommons\.org/publicdomain|(?:i\.creativecommons\.org|licensebuttons\.net)/p)/(zero|mark)/1\.0", re.I)
_OTHER_URLS = (
    (re.compile(r"gnu\.org/licenses/(?:old-licenses/)?gpl-(2\.0|3\.0)", re.I), "GPL-{}-or-later"),
    (re.compile(r"gnu\.org/licenses/(?:old-licenses/)?lgpl-(2\.1|3\.0)", re.I), "LGPL-{}-or-later"),
    (re.compile(r"gnu\.org/licenses/(?:old-licenses/)?fdl-(1\.[123])", re.I), "GFDL-{}-or-later"),
    (re.compile(r"apache\.org/licenses/LICENSE-2\.0", re.I), "Apache-2.0"),
    (re.compile(r"opensource\.org/licen[cs]es/MIT\b", re.I), "MIT"),
    (re.compile(r"opensource\.org/licen[cs]es/Apache-2\.0\b", re.I), "Apache-2.0"),
)


def _cc_spdx(elements: str, version: str, port: str | None) -> str:
    elements = elements.upper()
    if elements == "BY-ND-NC":
        elements = "BY-NC-ND"
    base = f"CC-{elements}-{version}"
    if port:
        ported = f"{base}-{port.upper()}"
        return ported if ported in SPDX_CC_PORTS else f"LicenseRef-{ported}"
    return base if version in _SPDX_CC_VERSIONS.get(elements, ()) else f"LicenseRef-{base}"


def spdx_from_url(url: str | None) -> str | None:
    """SPDX id of a licence URL (or badge image URL), None when it is not one we know."""
    if not url:
        return None
    match = _CC_URL.search(url)
    if match:
        return _cc_spdx(match.group(1), match.group(2), match.group(3))
    match = _CC_PD_URL.search(url)
    if match:
        return "CC0-1.0" if match.group(1).lower() == "zero" else "CC-PDM-1.0"
    for pattern, template in _OTHER_URLS:
        match = pattern.search(url)
        if match:
            return template.format(*match.groups())
    return None


_CC_NAME = re.compile(
    r"\b(?:Creative\s+Commons\s+(Attribution(?:[\s-]+(?:Non-?Commercial|No-?Deriv(?:ative)?s|Share-?Alike)){0,2})"
    r"|CC[\s-]+(BY(?:[\s-]+(?:NC|ND|SA)){0,2}))"
    r"(?:\s+(?:License|Licence))?\s+(\d\.\d)\b",
    re.I,
)
_CC0_NAME = re.compile(r"\b(?:CC0|CC\s+Zero|Creative\s+Commons\s+Zero)(?:\s+1\.0)?(?:\s+Universal)?\b|Public\s+Domain\s+Dedication", re.I)
# "version 2 or later" in the languages of the web Ernte curates most (the licence grant of a
# translated manual keeps the licence's name and translates the rest).
_VERSION_WORD = r"(?:version|versione|versión|versão|versie|v\.?|バージョン)"
_OR_LATER = (
    r"(,?\s*(?:or\s+(?:\(at\s+your\s+option\)\s+)?(?:any\s+)?(?:later|higher|newer)(?:\s+version)?"
    r"|oder\s+(?:\(nach\s+Ihrer\s+Wahl\)\s+)?(?:jeder\s+)?(?:neuer|höher|später)\w*(?:\s+Version)?"
    r"|ou\s+(?:toute\s+version\s+)?(?:suivante|ultérieure|supérieure)s?|o\s+(?:successiv[ae]|superiore|posterior)|o\s+(?:cualquier\s+)?(?:versión\s+)?posterior"
    r"|\s*(?:もしくは|または)?それ以降|以降))?"
)
_GPL_NAME = re.compile(
    r"(?:\bGNU\s+(Lesser\s+|Library\s+|Affero\s+)?General\s+Public\s+Licen[cs]e|Licence\s+publique\s+générale\s+(?:de\s+)?GNU|GNU\s*一般公(?:衆|有)(?:利用|使用)許諾(?:契約)?書)"
    r",?\s*(?:\(?(?:GPL|LGPL|AGPL)\)?,?\s*)?(?:as\s+published\s+by\s+the\s+Free\s+Software\s+Foundation,?\s*)?"
    r"(?:either\s+)?、?\s*" + _VERSION_WORD + r"\s*(\d(?:\.\d)?)(?:\s+of\s+the\s+Licen[cs]e)?" + _OR_LATER,
    re.I,
)
_GFDL_NAME = re.compile(
    r"\bGNU\s+Free\s+Documentation\s+Licen[cs]e,?\s*(?:\(GFDL\),?\s*)?(?:version|v\.?)\s*(1\.[123])(,?\s*or\s+(?:\(at\s+your\s+option\)\s+)?(?:any\s+)?later(?:\s+version)?)?",
    re.I,
)
_OTHER_NAMES = (
    (re.compile(r"\bApache\s+Licen[cs]e,?\s*(?:Version\s*|v)2\.0\b|\bApache[\s-]2\.0\s+licen[cs]e", re.I), "Apache-2.0"),
    (re.compile(r"\b(?:the\s+)?MIT\s+Licen[cs]e\b|\bMIT[\s-]licen[cs]ed\b", re.I), "MIT"),
    (re.compile(r"\bPython\s+Software\s+Foundation\s+Licen[cs]e|\bPSF\s+Licen[cs]e", re.I), "PSF-2.0"),
)
_GPL_VERSIONS = {"2": "2.0", "2.0": "2.0", "3": "3.0", "3.0": "3.0", "2.1": "2.1"}


def spdx_from_text(text: str) -> tuple[str, int] | None:
    """(SPDX id, position) of the first licence named with its version in a piece of text."""
    found: list[tuple[int, str]] = []
    for match in _CC_NAME.finditer(text):
        words = (match.group(1) or match.group(2)).lower()
        elements = ["BY"]
        if "commercial" in words or re.search(r"\bnc\b", words):
            elements.append("NC")
        if "deriv" in words or re.search(r"\bnd\b", words):
            elements.append("ND")
        elif "share" in words or re.search(r"\bsa\b", words):
            elements.append("SA")
        found.append((match.start(), _cc_spdx("-".join(elements), match.group(3), None)))
        break
    match = _CC0_NAME.search(text)
    if match:
        found.append((match.start(), "CC0-1.0"))
    match = _GPL_NAME.search(text)
    if match:
        kind = {"lesser": "LGPL", "library": "LGPL", "affero": "AGPL"}.get((match.group(1) or "").strip().lower(), "GPL")
        version = _GPL_VERSIONS.get(match.group(2))
        if version is not None and not (kind == "LGPL" and version == "2.0"):
            found.append((match.start(), f"{kind}-{version}-{'or-later' if match.group(3) else 'only'}"))
    match = _GFDL_NAME.search(text)
    if match:
        found.append((match.start(), f"GFDL-{match.group(1)}-{'or-later' if match.group(2) else 'only'}"))
    for pattern, spdx in _OTHER_NAMES:
        match = pattern.search(text)
        if match:
            found.append((match.start(), spdx))
    if not found:
        return None
    position, spdx = min(found)
    return spdx, position


# -- where on the page ------------------------------------------------------------------------------

_FOOTERISH = re.compile(r"foot|colophon|site-?info|copyright|legal|licen[cs]e|rights", re.I)
_BLOCK_TAGS = frozenset(
    "p li td th dd dt div footer section article aside address blockquote header main nav ul ol dl table h1 h2 h3 h4 h5 h6 small center body".split()
)
# Cheap pre-checks before sentences are read: a licence word or a licence's name.
_KEYWORDS = re.compile(r"licen[cs]|creative\s+commons|\bCC[\s-]?(?:BY|0|zero)|public\s+domain|\bGNU\b|\bApache\b|\bMIT\b|\bPSF\b|Python\s+Software", re.I)
# A grant: a self-reference, then a grant verb and "under", in one sentence (body text).
_SELF = r"\b(?:this|these|our|my|all|site|website)\b(?:\s+[\w'’-]+){0,4}?\s*\b(?:work|works|document|documents|documentation|page|pages|article|articles|post|posts|site|website|blog|content|contents|text|texts|manual|guide|book|material|materials|photo|photos|photograph|image|images|picture|tutorial|entry|entries|wiki|podcast|episode|publication|report|paper|thesis|dataset|information)\b"
_GRANT = r"\b(?:is|are|be|been|was|were)?\s*(?:(?:freely|also)\s+)?(?:licen[cs]ed|released|available|distributed|published|made\s+available|dedicated|shared|offered|provided|used|reproduced|copied|redistributed|reused)\b[^.;]{0,60}?\bunder\b"
_BODY_GRANT = re.compile(_SELF + r"[^.;]{0,80}?" + _GRANT, re.I)
# Footer text: any grant cue (English grant verbs, "permission is granted to copy ... under", the
# same in German, French, Italian, Spanish and Japanese) or a copyright or licence label.
_FOOTER_CUES = (
    r"|\b(?:copy|distribute|modify|use|redistribute|reuse)\b[^.;]{0,60}?\bunder\b"
    r"|\b(?:unter|gemäß)\s+(?:den|der)\s+Bedingungen|\bselon\s+les\s+termes|\bsous\s+(?:les\s+termes|la\s+licence)"
    r"|\bnei\s+termini|\bsecondo\s+i\s+termini|\bbajo\s+los\s+términos|\bsob\s+os\s+termos|条件の下で|の下で"
)
_ANY_GRANT = re.compile(_GRANT + _FOOTER_CUES + r"|\blicen[cs]e\s*:|©|\(c\)|\bcopyright\b|\bsome\s+rights\s+reserved\b|\bno\s+rights\s+reserved\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z©])")


def _location(el: HtmlElement) -> str:
    for anc in el.iterancestors():
        tag = anc.tag if isinstance(anc.tag, str) else ""
        if tag == "head":
            return "head"
        if tag == "footer" or anc.get("role") == "contentinfo" or _FOOTERISH.search(f"{anc.get('id') or ''} {anc.get('class') or ''}"):
            return "footer"
    return "head" if el.tag in ("link", "meta", "script") and el.getparent() is not None and el.getparent().tag == "head" else "body"


def _snippet(el) -> str:
    try:
        raw = etree.tostring(el, encoding="unicode", with_tail=False)
    except (TypeError, ValueError):
        raw = str(el)
    return " ".join(raw.split())[:MAX_EVIDENCE]


def _rels(el) -> set[str]:
    return {r.lower() for r in ((el.get("rel") or "") + " " + (el.get("property") or "")).split()}


_LICENCE_RELS = {"license", "licence", "cc:license", "xhv:license", "dc:license", "dct:license", "dcterms:license"}
_LICENCE_METAS = ("dcterms.license", "dc.license", "dc.rights", "dcterms.rights", "license", "licence", "copyright")
_MEDIA_TYPES = {"imageobject", "videoobject", "mediaobject", "audioobject", "photograph"}


def _json_ld_licences(data, depth: int = 0):
    """`license` values of JSON-LD items that are not media objects."""
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _json_ld_licences(item, depth + 1)
        return
    if not isinstance(data, dict):
        return
    types = data.get("@type")
    types = {t.lower() for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)}
    if types & _MEDIA_TYPES:
        return
    value = data.get("license") or data.get("licence")
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, dict):
            v = v.get("@id") or v.get("url") or v.get("name")
        if isinstance(v, str):
            yield v
    for key in ("@graph", "mainEntity", "mainEntityOfPage"):
        if key in data:
            yield from _json_ld_licences(data[key], depth + 1)


def _leaf_blocks(root: HtmlElement):
    """Block elements with no block element inside: the units sentences are read from."""
    has_block_child: set = set()
    blocks = []
    for el in root.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _BLOCK_TAGS:
            blocks.append(el)
            parent = el.getparent()
            while parent is not None and parent not in has_block_child:
                has_block_child.add(parent)
                parent = parent.getparent()
    return [b for b in blocks if b not in has_block_child]


def candidates(tree: HtmlElement | None) -> list[Licence]:
    """Every licence statement found, in page order (see the module docstring for the rules)."""
    out: list[Licence] = []
    if tree is None:
        return out
    for el in tree.iter("link", "a", "area", "meta", "script", "span", "div", "img"):
        tag = el.tag
        if tag in ("link", "a", "area") or (tag in ("span", "div") and el.get("rel")):
            if _rels(el) & _LICENCE_RELS:
                if any(a.tag in ("figure", "figcaption") for a in el.iterancestors()):
                    continue  # the licence of an embedded image or video, not of the page
                href = el.get("href") or el.get("resource") or el.get("content")
                spdx = spdx_from_url(href) or spdx_from_text(el.text_content() if tag != "link" else "")
                spdx = spdx if isinstance(spdx, str) or spdx is None else spdx[0]
                if spdx:
                    rels = _rels(el)
                    source = "link_rel" if tag == "link" else ("a_rel" if rels & {"license", "licence"} else "ccrel")
                    out.append(Licence(spdx, _snippet(el), source, _location(el), "high"))
                continue
            if tag == "a":
                spdx = spdx_from_url(el.get("href"))
                if spdx and _location(el) == "footer":
                    out.append(Licence(spdx, _snippet(el.getparent() if el.getparent() is not None else el), "footer_link", "footer", "medium"))
        elif tag == "meta":
            name = (el.get("name") or el.get("property") or "").strip().lower()
            content = el.get("content") or ""
            if name in _LICENCE_METAS or name in _LICENCE_RELS:
                spdx = spdx_from_url(content) or (spdx_from_text(content) or (None,))[0]
                if spdx:
                    out.append(Licence(spdx, _snippet(el), "meta", _location(el), "high"))
        elif tag == "script" and (el.get("type") or "").lower() == "application/ld+json":
            try:
                data = json.loads(el.text or "")
            except ValueError:
                continue
            for value in _json_ld_licences(data):
                spdx = spdx_from_url(value) or (spdx_from_text(value) or (None,))[0]
                if spdx:
                    out.append(Licence(spdx, f'"license": {json.dumps(value)}'[:MAX_EVIDENCE], "json_ld", _location(el), "high"))
        elif tag == "img":
            # A badge image inside a link to a licence is handled by the link; a bare badge in the footer counts.
            spdx = spdx_from_url(el.get("src"))
            parent = el.getparent()
            if spdx and (parent is None or parent.tag != "a") and _location(el) == "footer":
                out.append(Licence(spdx, _snippet(el), "footer_link", "footer", "medium"))

    body = tree.find(".//body") if tree.tag != "body" else tree
    if body is None or not _KEYWORDS.search(body.text_content() or ""):
        return out
    for block in _leaf_blocks(body):
        text = " ".join(block.text_content().split())
        if not text or not _KEYWORDS.search(text):
            continue
        location = "footer" if block.tag == "footer" or _FOOTERISH.search(f"{block.get('id') or ''} {block.get('class') or ''}") else _location(block)
        for sentence in _SENTENCE.split(text):
            found = spdx_from_text(sentence)
            if found is None:
                continue
            spdx, position = found
            before = sentence[: position + 1]
            if location == "footer" and _ANY_GRANT.search(sentence):
                out.append(Licence(spdx, sentence[:MAX_EVIDENCE], "text", "footer", "medium"))
            elif _BODY_GRANT.search(before):
                out.append(Licence(spdx, sentence[:MAX_EVIDENCE], "text", location, "low" if location == "body" else "medium"))
    return out


_LINK_VALUE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_LINK_REL = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.I)


def link_header_licences(value: str | None) -> list[Licence]:
    """Licences in an HTTP `Link: <URL>; rel="license"` header (RFC 8288; several links may be
    comma-separated, and rel may list several relation types)."""
    out = []
    for match in _LINK_VALUE.finditer(value or ""):
        rel = _LINK_REL.search(match.group(2))
        rels = (rel.group(1) or rel.group(2) or "").lower().split() if rel else []
        if "license" in rels:
            spdx = spdx_from_url(match.group(1).strip())
            if spdx:
                out.append(Licence(spdx, ("Link: " + match.group(0).strip())[:MAX_EVIDENCE], "link_header", "header", "high"))
    return out


def detect_licence(tree: HtmlElement | None, headers: dict[str, str] | None = None) -> Licence | None:
    """The best licence statement of a page (and of its response headers, lower-cased names), or None."""
    found = link_header_licences((headers or {}).get("link")) + candidates(tree)
    if not found:
        return None
    return max(enumerate(found), key=lambda ic: (CONFIDENCE_RANK[ic[1].confidence], _LOCATION_RANK[ic[1].location], -ic[0]))[1]
