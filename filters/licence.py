"""The licence a page states for itself, as an SPDX id, with the evidence and how sure we are.

Pure functions over a parsed page (lxml). Precision matters more than recall: a page that links to
a licence, quotes one or explains one does not thereby grant it. The rules, in order of confidence:

high    an explicit machine-readable statement: `<link rel=license>`, `<a rel=license>`, ccREL
        (`rel`/`property` `cc:license`, `xhv:license`, `dc:license`, `dct:license`), meta
        `dcterms.license` / `DC.rights` / `DC.license` / `license`, JSON-LD `license` of the page's
        own item (not of an ImageObject, VideoObject or other media item).
medium  in the page's footer or legal notice (`<footer>`, role=contentinfo, or an ancestor whose
        id/class names footer, colophon, site-info, copyright, legal or licen[cs]e): a link or badge
        to a known licence URL, or a licence named in a sentence that grants it. Anywhere: a labelled
        metadata box, a label that is only "Licence" / "License" / "Lizenz" (heading, <dt>, <th>, <strong>)
        followed by a link to a content licence (not a software licence), e.g. the "Licence" box of a
        repository item page or a blog sidebar widget; labels with different licences on one page give none.
low     in the body: a licence named in a sentence that grants it *for this page*: a self-reference
        ("this document", "this work", "content on this site", "our articles", ...) before a grant
        verb with "under" ("is licensed under", "may be used under the terms of", "available under"),
        a permission notice ("permission is granted to copy ... this document under"), and the same
        in German, French and Spanish ("Dieser Text steht unter der Lizenz", "le contenu de ce site
        est sous licence", "este sitio está bajo la licencia"). A licence link or written-out licence
        URL in such a sentence names the licence. A copular statement counts too: the self-reference is
        the subject and the licence name (with its version) directly follows "is/are" ("the text of this
        post is CC BY 4.0 International"). A bare link or mention in the body (an article
        about Creative Commons) is not a grant.
Text is read in runs between block boundaries, so a sentence in a block that (malformed markup) holds
another block is still read. Footer and text rules also need the licence to be stated for the page's text: "theme / code /
software / icons / fonts / photos / logo ... licensed under X" does not count, "content / text /
documentation ... licensed under X" (or no subject: "Licensed under X") does. The head noun decides:
"code samples in this tutorial" is code (a locative "in/on this X" only says where the subject is). A
software licence (MIT, Apache, GPL, ...) in a sidebar with no text subject is a package's licence (the
sidebar of a documentation generator), not the page's. A <footer> or credit
box inside <blockquote>, <q> or <figure> belongs to the quoted item, a <footer> inside <aside> to
the aside: neither is the page footer. Also the page footer: <address>, footer names in other languages
(rodapé, stopka, Fußzeile, pied de page, ...); not it: a media item's credit box ("photo-license-info"),
a marked quotation (<q>, <blockquote> with cite, a <cite> or an opening quotation mark), the content of a
media file's description page (MediaWiki "File:" pages: the file's licence; the site footer gives the
page's). Grant cues come from one table per language (Portuguese, Italian, Dutch, Scandinavian, Polish and
Czech, Russian, Chinese and Japanese besides the above); "licensed CC BY 4.0" (verb right before the name)
grants too. A <br> ends a copyright notice's line; a parenthesis names its own subject. Label values may
be a link whose text names the licence, a short text value, or a one-element "License: cc-by-sa-4.0" tag.
A document swallowed by an unclosed <title> is parsed again from the title's text.

Licence names: Creative Commons URLs, badges and names map to SPDX ids with version and port
(`CC-BY-SA-4.0`, `CC-BY-3.0-DE`, `CC0-1.0`, `CC-PDM-1.0`); ports the SPDX list lacks become
`LicenseRef-CC-...`. GPL, LGPL, GFDL (versioned), Apache-2.0, MIT, PSF-2.0, the UK Open Government
Licence (OGL-UK-1.0/2.0/3.0), Datenlizenz Deutschland (DL-DE-BY-2.0, DL-DE-ZERO-2.0) and Etalab's Licence
Ouverte 2.0 (etalab-2.0) and the Open Data Commons licences (ODbL-1.0, ODC-By-1.0, PDDL-1.0, one version
each, so named without one too) are
recognised by URL and by name, and so are NLOD-1.0/2.0, OGL-Canada-2.0, NCGL-UK-2.0, OPL-UK-3.0,
OGDL-Taiwan-1.0, CDLA-* and OPUBL-1.0. A name without a version (a bare "GNU GPL") is not mapped. A GNU
licence (GPL, LGPL, AGPL, GFDL) with a version alone is `-only` (its URL too: the URL names one version);
"or later" / "+" (in the name, or right after a licence link) makes it `-or-later`. A badge's alt text is
its link's text, and a footer badge whose alt text only names a content licence counts. A licence label may
carry a qualifier ("License (for files):"), not one naming software or images. "X is free software / ist
freie Software / est un logiciel libre ..." sentences are about software. A rel=license link or licence
label inside a photo or media item's box ("photo-meta", "image-info") is the item's, not the page's. In the
body, the site's authors may be the actor ("we have released the texts under", "wij hebben de teksten
vrijgegeven onder"), and "this item's licence is ..." states the licence. When a page yields several
candidates the most confident wins, then head over footer over body, then the first in the page; but a
footer that says "unless otherwise noted" yields to a body grant naming this very post or article.
Creative Commons names are read in the languages of CC's translated deeds too ("Namensnennung - Weitergabe
unter gleichen Bedingungen", "Reconocimiento-NoComercial"), with a port named after the version ("CC BY
3.0 IGO", "Namensnennung 3.0 Österreich"); labels are "Licence" in more languages (Lisens, 授權方式,
ライセンス, ...) and "Rights" or "Conditions of use" boxes; the GNU notice "This document is free; you can
redistribute it ... under" grants for the document. BSD-2/3-Clause, The Unlicense and WTFPL are known by name
and URL; a <td> may be a label (its value the next cell); a footer clause that is a content licence's name
alone ("Notes by the club · CC BY-NC 4.0") grants; a parenthesis that names no subject of its own is about
what precedes it ("Theme: X (licensed under the GPL)").
"""

from __future__ import annotations

import bisect
import copy
import itertools
import json
import re
from dataclasses import dataclass

import lxml.html
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
    source: str  # link_header | link_rel | a_rel | ccrel | meta | json_ld | footer_link | label_link | text
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
    # A GNU licence's URL names one version: "-only" (SPDX, and the GNU project: "or any later version" must be
    # said). A link whose sentence adds "or later" is read as -or-later (see _or_later_from_text).
    (re.compile(r"gnu\.org/licenses/(?:old-licenses/)?gpl-([123]\.0)(?![\d])", re.I), "GPL-{}-only"),
    (re.compile(r"gnu\.org/licenses/(?:old-licenses/)?lgpl-(2\.0|2\.1|3\.0)(?![\d])", re.I), "LGPL-{}-only"),
    (re.compile(r"gnu\.org/licenses/agpl-(3\.0)(?![\d])", re.I), "AGPL-{}-only"),
    (re.compile(r"gnu\.org/licenses/(?:old-licenses/)?fdl-(1\.[123])(?![\d])", re.I), "GFDL-{}-only"),
    (re.compile(r"apache\.org/licenses/LICENSE-2\.0", re.I), "Apache-2.0"),
    (re.compile(r"opensource\.org/licen[cs]es/MIT\b", re.I), "MIT"),
    (re.compile(r"opensource\.org/licen[cs]es/Apache-2\.0\b", re.I), "Apache-2.0"),
    (re.compile(r"opensource\.org/licen[cs]es/BSD-([23])-Clause\b", re.I), "BSD-{}-Clause"),
    (re.compile(r"(?<![\w.-])unlicense\.org(?![\w.-])", re.I), "Unlicense"),
    (re.compile(r"(?<![\w.-])wtfpl\.net(?![\w.-])", re.I), "WTFPL"),
    # UK Open Government Licence (The National Archives) and Datenlizenz Deutschland (GovData), versioned URLs only.
    (re.compile(r"nationalarchives\.gov\.uk/doc/open-government-licen[cs]e/version/([123])(?![\d])", re.I), "OGL-UK-{}.0"),
    (re.compile(r"govdata\.de/dl-de/(by|zero)-2-0(?![\d])", re.I), "DL-DE-{}-2.0"),
    (re.compile(r"nationalarchives\.gov\.uk/doc/non-commercial-government-licen[cs]e/version/(2)(?![\d])", re.I), "NCGL-UK-{}.0"),
    # Norwegian Licence for Open Government Data (data.norge.no/nlod/no/2.0, /en/1.0).
    (re.compile(r"data\.norge\.no/nlod/(?:[a-z]{2}/)?([12])\.0(?![\d])", re.I), "NLOD-{}.0"),
    # Open Government Licence - Canada: one version (2.0), so its versionless URL names it.
    (re.compile(r"open\.canada\.ca/(?:en|fr)/open-government-licen[cs]e-canada|ouvert\.canada\.ca/\S*licence-du-gouvernement-ouvert", re.I), "OGL-Canada-2.0"),
    (re.compile(r"data\.gov\.tw/licen[cs]e(?![\w-])", re.I), "OGDL-Taiwan-1.0"),
    # Community Data License Agreement (cdla.dev, formerly cdla.io), versioned URLs.
    (re.compile(r"cdla\.(?:dev|io)/permissive-([12])-0(?![\d])", re.I), "CDLA-Permissive-{}.0"),
    (re.compile(r"cdla\.(?:dev|io)/sharing-(1)-0(?![\d])", re.I), "CDLA-Sharing-{}.0"),
    (re.compile(r"opencontent\.org/openpub(?![\w-])", re.I), "OPUBL-1.0"),
    # Etalab Licence Ouverte 2.0: its text in the etalab/licence-ouverte repository (which holds only 2.0)
    # and the versioned PDF; the versionless page etalab.gouv.fr/licence-ouverte-open-licence is not mapped.
    (re.compile(r"github\.com/etalab/licence-ouverte/(?:blob|raw)/[^/\s]+/(?:LO|open-licence)\.md", re.I), "etalab-2.0"),
    (re.compile(r"etalab\.gouv\.fr/\S*?(?:Licence-Ouverte|Open-Licence)-v2[.-]0\.pdf", re.I), "etalab-2.0"),
    # Open Data Commons: each licence exists in version 1.0 only, so its versionless URL names it too.
    (re.compile(r"opendatacommons\.org/licen[cs]es/odbl(?![\w-])(?:/1[.-]0)?", re.I), "ODbL-1.0"),
    (re.compile(r"opendatacommons\.org/licen[cs]es/by(?![\w-])(?:/1[.-]0)?", re.I), "ODC-By-1.0"),
    (re.compile(r"opendatacommons\.org/licen[cs]es/pddl(?![\w-])(?:/1[.-]0)?", re.I), "PDDL-1.0"),
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


# The host names (folded, see _fold) one of which every URL pattern above holds: most links are to none.
_LICENCE_HOSTS = re.compile(
    r"creativecommons|licensebuttons|gnu\.org|apache\.org|opensource\.org|nationalarchives\.gov\.uk|govdata\.de|data\.norge\.no"
    r"|canada\.ca|data\.gov\.tw|cdla\.|opencontent\.org|github\.com/etalab|etalab\.gouv\.fr|opendatacommons\.org|unlicense\.org|wtfpl\.net"
)


def spdx_from_url(url: str | None) -> str | None:
    """SPDX id of a licence URL (or badge image URL), None when it is not one we know."""
    if not url or not _LICENCE_HOSTS.search(_fold(url)):
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
            return template.format(*(g.upper() for g in match.groups()))
    return None


# The licence elements in the languages of CC's translated deeds ("Creative Commons Namensnennung - Weitergabe
# unter gleichen Bedingungen 4.0 International", "Reconocimiento-NoComercial-CompartirIgual", "Attribution - Pas
# d'Utilisation Commerciale", "Uznanie autorstwa - Na tych samych warunkach", ...).
# The first element's word, folded (see _fold), in the languages above: a deed title without "Creative
# Commons" holds one, so the prefilters below look for them.
_ATTRIBUTION_WORDS = ("attribution", "namensnennung", "reconocimiento", "atribuc", "attribuzione", "naamsvermelding", "uznanie", "atribui", "атрибуция", "erkännande", "navngivelse", "kreditering")
_OTHER_ATTRIBUTION_WORDS = "|".join(_ATTRIBUTION_WORDS[1:])
_CC_ATTRIBUTION = r"(?:Attribution|Namensnennung|Reconocimiento|Atribuci[oó]n|Attribuzione|Naamsvermelding|Uznanie\s+autorstwa|Atribui[cç][aã]o|Атрибуция|Erkännande|Navngivelse|Kreditering)"
_CC_ELEMENT = (
    r"(?:Non-?Commercial|Nicht[\s-]?kommerziell|Pas\s+d['’]\s*Utilisation\s+Commerciale|No\s?Comercial|Non\s+commerciale|Niet-?Commercieel"
    r"|Użycie\s+niekomercyjne|N[aã]o\s?Comercial|Некоммерческое|IckeKommersiell|Ikke-?kommersiell|IkkeKommerciel"
    r"|No-?Deriv(?:ative)?s|Keine\s+Bearbeitung(?:en)?|Pas\s+de\s+Modification|Sin\s?(?:Obra\s?)?Derivadas?|Non\s+opere\s+derivate"
    r"|Geen\s?Afgeleide\s?Werken|Bez\s+utworów\s+zależnych|Sem\s?Deriva[cç](?:[oõ]es|[aã]o)|Без\s+производных|IngaBearbetningar|IngenBearbeidelse"
    r"|Share-?Alike|Weitergabe\s+unter\s+gleichen\s+Bedingungen|Partage\s+dans\s+les\s+M[eê]mes\s+Conditions|Compartir\s?Igual"
    r"|Condividi\s+allo\s+stesso\s+modo|Gelijk\s?Delen|Na\s+tych\s+samych\s+warunkach|Compartilha\s?Igual|С\s+сохранением\s+условий|DelaLika|DelPåSammeVilkår|DelPåSammeVilkaar)"
)
_CC_SEPARATOR = r"(?:\s*[-–—,]\s*|\s+)"
# A jurisdiction port named after the version: "CC BY 3.0 IGO", "Creative Commons Namensnennung 3.0 Österreich".
_CC_PORT_NAMES = {
    "igo": "igo", "austria": "at", "österreich": "at", "germany": "de", "deutschland": "de", "netherlands": "nl", "nederland": "nl",
    "united states": "us", "australia": "au", "france": "fr", "spain": "es", "españa": "es", "italy": "it", "italia": "it",
    "poland": "pl", "polska": "pl", "japan": "jp", "taiwan": "tw", "czech republic": "cz", "česko": "cz", "brazil": "br", "brasil": "br",
    "switzerland": "ch", "schweiz": "ch", "suisse": "ch", "england and wales": "uk", "england & wales": "uk", "scotland": "scotland",
}  # fmt: skip
_CC_PORT_CODES = ("AT", "DE", "NL", "US", "AU", "JP", "UK", "FR", "ES", "IT", "PL", "CZ", "BR", "TW", "CH")  # "CC BY 3.0 AT": capitals only
_CC_PORT = (
    r"(?:\s+(" + "|".join(re.escape(name).replace(r"\ ", r"\s+") for name in sorted(_CC_PORT_NAMES, key=len, reverse=True))
    + r"|(?-i:" + "|".join(_CC_PORT_CODES) + r"))\b)?"
)
_CC_NAME = re.compile(
    r"\b(?:Creative\s+Commons(?:[\s-]+(?:Licen[cs]e|Lizenz|Licencia|Licenza|Licentie|Licença|Licencja))?\s+(" + _CC_ATTRIBUTION
    + r"(?:" + _CC_SEPARATOR + _CC_ELEMENT + r"){0,2})"
    r"|(?:CC|Creative\s+Commons)[\s-]+(BY(?:[\s-]+(?:NC|ND|SA)){0,2}))"
    r"(?:\s+(?:License|Licence|Lizenz|Licencia|Licenza))?(?:\s+|-)(\d\.\d)\b" + _CC_PORT,
    re.I,
)
# A deed's title without "Creative Commons" (DSpace's licence field, a badge's alt text): "Attribution-
# NonCommercial-NoDerivatives 4.0 International", with the deed's suffix so that a stray "Attribution 2.0" is not one.
_CC_DEED_NAME = re.compile(
    r"(?<![\w-])(" + _CC_ATTRIBUTION + r"(?:" + _CC_SEPARATOR + _CC_ELEMENT + r"){0,2})\s+(\d\.\d)\s+"
    r"(?:International|Internacional|Internazionale|Internationaal|Międzynarodowe|Международная|Unported|Generic)\b" + _CC_PORT,
    re.I,
)
_CC0_NAME = re.compile(r"\b(?:CC0|CC\s+Zero|Creative\s+Commons\s+Zero)(?:[\s-]+1\.0)?(?:\s+Universal)?\b|(?<!Open Data Commons )Public\s+Domain\s+Dedication(?!\s+and\s+Licen[cs]e)", re.I)
# Open Data Commons licences (ODbL, ODC-By, PDDL): one version each (1.0), so a name without a version names it.
_ODC_NAMES = (
    (re.compile(r"\b(?:Open\s+Data\s+Commons\s+)?Open\s+Database\s+Licen[cs]e(?:\s*\(ODbL\))?(?:[\s,]*(?:v\.?|version\s*)?1\.0)?|\bODbL(?:[\s-]*(?:v\.?|version\s*)?1\.0)?\b", re.I), "ODbL-1.0"),
    (re.compile(r"\bOpen\s+Data\s+Commons\s+Attribution\s+Licen[cs]e(?:\s*\(ODC-By\))?(?:[\s,]*(?:v\.?|version\s*)?1\.0)?|\bODC[\s-]By(?:[\s-]*(?:v\.?|version\s*)?1\.0)?\b", re.I), "ODC-By-1.0"),
    (re.compile(r"\b(?:Open\s+Data\s+Commons\s+)?Public\s+Domain\s+Dedication\s+and\s+Licen[cs]e(?:\s*\(PDDL\))?(?:[\s,]*(?:v\.?|version\s*)?1\.0)?|\bPDDL(?:[\s-]*(?:v\.?|version\s*)?1\.0)?\b", re.I), "PDDL-1.0"),
)
# "version 2 or later" in the languages of the web Ernte curates most (the licence grant of a
# translated manual keeps the licence's name and translates the rest).
_VERSION_WORD = r"(?:version|versione|versión|versão|versie|v\.?|バージョン)"
_OR_LATER = (
    r"(,?\s*(?:or\s*(?:\(at\s+your\s+option\)\s+|,\s*at\s+your\s+option\s*,\s*)?(?:any\s+)?(?:later|higher|newer)(?:\s+version)?"
    r"|oder\s+(?:\(nach\s+Ihrer\s+Wahl\)\s+)?(?:jeder\s+)?(?:neuer|höher|später)\w*(?:\s+Version)?"
    r"|ou\s+(?:toute\s+version\s+)?(?:suivante|ultérieure|supérieure)s?|o\s+(?:successiv[ae]|superiore|posterior)|o\s+(?:cualquier\s+)?(?:versión\s+)?posterior"
    r"|\s*(?:もしくは|または)?それ以降|以降))?"
)
_GPL_NAME = re.compile(
    r"(?:\bGNU\s+(Lesser\s+|Library\s+|Affero\s+)?General\s+Public\s+Licen[cs]e|Licence\s+publique\s+générale\s+(?:de\s+)?GNU|GNU\s*一般公(?:衆|有)(?:利用|使用)許諾(?:契約)?書)"
    r",?\s*(?:\(?(?:GPL|LGPL|AGPL)\)?,?\s*)?(?:as\s+published\s+by\s+the\s+Free\s+Software\s+Foundation[,;]?\s*)?"
    r"(?:either\s+)?、?\s*" + _VERSION_WORD + r"\s*(\d(?:\.\d)?)(?:\s+of\s+the\s+Licen[cs]e)?" + _OR_LATER,
    re.I,
)
# "GNU Free Documentation License, Version 1.3 or any later version", "... License 1.3 or later",
# "GFDL 1.2", "GFDL-1.3-or-later": the word "version" is optional.
_GFDL_NAME = re.compile(
    r"(?:\bGNU\s+Free\s+Documentation\s+Licen[cs]e|\bGNU\s+FDL\b|\bGFDL\b),?\s*(?:\(GFDL\),?\s*)?(?:(?:version|v\.?)\s*|-)?(1\.[123])(?![\d])"
    r"((?:,?\s*|-)or[\s-]+(?:\(at\s+your\s+option\)\s+)?(?:any\s+)?later(?:\s+version)?|\+)?",
    re.I,
)
# UK Open Government Licence v1.0-3.0 (not the Canadian one of the same name, which has no version).
_OGL_NAME = re.compile(
    r"\bOpen\s+Government\s+Licen[cs]e(?!\s*[-–—:,]?\s*(?:for\s+)?Canada)(?:\s+for\s+public\s+sector\s+information)?,?\s*(?:\(OGL\),?\s*)?"
    r"(?:(?:version|v\.?)\s*([123])(?:\.0)?|([123])\.0)(?![\d.]*\d)|\bOGL-UK-([123])\.0\b",
    re.I,
)
# Datenlizenz Deutschland (Data licence Germany) attribution / zero, version 2.0 (the versions SPDX lists).
_DL_DE_NAME = re.compile(
    r"\b(?:Daten[\s-]?lizenz\s+Deutschland|Data\s+Licen[cs]e\s+Germany)\s*[-–—,:]?\s*(Namensnennung|attribution|Zero)\s*[-–—,:]?\s*(?:Version\s*)?2\.0\b"
    r"|\bdl-de[/-](by|zero)-2[-.]0\b",
    re.I,
)
# Etalab Licence Ouverte / Open Licence version 2.0 (France), "licence etalab-2.0"; 1.0 is not on the SPDX list.
_ETALAB_NAME = re.compile(
    r"\b(?:Licence\s+Ouverte(?:\s*[/–-]\s*Open\s+Licen[cs]e)?(?:\s+(?:d['’]\s*)?Etalab)?|Open\s+Licen[cs]e\s+Etalab"
    r"|(?:Licen[cs]e\s+|Open\s+Licen[cs]e\s+)?Etalab(?:\s+Open\s+Licen[cs]e|\s+Licence\s+Ouverte)?)"
    r"\s*,?\s*(?:(?:version|v\.?)\s*2(?:\.0)?|2\.0|-2\.0)(?![\d.]*\d)",
    re.I,
)
# Government open-data licences on the SPDX list, by name (and by SPDX id): Norway's NLOD 1.0/2.0, Canada's
# OGL (one version, 2.0, so named without one too), the UK's Non-Commercial Government Licence 2.0 and Open
# Parliament Licence 3.0, Taiwan's Open Government Data License 1.0; and the Community Data License Agreements.
# Canada's OGL has one version (2.0): its URL names it, its name only with the version (a bare "Open Government
# Licence – Canada" is left alone, as a bare UK "Open Government Licence" is).
_OPEN_DATA_NAMES = (
    (re.compile(r"\b(?:Norwegian\s+Licen[cs]e\s+for\s+Open\s+Government\s+Data|Norsk\s+lisens\s+for\s+offentlige\s+data|NLOD)(?:\s*\(NLOD\))?[\s,-]*(?:(?:version|versjon|v\.?)\s*)?([12])\.0\b", re.I), "NLOD-{}.0"),
    (re.compile(r"\b(?:Open\s+Government\s+Licen[cs]e|Licence\s+du\s+gouvernement\s+ouvert)\s*[-–—:,]?\s*Canada[\s,]*(?:(?:version|v\.?)\s*)?2\.0\b|\bOGL-Canada-2\.0\b", re.I), "OGL-Canada-2.0"),
    (re.compile(r"\bNon-?Commercial\s+Government\s+Licen[cs]e,?\s*(?:(?:version|v\.?)\s*)?2(?:\.0)?\b|\bNCGL-UK-2\.0\b", re.I), "NCGL-UK-2.0"),
    (re.compile(r"\bOpen\s+Parliament\s+Licen[cs]e,?\s*(?:(?:version|v\.?)\s*)?3(?:\.0)?\b|\bOPL-UK-3\.0\b", re.I), "OPL-UK-3.0"),
    (re.compile(r"\bOpen\s+Government\s+Data\s+Licen[cs]e,?\s*(?:[-–—]\s*)?(?:Taiwan,?\s*)?(?:version|v\.?)\s*1(?:\.0)?\b|政府資料開放授權條款\s*[-－–]?\s*第\s*1\s*版|\bOGDL-Taiwan-1\.0\b", re.I), "OGDL-Taiwan-1.0"),
    (re.compile(r"\bCommunity\s+Data\s+Licen[cs]e\s+Agreement\s*[-–—,]?\s*Permissive\s*[-–—,]?\s*(?:version\s*)?([12])\.0\b|\bCDLA-Permissive-([12])\.0\b", re.I), "CDLA-Permissive-{}.0"),
    (re.compile(r"\bCommunity\s+Data\s+Licen[cs]e\s+Agreement\s*[-–—,]?\s*Sharing\s*[-–—,]?\s*(?:version\s*)?(1)\.0\b|\bCDLA-Sharing-(1)\.0\b", re.I), "CDLA-Sharing-{}.0"),
    (re.compile(r"\bOpen\s+Publication\s+Licen[cs]e(?:,?\s*(?:version|v\.?)\s*1\.0)?\b|\bOPUBL-1\.0\b", re.I), "OPUBL-1.0"),
)
# GNU licences written as SPDX ids or short names: "GPL-3.0-only", "LGPL-2.1-or-later", "GPL-2.0+", "GPLv3",
# "AGPL v3 or later". Without "or later" (or "+") the version alone is named: -only.
_GNU_SHORT = re.compile(
    r"(?<![\w-])(A|L)?GPL[\s-]?v?(1|2|3|2\.1)(?:\.0)?(?:(-only)|(-or-later|\+)|(?![\w.+-]))" + _OR_LATER,
    re.I,
)
_GNU_IDS = frozenset(
    f"{kind}-{version}" for kind, versions in (("GPL", "1.0 2.0 3.0"), ("LGPL", "2.0 2.1 3.0"), ("AGPL", "1.0 3.0")) for version in versions.split()
)
_OTHER_NAMES = (
    (re.compile(r"\bApache\s+Licen[cs]e,?\s*(?:Version\s*|v)2\.0\b|\bApache[\s-]2\.0\s+licen[cs]e", re.I), "Apache-2.0"),
    (re.compile(r"\b(?:the\s+)?MIT\s+Licen[cs]e\b|\bMIT[\s-]licen[cs]ed\b", re.I), "MIT"),
    (re.compile(r"\bPython\s+Software\s+Foundation\s+Licen[cs]e|\bPSF\s+Licen[cs]e", re.I), "PSF-2.0"),
    (re.compile(r"\b(?:BSD[\s-]3[\s-]Clause|3[\s-]Clause\s+BSD|(?:New|Modified|Revised)\s+BSD)(?:\s+Licen[cs]e)?|\bBSD-3-Clause\b", re.I), "BSD-3-Clause"),
    (re.compile(r"\b(?:BSD[\s-]2[\s-]Clause|2[\s-]Clause\s+BSD|Simplified\s+BSD|FreeBSD)\s+Licen[cs]e|\bBSD-2-Clause\b", re.I), "BSD-2-Clause"),
    (re.compile(r"\b(?:The\s+)?Unlicense\b"), "Unlicense"),  # capitalised: the name, not the verb
    (re.compile(r"\bWTFPL\b|\bDo\s+What\s+The\s+F\S*\s+You\s+Want\s+To\s+Public\s+Licen[cs]e", re.I), "WTFPL"),
)
_GPL_VERSIONS = {"2": "2.0", "2.0": "2.0", "3": "3.0", "3.0": "3.0", "2.1": "2.1"}


_URL_IN_TEXT = re.compile(r"(?:https?:)?//\S+|\b(?:www\.)?(?:unlicense\.org|wtfpl\.net|creativecommons\.org|i\.creativecommons\.org|licensebuttons\.net|gnu\.org|apache\.org|opensource\.org|opendatacommons\.org|nationalarchives\.gov\.uk|govdata\.de|github\.com/etalab|etalab\.gouv\.fr|data\.norge\.no|open\.canada\.ca|cdla\.(?:dev|io))/\S+", re.I)

# The words (folded, see _fold) one of which every match of a name pattern holds: a pattern is searched only in
# a text that holds one (there are some thirty patterns, and most sentences hold none of their words).
_NAME_WORDS = {
    _CC_NAME: ("creative", "cc"),
    _CC_DEED_NAME: _ATTRIBUTION_WORDS,
    _CC0_NAME: ("cc", "creative", "public"),
    _GPL_NAME: ("gnu",),
    _GNU_SHORT: ("gpl",),
    _GFDL_NAME: ("gnu", "gfdl"),
    _OGL_NAME: ("open", "ogl"),
    _DL_DE_NAME: ("lizenz", "licen", "dl-de"),
    _ETALAB_NAME: ("licen", "etalab"),
    _OTHER_NAMES[0][0]: ("apache",),
    _OTHER_NAMES[1][0]: ("mit",),
    _OTHER_NAMES[2][0]: ("python", "psf"),
    _OTHER_NAMES[3][0]: ("bsd",),
    _OTHER_NAMES[4][0]: ("bsd",),
    _OTHER_NAMES[5][0]: ("unlicense",),
    _OTHER_NAMES[6][0]: ("wtfpl", "do what"),
    _ODC_NAMES[0][0]: ("open", "odbl"),
    _ODC_NAMES[1][0]: ("open", "odc"),
    _ODC_NAMES[2][0]: ("public", "pddl"),
    _OPEN_DATA_NAMES[0][0]: ("licen", "norsk", "nlod"),
    _OPEN_DATA_NAMES[1][0]: ("licen", "ogl"),
    _OPEN_DATA_NAMES[2][0]: ("licen", "ncgl"),
    _OPEN_DATA_NAMES[3][0]: ("licen", "opl-uk"),
    _OPEN_DATA_NAMES[4][0]: ("licen", "政府資料", "ogdl"),
    _OPEN_DATA_NAMES[5][0]: ("licen", "cdla"),
    _OPEN_DATA_NAMES[6][0]: ("licen", "cdla"),
    _OPEN_DATA_NAMES[7][0]: ("licen", "opubl"),
    _URL_IN_TEXT: (
        "//", "creativecommons.org", "licensebuttons.net", "gnu.org", "apache.org", "opensource.org", "opendatacommons.org",
        "nationalarchives.gov.uk", "govdata.de", "github.com/etalab", "etalab.gouv.fr", "data.norge.no", "open.canada.ca", "cdla.",
        "unlicense.org", "wtfpl.net",
    ),
}  # fmt: skip
assert all(pattern in _NAME_WORDS for pattern, _ in (*_OTHER_NAMES, *_ODC_NAMES, *_OPEN_DATA_NAMES))  # a new row needs its words
_ANY_NAME_WORD = re.compile("|".join(re.escape(word) for words in _NAME_WORDS.values() for word in words))


_CC_NC_WORD = re.compile(r"commerc|comerc|kommerz|kommers|kommerc|\bnc\b")
_CC_ND_WORD = re.compile(r"deriv|bearbeit|modification|afgeleide|zależn|производн|\bnd\b")
_CC_SA_WORD = re.compile(r"share|gleichen|m[eê]mes\s+conditions|igual|stesso\s+modo|gelijk|tych\s+samych|сохранением|dela\s*lika|sammevilk|\bsa\b")


def _dehyphen(text: str) -> str:
    """The text with the Unicode hyphen and non-breaking hyphen ("CC BY&#8209;SA 4.0") as "-", one for one."""
    return text.replace("\u2010", "-").replace("\u2011", "-")


def licences_in_text(text: str) -> list[tuple[int, int, str]]:
    """(start, end, SPDX id) of every licence named with its version (or written as a licence URL)
    in a piece of text, in text order."""
    found: list[tuple[int, int, str]] = []

    def cc_elements(words: str) -> str:
        words = words.lower()
        elements = ["BY"]
        if _CC_NC_WORD.search(words):
            elements.append("NC")
        if _CC_ND_WORD.search(words):
            elements.append("ND")
        elif _CC_SA_WORD.search(words):
            elements.append("SA")
        return "-".join(elements)

    def port(match: re.Match, group: int) -> str | None:
        name = match.group(group)
        if not name or match.group(group - 1) == "4.0":  # 4.0 has no ports: "CC BY 4.0 Deutschland" is the licence and a place
            return None
        return _CC_PORT_NAMES.get(" ".join(name.lower().split()), name.lower())

    text = _dehyphen(text)
    folded = _fold(text)
    if not _ANY_NAME_WORD.search(folded):
        return found

    def matches(pattern: re.Pattern):
        return pattern.finditer(text) if any(word in folded for word in _NAME_WORDS[pattern]) else ()

    for match in matches(_CC_NAME):
        found.append((match.start(), match.end(), _cc_spdx(cc_elements(match.group(1) or match.group(2)), match.group(3), port(match, 4))))
    for match in matches(_CC_DEED_NAME):
        found.append((match.start(), match.end(), _cc_spdx(cc_elements(match.group(1)), match.group(2), port(match, 3))))
    for match in matches(_CC0_NAME):
        found.append((match.start(), match.end(), "CC0-1.0"))
    for match in matches(_GPL_NAME):
        kind = {"lesser": "LGPL", "library": "LGPL", "affero": "AGPL"}.get((match.group(1) or "").strip().lower(), "GPL")
        version = _GPL_VERSIONS.get(match.group(2))
        if version is not None and not (kind == "LGPL" and version == "2.0"):
            found.append((match.start(), match.end(), f"{kind}-{version}-{'or-later' if match.group(3) else 'only'}"))
    for match in matches(_GNU_SHORT):
        kind = f"{(match.group(1) or '').upper()}GPL"
        version = match.group(2) if "." in match.group(2) else f"{match.group(2)}.0"
        if f"{kind}-{version}" in _GNU_IDS:
            later = bool(match.group(4) or match.group(5))
            found.append((match.start(), match.end(), f"{kind}-{version}-{'or-later' if later else 'only'}"))
    for match in matches(_GFDL_NAME):
        found.append((match.start(), match.end(), f"GFDL-{match.group(1)}-{'or-later' if match.group(2) else 'only'}"))
    for match in matches(_OGL_NAME):
        found.append((match.start(), match.end(), f"OGL-UK-{match.group(1) or match.group(2) or match.group(3)}.0"))
    for match in matches(_DL_DE_NAME):
        kind = (match.group(1) or match.group(2)).lower()
        found.append((match.start(), match.end(), "DL-DE-ZERO-2.0" if kind == "zero" else "DL-DE-BY-2.0"))
    for match in matches(_ETALAB_NAME):
        found.append((match.start(), match.end(), "etalab-2.0"))
    for pattern, spdx in (*_OTHER_NAMES, *_ODC_NAMES, *_OPEN_DATA_NAMES):
        for match in matches(pattern):
            found.append((match.start(), match.end(), spdx.format(*(g for g in match.groups() if g))))
    for match in matches(_URL_IN_TEXT):  # a licence URL written out ("... (https://creativecommons.org/licenses/by/4.0/)")
        spdx = spdx_from_url(match.group(0))
        if spdx:
            found.append((match.start(), match.end(), spdx))
    found.sort()
    # a name inside a longer match (CC0 inside a URL, a name repeated by a URL) is not a second licence
    out: list[tuple[int, int, str]] = []
    for item in found:
        if out and item[0] < out[-1][1]:
            continue
        out.append(item)
    return out


def spdx_from_text(text: str) -> tuple[str, int] | None:
    """(SPDX id, position) of the first licence named with its version in a piece of text."""
    found = licences_in_text(text)
    return (found[0][2], found[0][0]) if found else None


# -- where on the page ------------------------------------------------------------------------------

# Footer names in the languages of the web Ernte curates: footer, rodapé (pt), stopka (pl), Fußzeile (de),
# pied de page (fr), pie de página (es), piè di pagina (it), voettekst (nl), sidfot (sv), podval (ru).
_FOOTERISH = re.compile(
    r"foot|colophon|site-?info|copyright|legal|licen[cs]e|lizenz|rights|rodap|stopka|fu(?:ss|ß)zeile|pied-?de-?page|\bpied\b"
    r"|pie-?de-?p[aá]gina|pi[eè]-?di-?pagina|\bpiede\b|voettekst|sidfot|podval"
    r"|\bfu(?:ss|ß)(?:bereich|leiste)?\b|\bvoet(?:regel)?\b|alatunniste|bunntekst|sidefod|pati[cč]ka|z[aá]pat[ií]|l[aá]bl[eé]c|altbilgi",
    re.I,
)
# A credit or licence box of a media item (Flickr's "photo-license-info", "image-credit", "media-rights"):
# the item's licence, not the page's, wherever it sits.
_MEDIA_BOX = re.compile(
    r"(?:photo|image|img|media|video|picture|attachment|audio)s?[-_]?(?:licen[cs]e|rights|copyright|credit|attribution)", re.I
)
# An element that describes one photo, image, video or other media item (a photo page's "photo-meta",
# "photo-details", "image-info", "media-item" box): a rel=license link inside it is the item's licence.
_MEDIA_ITEM = re.compile(
    r"(?:^|[\s_-])(?:photos?|images?|img|media|videos?|pictures?|pics?|audio|attachments?|artworks?|illustrations?)"
    r"(?:[-_](?:meta|metadata|info|details?|data|item|page|view|main|box|wrapper|container|sidebar|attribution|caption|credits?))?(?=$|\s)",
    re.I,
)


def _in_media_item(el) -> bool:
    return any(
        _MEDIA_ITEM.search(f"{a.get('id') or ''} {a.get('class') or ''}") for a in el.iterancestors() if isinstance(a.tag, str)
    )


# Quoted or embedded material: a footer, credit or licence box inside it belongs to the quoted item.
_QUOTING = frozenset({"blockquote", "q", "figure"})
_BLOCK_TAGS = frozenset(
    "p li td th dd dt div footer section article aside address blockquote header main nav ul ol dl table h1 h2 h3 h4 h5 h6 small center body".split()
)
# Cheap pre-checks before sentences are read: a licence word or a licence's name.
_KEYWORDS = re.compile(
    r"licen[cs]|lizenz|licenz|creative\s+commons|\bCC[\s-]?(?:BY|0|zero)|public\s+domain|\bGNU\b|\bGFDL\b|\bApache\b|\bMIT\b|\bPSF\b|Python\s+Software|\bdl-de\b|\bOGL\b|etalab|\bODbL\b|\bODC\b|\bPDDL\b|Open\s+Data(?:base)?\b|//"
    r"|\b[AL]?GPL|\bNLOD\b|\bCDLA\b|Open\s+Publication|Open\s+Parliament|\bAttribution\b|政府資料|\bBSD\b|Unlicense|\bWTFPL\b|" + _OTHER_ATTRIBUTION_WORDS,
    re.I,
)
# _KEYWORDS is slow to search (case-insensitive alternatives give the regex engine no prefix to skip to), and
# it is searched in every text run. _KEYWORD_HINT is a case-sensitive superset of it, read on the folded text
# (below), that the engine scans for quickly: every match of _KEYWORDS at position p has a match of it at p or
# p + 1 ("agpl": "gpl"), so _KEYWORDS need only be searched from one before the first hint.
_KEYWORD_HINT = re.compile(
    r"licen|lizenz|creative\s+commons|cc[\s-]?(?:by|0|zero)|public\s+domain|gnu|gfdl|apache|mit|psf|python\s+software|dl-de|ogl|etalab"
    r"|odbl|odc|pddl|open\s+data|//|gpl|nlod|cdla|open\s+publication|open\s+parliament|attribution|政府資料|bsd|unlicense|wtfpl|" + _OTHER_ATTRIBUTION_WORDS
)


# Case folding as the regex engine does it for ASCII letters (re.I matches "ı" and "İ" to "i", "ſ" to "s"), one
# character for one, so that positions in the folded text are positions in the text (str.replace, not the
# slower str.translate).
def _fold(text: str) -> str:
    return _dehyphen(text.replace("İ", "i").replace("ı", "i").replace("ſ", "s").lower())


def _has_keyword(text: str) -> bool:
    """`_KEYWORDS.search(text)`, fast: the hint finds where a match can start first."""
    hint = _KEYWORD_HINT.search(_fold(text))
    return hint is not None and _KEYWORDS.search(text, max(hint.start() - 1, 0)) is not None


# A grant: a self-reference, then a grant verb and "under", in one sentence (body text).
# The page's text, named by a demonstrative or possessive ("this document", "our articles", "content on
# this site") or as "the content/text of this ...". Photos, images, code and software are not the text.
_SELF_NOUNS = r"(?:item|record|deposit|work|works|document|documents|documentation|page|pages|article|articles|post|posts|site|website|blog|content|contents|text|texts|manual|guide|book|material|materials|tutorial|entry|entries|wiki|podcast|episode|publication|report|paper|thesis|dataset|datasets|database|databases|data|collection|information|notes|issue|newsletter|edition|chapter|lesson|course|essay|story|stories|handbook|dictionary|glossary|encyclopedia|translation|transcript|transcripts|slides|recipe|recipes|poem|poems|resource|resources)"
_SELF = (
    r"(?:\b(?:this|these|our|my|all|site|website)\b(?:\s+[\w'’-]+){0,4}?\s*\b" + _SELF_NOUNS + r"\b"
    r"|\b(?:content|contents|text|texts|material|materials|documentation)\s+(?:of|on|in)\s+(?:this|these|our|my)\b)"
)
_GRANT = r"\b(?:is|are|be|been|was|were)?\s*(?:(?:freely|also)\s+)?(?:licen[cs]ed|released|available|distributed|published|made\s+available|dedicated|shared|offered|provided|used|reproduced|copied|redistributed|reused)\b[^.;]{0,60}?\bunder\b"
# The same in German, French and Spanish: self-reference, then "steht unter", "lizenziert unter",
# "sous licence", "mis à disposition selon les termes de la licence", "bajo (la) licencia".
_SELF_DE = (
    r"(?:\b(?:dies(?:er|e|es|em|en)|unser(?:e|er|es|em|en)?|mein(?:e|er|es|em|en)?|alle|sämtliche)\b(?:\s+[\w'’-]+){0,4}?\s*\b(?:Text|Texte|Inhalt|Inhalte|Artikel|Beitrag|Beiträge|Werk|Werke|Seite|Seiten|Website|Webseite|Webseiten|Internetseite|Blog|Dokument|Dokumente|Dokumentation|Handbuch|Anleitung|Material|Materialien|Veröffentlichung|Bericht|Buch|Wiki|Daten|Datensatz|Datensätze|Datenbank)\b"
    r"|\b(?:die|der|das)\s+(?:Beschreibung|Daten|Datensätze|Datensatz|Datenbank|Inhalte|Texte)\b(?!\s+(?:von|der|des|aus)\b))"
)
_GRANT_DE = r"(?:\b(?:steht|stehen|ist|sind|wird|werden|wurde|wurden)\b[^.;]{0,40}?\bunter\s+(?:der|einer|den|dem|die)\b|\b(?:lizenziert|lizensiert|veröffentlicht|freigegeben|verfügbar)\s+unter\b)"
_FR_NOUNS = r"(?:contenu|contenus|texte|textes|site|article|articles|billet|billets|page|pages|œuvre|oeuvre|document|documents|documentation|blog|ouvrage|manuel|guide|publication|travail)"
_SELF_FR = r"(?:\b(?:ce|cet|cette|ces|notre|nos|mon|ma|mes)\s+(?:[\w'’-]+\s+){0,3}?" + _FR_NOUNS + r"\b|\b" + _FR_NOUNS + r"\s+(?:de|du)\s+(?:ce|cet|cette|notre|mon)\b)"
_GRANT_FR = r"(?:\bsous\s+(?:la\s+|une\s+|les\s+termes\s+de\s+la\s+)?licence\b|\bselon\s+les\s+(?:termes|conditions)\s+de\s+la(?:\s+licence)?\b|\b(?:publiée?s?|diffusée?s?|distribuée?s?|placée?s?|disponibles?)\s+sous\b)"
_ES_NOUNS = r"(?:contenido|contenidos|texto|textos|sitio|web|artículo|artículos|página|páginas|obra|obras|documento|documentos|documentación|blog|entrada|entradas|manual|guía|material|materiales|publicación|trabajo)"
_SELF_ES = r"(?:\b(?:este|esta|estos|estas|nuestro|nuestra|nuestros|nuestras|mi|mis)\s+(?:[\w'’-]+\s+){0,3}?" + _ES_NOUNS + r"\b|\b" + _ES_NOUNS + r"\s+(?:de|del)\s+(?:este|esta|nuestro|nuestra|mi)\b)"
_GRANT_ES = r"(?:\bbajo\s+(?:la\s+|una\s+|los\s+términos\s+de\s+la\s+)?licencia\b|\b(?:publicad[oa]s?|distribuid[oa]s?|disponibles?|está|están)\s+bajo\b)"
# More languages, one row each: the grant cue (a verb or the preposition that introduces the licence)
# and, for the body, the self-reference ("this/our" + a noun for the page's text). Footer text needs
# only the cue; body text needs the self-reference before it.
_GRANTS_BY_LANGUAGE = {
    "pt": (
        (
            r"\b(?:este|esta|estes|estas|nosso|nossa|nossos|nossas|todo\s+o|todos\s+os)\s+(?:[\w'’-]+\s+){0,3}?(?:conteúdos?|textos?|artigos?|páginas?|site|sítio|obras?|blog|documentos?|documentação|manual|materia(?:l|is)|publicaç(?:ão|ões)|trabalho)\b"
            r"|\b(?:conteúdos?|textos?)\s+(?:deste|desta|do\s+nosso|da\s+nossa)\b"
        ),
        r"\bsob\s+(?:a\s+|uma\s+|os\s+termos\s+da\s+)?licen[çc]a\b|\b(?:licenciad[oa]s?|disponíve(?:l|is)|publicad[oa]s?|distribuíd[oa]s?|liberad[oa]s?)\s+sob\b",
    ),
    "it": (
        (
            r"\b(?:questo|questa|questi|queste|nostro|nostra|nostri|nostre|tutti\s+i|tutto\s+il)\s+(?:[\w'’-]+\s+){0,3}?(?:contenut[oi]|test[oi]|articol[oi]|pagin[ae]|sito|opera|blog|document[oi]|documentazione|manuale|material[ei]|pubblicazion[ei]|lavoro)\b"
            r"|\b(?:contenut[oi]|test[oi])\s+(?:di\s+quest[oa]|del\s+presente|del(?:la)?\s+nostr[oa])\b"
        ),
        r"\b(?:sotto|con)\s+(?:la\s+|una\s+)?licenza\b|\b(?:rilasciat|distribuit|pubblicat|concess|licenziat)[oaie]\s+(?:sotto|con|secondo|in\s+base)\b|\bdisponibil[ei]\s+(?:sotto|con|secondo)\b",
    ),
    "nl": (
        r"\b(?:deze|dit|onze|ons|alle)\s+(?:[\w'’-]+\s+){0,3}?(?:inhoud|teksten|tekst|artikelen|artikel|pagina's|pagina|site|website|werk|blog|documentatie|document|handleiding|materiaal|publicatie)\b",
        r"\bonder\s+(?:de|een)\s+(?:\S+\s+)?licentie\b|\b(?:gelicentieerd|gelicenseerd|beschikbaar|gepubliceerd|uitgebracht|vrijgegeven)\s+onder\b",
    ),
    "sv-da-no": (
        (
            r"\b(?:denna|detta|dessa|vår|vårt|våra|allt|all)\s+(?:[\w'’-]+\s+){0,3}?(?:innehåll|texter|text|artiklar|artikel|sidan|sida|webbplats|verk|blogg|dokumentation|dokument|handbok|material)\b"
            r"|\b(?:innehållet|texterna|texten)\s+(?:på|i)\s+(?:denna|detta|vår|vårt)\b"
        ),
        (
            r"\b(?:licensierad|licensierat|licensierade|licenseret|lisensiert|tillgänglig|tillgängligt|tillgängliga|tilgængelig|tilgjengelig|publicerad|publicerat|publiceret|publisert|utgiven|utgivet)\s+under\b"
            r"|\bunder\s+(?:licensen|lisensen|licens|lisens)\b"
        ),
    ),
    "pl-cs": (
        (
            r"\b(?:ten|ta|to|te|nasz|nasza|nasze|cała|cały|wszystkie)\s+(?:[\w'’-]+\s+){0,3}?(?:treść|treści|tekst|teksty|artykuł|artykuły|strona|serwis|utwór|blog|dokumentacja|dokument|materiały|materiał|publikacja)\b"
            r"|\btreść\s+(?:serwisu|strony|witryny)\b"
        ),
        r"\b(?:na|w\s+oparciu\s+o)\s+(?:warunkach\s+)?licencj[iaęe]\b|\bpod\s+licenc(?:í|iou|i)\b|\bza\s+podmínek\s+licence\b",
    ),
    "ru-uk": (
        r"\b(?:этот|эта|это|эти|наш|наша|наше|наши|все)\s+(?:\w+\s+){0,3}?(?:текст|тексты|материалы|материал|статья|статьи|сайт|содержимое|контент|документация|документ|блог|работа)\b",
        r"(?:\b(?:по|под)\s+лицензи(?:ей|и)|\bна\s+условиях\s+лицензии|\bза\s+ліцензією)\b",
    ),
    # Chinese and Japanese: no spaces, no \b; "本博客所有文章……均采用 CC BY-NC-SA 4.0 许可协议", "このサイトの記事は CC BY 4.0 の下で提供"
    "zh-ja": (
        (
            r"本(?:文|站|页|頁|博客|部落格|网站|網站|作品|书|書|教程|文档|文檔|文章)|(?:此|这|這)(?:篇|个|個|本)?(?:文章|作品|网站|網站|页面|頁面)"
            r"|(?:この|本)(?:ページ|サイト|文書|ドキュメント|記事|作品|ブログ|ウェブサイト|マニュアル)"
        ),
        r"采用|採用|遵循|遵守|基于|基於|依据|依據|の(?:下|もと)で|に(?:基づ|従)[いっ]|ライセンスされ|(?:で|にて)(?:提供|公開)",
    ),
}
# A copular statement: the self-reference is the subject and the licence (named with its version) the
# complement, "the text of this post is CC BY 4.0 International", "these notes are CC0 1.0". Read on the
# sentence up to the licence name, so the name must follow the copula directly.
_COPULA = re.compile(_SELF + r"[^.;:]{0,40}?\b(?:is|are)\s+(?:(?:also|now|all)\s+)?$", re.I)
# The licence named as the page's: "this item's license is described as Attribution 4.0 International"
# (DSpace), "the licence of this work is ...", "licence for this document: ...".
_LICENCE_IS = re.compile(
    r"(?:" + _SELF + r"['’]s\s+licen[cs]e|\blicen[cs]e\s+(?:of|for)\s+" + _SELF + r")\s*(?:(?:is|:)\s*(?:(?:described|stated|given)\s+as\s+)?)(?:the\s+|a\s+)?$",
    re.I,
)
# Permission notices name the verb first: "Permission is granted to copy, distribute and/or modify this
# document under the terms of ..." (GFDL, GPL documentation notices).
# An author's act, verb first, reads the same way: "I'm releasing this essay into the public domain under CC0".
_PERMISSION = (
    r"\b(?:copy|distribute|modify|redistribute|reproduce|reuse|share|adapt|translate|republish|reprint|repost"
    r"|releas(?:e|es|ing)|licen[cs](?:e|es|ing)|publish(?:es|ing)?|dedicat(?:e|es|ing)|plac(?:e|es|ing)|offer(?:s|ing)?|sharing)\b[^.;]{0,60}?"
    + _SELF + r"[^.;]{0,40}?\bunder\b"
)
# The GNU notice with the page's text as its subject: "This manual is free documentation; you can redistribute it
# and/or modify it under the terms of the GNU General Public License ..." (the clause after the ";" names no subject).
_GNU_NOTICE = _SELF + r"\s+is\s+free(?:\s+documentation)?\s*;\s*you\s+can\s+redistribute\s+it\b[^.;]{0,40}?\bunder\b"
# The site's authors as the actor: "we have released the texts under", "Wij hebben de teksten vrijgegeven onder",
# "Wir stellen alle Texte unter ...", "nous publions nos textes sous": a first-person subject, the page's
# text as its object, then the preposition that introduces the licence.
_ACTOR_NOUNS = (
    r"(?:content|contents|texts?|articles?|posts?|documentation|materials?|writings?|entries"
    r"|inhoud|teksten|tekst|artikelen|Texte|Inhalte|Artikel|Beiträge|textes|contenus?|articles|billets|textos|contenidos?|artículos)"
)
_ACTOR = (
    r"\b(?:we|I|wij|ik|wir|ich|nous|je)\b(?:\s+[\w'’-]+){0,3}?\s+(?:(?:the|all|our|my|de|het|alle|onze|mijn|die|unsere|meine|les|nos|mes|tous\s+les)\s+)?"
    + _ACTOR_NOUNS + r"\b[^.;]{0,60}?\b(?:under|onder|unter|sous|bajo|sob|sotto)\b"
)
_BODY_GRANT = re.compile(
    "|".join(
        (
            _ACTOR,
            _SELF + r"[^.;]{0,80}?" + _GRANT,
            _PERMISSION,
            _GNU_NOTICE,
            _SELF_DE + r"[^.;]{0,80}?" + _GRANT_DE,
            _SELF_FR + r"[^.;]{0,80}?" + _GRANT_FR,
            _SELF_ES + r"[^.;]{0,80}?" + _GRANT_ES,
            *(self_ref + r"[^.;。；]{0,80}?(?:" + cue + ")" for self_ref, cue in _GRANTS_BY_LANGUAGE.values()),
        )
    ),
    re.I,
)
# Footer text: any grant cue (English grant verbs, "permission is granted to copy ... under", the
# same in German, French, Italian, Spanish and Japanese) or a copyright or licence label.
_FOOTER_CUES = (
    r"|\b(?:copy|distribute|modify|use|redistribute|reuse)\b[^.;]{0,60}?\bunder\b"
    r"|\b(?:unter|gemäß)\s+(?:den|der)\s+Bedingungen|\bselon\s+les\s+termes|\bsous\s+(?:les\s+termes|(?:la\s+|une\s+)?licence)"
    r"|\bnei\s+termini|\bsecondo\s+i\s+termini|\bbajo\s+los\s+términos|\bsob\s+os\s+termos|条件の下で|の下で"
    r"|" + _GRANT_DE + r"|\bmise?s?\s+à\s+disposition\b|" + _GRANT_FR + r"|" + _GRANT_ES
    + "".join("|" + cue for _, cue in _GRANTS_BY_LANGUAGE.values())
    + r"|(?:许可协议|許可協議|许可证|許可證|授权协议|知识共享|ライセンス)"
)
# A grant verb directly before the licence, no "under": "These notes are licensed CC BY-NC-SA 4.0",
# "released as CC0 1.0". Read on the sentence up to the licence name (footer: the verb; body: self-reference too).
_DIRECT = r"\b(?:licen[cs]ed|released|published|distributed|dedicated)(?:\s+(?:as|via))?\s+(?:(?:the|a|an)\s+)?$"
_DIRECT_FOOTER = re.compile(_DIRECT, re.I)
_DIRECT_BODY = re.compile(_SELF + r"[^.;]{0,80}?" + _DIRECT, re.I)
_ANY_GRANT = re.compile(_GRANT + _FOOTER_CUES + r"|\blicen[cs]e\s*:|©|\(c\)|\bcopyright\b|\bsome\s+rights\s+reserved\b|\bno\s+rights\s+reserved\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)\s+(?=[A-Z©])")  # not after an initial ("Photo: J. Roe")


# The subject a licence is stated for: the words before its grant ("theme licensed under the MIT
# License", "code samples are licensed under ..."). A subject that names the page's text (content,
# text, article, documentation, ...) counts; one that names only something else (theme, code,
# software, icons, fonts, photos, images, logo, ...) does not; none named (a bare "Licensed under")
# counts. Site, page, blog and wiki are neutral: "code on this site" is code.
_TEXT_SUBJECT = re.compile(
    r"\b(?:content|contents|text|texts|article|articles|post|posts|work|works|document|documents|documentation|docs|material|materials"
    r"|notes|book|books|guide|guides|tutorial|tutorials|manual|manuals|entry|entries|publication|publications|report|paper|writing|writings"
    r"|contributions|transcription|essay|essays|story|stories|handbook|handbooks|prose|lecture|lectures|newsletter|newsletters|chapter|chapters|lesson|lessons|course|courses"
    r"|Inhalt|Inhalte|Texte|Artikel|Beitrag|Beiträge|Werk|Werke|Dokumentation|Handbuch"
    r"|contenu|contenus|texte|textes|œuvre|oeuvre|contenido|contenidos|texto|textos|artículo|artículos|obra|obras|documentación)\b",
    re.I,
)
_NON_TEXT_SUBJECT = re.compile(
    r"\b(?:themes?|templates?|skins?|code|codebase|software|programs?|programmes?|apps?|applications?|librar(?:y|ies)|plug-?ins?|extensions?"
    r"|scripts?|frameworks?|engine|icons?|icon\s+set|fonts?|typefaces?|photos?|photographs?|images?|pictures?|screenshots?|diagrams?|logos?|trademarks?|videos?"
    r"|audio|music|artworks?|illustrations?|layouts?|designs?|stylesheets?"
    r"|Quellcode|Programme?|Foto|Fotos|Bilder?|Grafiken|Schriftarten?"
    r"|thème|logiciels?|icônes|código|fotografías|imágenes|logotipos?|iconos)\b",
    re.I,
)
# "Code samples in this tutorial", "photos on this blog": the locative phrase names where the subject is,
# the head noun before it what is licensed. The phrase is left out of the subject region.
_LOCATIVE = re.compile(
    r"\b(?:in|on|within|throughout|from|accompanying)\s+(?:this|these|that|our|my|the|all|each|every)\b"
    r"(?:\s+(?!(?:is|are|was|were|be|been|and|or|as|licen[cs]ed|released|available|published|distributed|made)\b)[\w'’-]+){1,3}",
    re.I,
)
_UNDER = re.compile(r"\b(?:under|unter|sous|bajo|selon|onder|sob|sotto)\b", re.I)
_STRONG_BREAK = re.compile(r"[;|·•]")
_COPYRIGHT_NOTICE = re.compile(r"(?:©|\(c\)|\bcopyright\b)[^,;:.©\n]*", re.I)  # to the end of its line (<br>)


def _subject_region(text: str, start: int) -> str:
    """The words that name what the licence at `start` of `text` (a sentence) is stated for."""
    region_start = 0
    for match in _STRONG_BREAK.finditer(text, 0, start):
        region_start = match.end()
    for _, end, _ in licences_in_text(text[:start]):
        region_start = max(region_start, end)  # "X under licence A, and Y under licence B": Y's subject follows A
    # a parenthesis names its own subject: "Made with Material for MkDocs (theme licensed under the MIT License)";
    # one that names none is about what precedes it: "Theme: Twenty Twenty-Four (licensed under the GNU GPL v2)"
    depth = 0
    before_parenthesis = ""
    for at in range(start - 1, region_start - 1, -1):
        depth += {")": 1, "(": -1}.get(text[at], 0)
        if depth < 0:
            before_parenthesis = text[region_start:at]
            region_start = at + 1
            break
    region = _subject_words(text, region_start, start)
    if before_parenthesis and not (_TEXT_SUBJECT.search(region) or _NON_TEXT_SUBJECT.search(region)):
        return before_parenthesis + " " + region
    return region


def _subject_words(text: str, region_start: int, start: int) -> str:
    unders = list(_UNDER.finditer(text, region_start, start))
    region_end = unders[-1].start() if unders else start
    if len(unders) > 1:
        region_start = unders[-2].end()
    # a copyright notice names the rights holder ("© 2024 The Apache Software Foundation"), not the subject
    region = _COPYRIGHT_NOTICE.sub(" ", text[region_start:region_end])
    return _LOCATIVE.sub(" ", region)


def _subject_ok(text: str, start: int) -> bool:
    """Whether the licence named at `start` of `text` (a sentence) is stated for the page's text."""
    region = _subject_region(text, start)
    return bool(_TEXT_SUBJECT.search(region)) or not _NON_TEXT_SUBJECT.search(region)


# Software licences. In a sidebar (the package box of a documentation generator: pkgdown's "License: MIT +
# file LICENSE", a PyPI- or npm-style "License MIT") a software licence is the package's, unless the page's
# text is named as its subject ("Documentation licensed under the Apache License 2.0").
_SOFTWARE_SPDX = re.compile(r"^(?:MIT|Apache-|GPL-|LGPL-|AGPL-|PSF-|BSD-)")
_SIDEBARISH = re.compile(r"side-?bar|sidenav|\baside\b", re.I)


def _in_sidebar(el) -> bool:
    return any(
        a.tag == "aside" or bool(_SIDEBARISH.search(f"{a.get('id') or ''} {a.get('class') or ''}"))
        for a in [el, *el.iterancestors()]
        if isinstance(a.tag, str)
    )


def _package_licence(spdx: str, el, text: str, start: int) -> bool:
    """Whether a software licence stated at `start` of `text` in element `el` is a sidebar package licence."""
    return bool(_SOFTWARE_SPDX.match(spdx)) and _in_sidebar(el) and not _TEXT_SUBJECT.search(_subject_region(text, start))


def _is_footer(el) -> bool:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in ("footer", "address"):  # <address>: the contact and colophon line of a page (LaTeX2HTML, old sites)
        # a <footer> is the footer of its nearest sectioning element: inside an <aside> it is the aside's
        for anc in el.iterancestors():
            if anc.tag in ("article", "aside", "nav", "section", "body", "blockquote", "figure"):
                if anc.tag != "aside":
                    return True
                break
    return el.get("role") == "contentinfo" or bool(_FOOTERISH.search(f"{el.get('id') or ''} {el.get('class') or ''}"))


def _location(el: HtmlElement, include_self: bool = False) -> str:
    footer = False
    for anc in [el, *el.iterancestors()] if include_self else el.iterancestors():
        tag = anc.tag if isinstance(anc.tag, str) else ""
        if tag == "head":
            return "head"
        if tag in _QUOTING or _MEDIA_BOX.search(f"{anc.get('id') or ''} {anc.get('class') or ''}"):
            return "body"  # quoted or embedded material: its footer or credit line is the quoted item's
        footer = footer or _is_footer(anc)
    if footer:
        return "footer"
    return "head" if el.tag in ("link", "meta", "script") and el.getparent() is not None and el.getparent().tag == "head" else "body"


_BR = "\x00"  # a <br> while text is collected (no text node holds NUL); "\n" in the normalised text


_SPACES = re.compile(r"[^\S\x00]+")
_BREAKS = re.compile(r" ?\x00[\x00 ]*")


def _normalise(parts: list[str]) -> str:
    """Joined text parts, whitespace collapsed; a <br> becomes a line break ("\n")."""
    if not parts:
        return ""
    return _BREAKS.sub("\n", _SPACES.sub(" ", "".join(parts))).strip()


def _text_before(block, target) -> str:
    """The text of `block` that precedes `target` (a descendant), whitespace-normalised."""
    parts: list[str] = []

    def walk(node) -> bool:
        if node is target:
            return True
        if node.tag == "br":
            parts.append(_BR)
        if isinstance(node.tag, str) and node.text:
            parts.append(node.text)
        for child in node:
            if walk(child):
                return True
            if child.tail:
                parts.append(child.tail)
        return False

    walk(block)
    return _normalise(parts)


def _block_of(el):
    for anc in el.iterancestors():
        if anc.tag in _BLOCK_TAGS:
            return anc
    return None


def _link_sentence(el) -> tuple[str, int]:
    """The sentence of a licence link up to its text, and where the link text starts in it."""
    block = _block_of(el)
    before = _SENTENCE.split(_text_before(block, el))[-1] if block is not None else ""
    return f"{before} {' '.join(el.text_content().split())}", len(before) + 1


def _text_after(block, el) -> str:
    """The text of `block` that follows `el` (a descendant), whitespace-normalised."""
    parts: list[str] = []
    node = el
    while node is not None and node is not block:
        parts.append(node.tail or "")
        for sibling in node.itersiblings():
            if isinstance(sibling.tag, str):
                parts.append(sibling.text_content())
            parts.append(sibling.tail or "")
        node = node.getparent()
    return " ".join("".join(parts).split())


def _link_context(el) -> tuple[str, str, str]:
    """(sentence before, link text, sentence after) of a link in its block."""
    block = _block_of(el)
    if block is None:
        return "", _inline_text(el), ""
    before = _SENTENCE.split(_text_before(block, el))[-1]
    after = _SENTENCE.split(" " + _text_after(block, el))[0]
    return before, _inline_text(el), after


_LATER_AFTER = re.compile(r"^\s*(?:\+|" + _OR_LATER[1:-2] + r")", re.I)


def _or_later_from_text(spdx: str, link_text: str, after: str) -> str:
    """A GNU licence read from a URL (-only: the URL names one version) made -or-later when the link's text
    or the words right after it say so ("GNU GPL version 2</a> or (at your option) any later version")."""
    if not spdx.endswith("-only") or not re.match(r"(?:A|L)?GPL-|GFDL-", spdx):
        return spdx
    later = spdx[: -len("-only")] + "-or-later"
    if any(found == later for _, _, found in licences_in_text(f"{link_text}{after}")) or _LATER_AFTER.match(after):
        return later
    return spdx


# A sentence about software: "X is free software", "Joomla! ist freie, unter der GNU/GPL-Lizenz veröffentlichte
# Software", "WordPress est un logiciel libre", "es software libre", "è software libero", "is open-source software".
# A licence named in such a sentence is the software's.
_FREE_SOFTWARE = re.compile(
    r"(?:\b(?:free|libre|open[\s-]source)(?:[\s,/]+(?:and\s+|&\s+)?(?:free|libre|open[\s-]source))*\s+software|\bfreie\b[^.;]{0,80}?\bSoftware|\bOpen[\s-]Source[\s-]Software)\b"
    r"(?!\s+(?:Foundation|licen[cs]e|Lizenz))"
    r"|\blogiciels?\s+libres?\b|\bsoftware\s+(?:libre|livre|libero|gratuito)\b|\bvrije\s+software\b|\bfri\s+(?:programvara|software|programvare)\b"
    r"|\bwolne\s+oprogramowanie\b|\bsvobodný\s+software\b|свободн\w+\s+программн|フリーソフトウェア|自由软件|自由軟體",
    re.I,
)


def _software_sentence(text: str) -> bool:
    """Whether a sentence (clause) is a statement about software, unless it names the page's text as well."""
    return bool(_FREE_SOFTWARE.search(text)) and not re.search(r"\b(?:documentation|document|manual|handbook|text|content)\b", text, re.I)


def _link_subject_ok(el) -> bool:
    """The subject check for a licence link: the sentence before it in its block."""
    if _block_of(el) is None:
        return True
    return _subject_ok(*_link_sentence(el))


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


def _alt_text(el) -> str:
    return " ".join(" ".join(img.get("alt") or "" for img in el.iter("img")).split())


def _with_alt_text(el) -> str:
    """The text of an element with the alt text of its images (a badge link's only text is often its alt)."""
    return " ".join([el.text_content(), *(img.get("alt") or "" for img in el.iter("img"))])


def _inline_text(el) -> str:
    """The text of an inline element up to the first block inside it (malformed markup), whitespace-normalised."""
    parts: list[str] = []

    def walk(node) -> bool:
        if isinstance(node.tag, str) and node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and child.tag in _BLOCK_TAGS:
                return True
            if walk(child):
                return True
            if child.tail:
                parts.append(child.tail)
        return False

    walk(el)
    return " ".join("".join(parts).split())


# Words of which every match of _KEYWORDS holds one (in the folded text): a run of text without any holds
# no keyword, and need not be read. They are matched in the joined text nodes, where a run's text may have
# more whitespace, or none for a <br>: "cc" must be "CC BY", "CC0" ("access" is not), with any space between.
_KEYWORD_WORDS = re.compile(
    r"licen|lizenz|creative|cc[\s-]*(?:by|0|zero)|public|gnu|gfdl|apache|mit|psf|python|dl-de|ogl|etalab|odbl|odc|pddl|open|//|gpl|nlod|cdla"
    r"|attribution|政府資料|bsd|unlicense|wtfpl|" + _OTHER_ATTRIBUTION_WORDS
)
_TEXT_NODES = etree.XPath("descendant::text()")


def _word_holders(root: HtmlElement, words: re.Pattern) -> set | None:
    """The elements under `root` (itself included) whose own text (their text, or the tail of a child) holds a
    match of `words` in the folded text; None when a match runs across text nodes ("Li<b>cence</b>"). The
    page's text is searched once, not element by element."""
    texts = _TEXT_NODES(root)  # in document order: joined, they are root's text_content()
    ends = list(itertools.accumulate(map(len, texts)))
    holders = set()
    # Overlapping matches are not all found, but one that is not overlaps a found one: it is in that one's
    # text node, or runs across nodes.
    for match in words.finditer(_fold("".join(texts))):
        node = bisect.bisect_right(ends, match.start())
        if ends[node] < match.end():
            return None
        text = texts[node]
        holders.add(text.getparent() if text.is_text else text.getparent().getparent())  # a tail is its parent's
    return holders


def _keyword_blocks(root: HtmlElement) -> list | None:
    """The blocks under `root` (itself included) whose runs may hold a keyword, in document order: those that
    read a text node holding a keyword word (a word of a run is in one of its text nodes, unless it runs across
    them). None when a word runs across text nodes: then any block may."""
    holders = _word_holders(root, _KEYWORD_WORDS)
    if holders is None:
        return None
    blocks = {block for el in holders if (block := _reading_block(el, root)) is not None}
    return sorted(blocks, key=lambda block: _tree_path(block, root))


def _reading_block(el, root: HtmlElement):
    """The block whose runs read the text of `el`: `el` or the innermost block around it, not above `root`."""
    while el is not None:
        if el.tag in _BLOCK_TAGS:
            return el
        el = None if el is root else el.getparent()
    return None


def _tree_path(el, root) -> list[int]:
    """The child indices from `root` down to `el`: sorted, they put elements in document order."""
    path = []
    while el is not root:
        parent = el.getparent()
        path.append(parent.index(el))
        el = parent
    return path[::-1]


def _text_runs(root: HtmlElement, keyword_runs_only: bool = False):
    """(block, text, links) for every run of text between block boundaries: the units sentences are
    read from. A block with no block inside is one run; a block with blocks inside (a <p> that malformed
    markup left holding the next <p>, a <div> with bare text beside its paragraphs) also gives the runs
    of its own text before, between and after them, so no sentence is lost and none joins text across a
    block boundary. `links` are the <a> elements of the run. With `keyword_runs_only`, runs that cannot
    hold a keyword (see _keyword_blocks) may be left out."""
    blocks = _keyword_blocks(root) if keyword_runs_only else None
    for block in root.iter() if blocks is None else blocks:
        if not (isinstance(block.tag, str) and block.tag in _BLOCK_TAGS):
            continue
        parts: list[str] = []
        links: list = []
        stack = [(block, False)]  # (node, after): node's text and children, then (for inline nodes) its tail
        while stack:
            node, after = stack.pop()
            if after:
                if node.tail:
                    parts.append(node.tail)
                continue
            if node is not block and isinstance(node.tag, str) and node.tag in _BLOCK_TAGS:
                # a block inside: it ends the run, and is read as a block of its own
                if text := _normalise(parts):
                    yield block, text, links
                parts, links = [], []
                stack.append((node, True))
                continue
            if node is not block:
                stack.append((node, True))
            if not isinstance(node.tag, str):
                continue  # a comment or processing instruction: only its tail is text
            if node.tag == "a":
                links.append(node)
            elif node.tag == "br":
                parts.append(_BR)
            if node.text:
                parts.append(node.text)
            stack.extend((child, False) for child in reversed(node))
        if text := _normalise(parts):
            yield block, text, links


# A labelled metadata box: a label that is only the word "Licence" (a heading, <dt>, <th>, <strong> ...)
# and, as its value, a link to a content licence: "<h3>Licence</h3><a href=.../by/4.0/>CC BY 4.0</a>" on
# a repository item page, "<dt>License</dt><dd><a ...>", a blog sidebar widget "Licence" holding a badge.
# The label may carry a qualifier naming what it covers: "License (for files):", "Licence (text)", "License for
# content" (not one naming software, code or images: "License (code)").
# Also "Rights" and "Conditions of use" (a repository's or OER library's metadata box: "<dt>Rights</dt><dd>CC BY
# 3.0 IGO</dd>"), and the label in Norwegian, Polish, Finnish, Hungarian, Russian, Chinese, Japanese and Korean.
_LABEL_WORD = (
    r"(?:licen[cs]e|lizenz|licencia|licenza|licentie|licença|licens|lisens|licencja|lisenssi|licenc|лицензия|лиценз[иі]я"
    r"|(?:usage\s+|reuse\s+|copy)?rights|conditions\s+of\s+(?:re)?use|授權(?:方式|條款)?|授权(?:方式|协议)?|许可(?:协议|证)?|許可(?:協議|證)?|ライセンス|라이선스)"
)
_LABEL_QUALIFIER = r"(?:\s*\((?:for\s+|für\s+|pour\s+|de\s+)?[\w\s,&/-]{1,30}\)|\s+(?:for|of|für|pour)\s+(?:the\s+)?[\w-]+(?:\s+[\w-]+)?)?"
_LICENCE_LABEL = re.compile(r"^(" + _LABEL_WORD + _LABEL_QUALIFIER + r")\s*:?$", re.I)
_LABEL_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6", "dt", "th", "td", "strong", "b", "label", "span", "p", "div")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "dt", "th"})


def _named_licence(text: str) -> str | None:
    """The licence a short value names and nothing else ("Licence Ouverte / Open Licence version 2.0",
    "cc-by-sa-4.0", "Open Database License (ODbL)"), or None."""
    text = " ".join(text.split())
    if not text or len(text) > 100:
        return None
    found = licences_in_text(text)
    if len({spdx for _, _, spdx in found}) != 1:
        return None
    rest = text
    for start, end, _ in reversed(found):
        rest = rest[:start] + " " + rest[end:]
    # the value is the name: at most a few words besides it ("International", "Generic licence")
    return found[0][2] if len(re.findall(r"\w+", rest)) <= 3 else None


_OPENING_QUOTE = re.compile("^[\"“„«‘‚‹「『]")


def _quoted(el) -> bool:
    """Whether `el` is inside a quotation: a <q>, or a <blockquote> marked as one (a cite attribute, a <cite>
    or a quotation mark opening its text). A bare <blockquote> is often just an indented notice (the GFDL
    notice of a GNU manual) and is read."""
    for a in [el, *el.iterancestors()]:
        if a.tag == "q":
            return True
        if a.tag == "blockquote" and (
            a.get("cite") or a.find(".//cite") is not None or _OPENING_QUOTE.match(a.text_content().lstrip())
        ):
            return True
    return False


def _quoted_or_embedded(el) -> bool:
    return _quoted(el) or any(a.tag in _QUOTING or a.tag == "figcaption" for a in el.iterancestors())


def _label_value_link(label):
    """The licence value among the (at most three) elements that follow a label, before the next label: the
    first licence link (or badge), a link whose text names a licence (a versionless URL, a versioned name),
    or a short text value that is only a licence name or id."""
    for n, sibling in enumerate(label.itersiblings()):
        if n >= 3 or not isinstance(sibling.tag, str) or sibling.tag in _HEADINGS:
            return None
        if sibling.tag == label.tag and not (label.tag == "td" and n == 0):  # the next label (a <td> label's value is the next <td>)
            return None
        for el in sibling.iter("a", "img"):
            spdx = spdx_from_url(el.get("href") if el.tag == "a" else el.get("src"))
            if spdx:
                return el, spdx
        for el in sibling.iter("a"):
            spdx = _named_licence(_inline_text(el))
            if spdx:
                return el, spdx
        spdx = _named_licence(sibling.text_content())
        if spdx:
            return sibling, spdx
    return None


# "License: cc-by-sa-4.0" in one element (a tag or badge of a dataset or model card, a metadata line).
_INLINE_LABEL_TAGS = ("a", "span", "li", "dd", "td", "p", "div")
_INLINE_LABEL = re.compile(r"^(" + _LABEL_WORD + _LABEL_QUALIFIER + r")\s*:\s*(.+)$", re.I)


def _label_covers_text(label: str) -> bool:
    """Whether a licence label's qualifier (if any) names the page's content, not software or images."""
    qualifier = re.sub("^" + _LABEL_WORD, "", label, flags=re.I)
    return not _NON_TEXT_SUBJECT.search(qualifier) or bool(_TEXT_SUBJECT.search(qualifier))


# Every label word holds one of these, and so does the text of every label and of its elements' ancestors.
_LABEL_WORDS = re.compile("licen|lizenz|lisens|rights|conditions of|лиценз|ліценз|授[權权]|[许許]可|ライセンス|라이선스")


def _label_word_elements(tree: HtmlElement) -> list | None:
    """The elements (the tree itself included) whose text holds a label word, in document order; None when a
    word runs across text nodes, and only reading every element finds them."""
    if not _LABEL_WORDS.search(_fold(tree.text_content())):
        return []  # most pages: decided without reading the text nodes
    holders = _word_holders(tree, _LABEL_WORDS)
    if holders is None:
        return None
    for el in list(holders):
        while el is not tree and (el := el.getparent()) not in holders:
            holders.add(el)
    return sorted(holders, key=lambda el: _tree_path(el, tree))


def _labelled_licences(tree: HtmlElement) -> list[Licence]:
    """Licences given as the value of a "Licence" label. Software licences (a package's metadata) do not
    count, nor do labels in quoted or embedded material; labels with different licences (a list of items,
    each with its own) give none."""
    found = []
    holders = _label_word_elements(tree)  # a label, with or without its value, has a label word in its text
    labels = tree.iter(*_LABEL_TAGS) if holders is None else (el for el in holders if el.tag in _LABEL_TAGS)
    for label in labels:
        match = _LICENCE_LABEL.match(" ".join(label.text_content().split()))
        if not match or not _label_covers_text(match.group(1)):
            continue
        value = _label_value_link(label)
        if value is None or _SOFTWARE_SPDX.match(value[1]):
            continue
        if value[0].tag == "a":
            value = (value[0], _or_later_from_text(value[1], _inline_text(value[0]), ""))
        if _quoted_or_embedded(label) or _in_media_item(label):
            continue  # quoted material, or a photo page's photo box: the item's licence
        parent = label.getparent()
        found.append(Licence(value[1], _snippet(parent if parent is not None else label), "label_link", _location(value[0]), "medium"))
    inline = tree.iter(*_INLINE_LABEL_TAGS) if holders is None else (el for el in holders if el.tag in _INLINE_LABEL_TAGS)
    for el in inline:
        match = _INLINE_LABEL.match(" ".join(el.text_content().split()))
        spdx = None
        if match and _label_covers_text(match.group(1)):
            value = _STRONG_BREAK.split(match.group(2))[0]  # "Lizenz: <a>CC BY 3.0 AT</a> · Datenquelle: ..."
            links = (spdx_from_url(a.get("href")) for a in el.iter("a") if (t := _inline_text(a)) and t in value and not _in_media_item(a))
            spdx = next((spdx for spdx in links if spdx), None) or _named_licence(value)
        if not spdx or _SOFTWARE_SPDX.match(spdx) or _quoted_or_embedded(el) or _in_media_item(el):
            continue
        found.append(Licence(spdx, _snippet(el), "label_link", _location(el), "medium"))
    return found if len({f.spdx for f in found}) == 1 else []


def candidates(tree: HtmlElement | None) -> list[Licence]:
    """Every licence statement found, in page order (see the module docstring for the rules)."""
    out: list[Licence] = []
    if tree is None:
        return out
    for el in tree.iter("link", "a", "area", "meta", "script", "span", "div", "img"):
        tag = el.tag
        if tag in ("link", "a", "area") or (tag in ("span", "div") and el.get("rel")):
            if _rels(el) & _LICENCE_RELS:
                if any(a.tag in _QUOTING or a.tag == "figcaption" for a in el.iterancestors()) or (tag != "link" and _in_media_item(el)):
                    continue  # the licence of an embedded image, video or quotation, or of a photo page's photo: not of the page
                href = el.get("href") or el.get("resource") or el.get("content")
                spdx = spdx_from_url(href) or spdx_from_text(_with_alt_text(el) if tag != "link" else "")
                spdx = spdx if isinstance(spdx, str) or spdx is None else spdx[0]
                if spdx and tag != "link":
                    _, link_text, after = _link_context(el)
                    spdx = _or_later_from_text(spdx, link_text, after)
                if spdx:
                    rels = _rels(el)
                    source = "link_rel" if tag == "link" else ("a_rel" if rels & {"license", "licence"} else "ccrel")
                    out.append(Licence(spdx, _snippet(el), source, _location(el), "high"))
                continue
            if tag == "a":
                spdx = spdx_from_url(el.get("href"))
                if spdx and _location(el) == "footer" and _link_subject_ok(el) and not _package_licence(spdx, el, *_link_sentence(el)):
                    before, link_text, after = _link_context(el)
                    if _software_sentence(_STRONG_BREAK.split(before)[-1] + " " + link_text + " " + _STRONG_BREAK.split(after)[0]):
                        continue  # "X is free software under the GPL": the software's licence
                    spdx = _or_later_from_text(spdx, link_text, after)
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
            if spdx is None and not (parent is not None and parent.tag == "a" and spdx_from_url(parent.get("href"))):
                # a badge whose only text is its alt text ("Creative Commons Attribution-NonCommercial 4.0
                # International License"): a content licence named and nothing else
                spdx = _named_licence(el.get("alt") or "")
                spdx = None if spdx is None or _SOFTWARE_SPDX.match(spdx) else spdx
                parent = None
            if spdx and (parent is None or parent.tag != "a") and _location(el) == "footer" and not _package_licence(spdx, el, "", 0):
                out.append(Licence(spdx, _snippet(el), "footer_link", "footer", "medium"))

    out.extend(_labelled_licences(tree))
    body = tree.find(".//body") if tree.tag != "body" else tree
    if body is None or not _has_keyword(body.text_content() or ""):
        return out
    for block, text, run_links in _text_runs(body, keyword_runs_only=True):
        if not _has_keyword(text) or _quoted(block):
            continue
        location = _location(block, include_self=True)
        quotes = [q for q in (_inline_text(el) for el in block.iter("q")) if q]  # inline quotations of the run
        # links to a licence URL whose text names it without a version ("the Creative Commons Attribution License")
        links = [(t, spdx_from_url(a.get("href"))) for a in run_links if (t := _inline_text(a) or _alt_text(a))]
        links = [(t, spdx) for t, spdx in links if spdx]
        for sentence in _SENTENCE.split(text):
            found = licences_in_text(sentence)
            for link_text, spdx in links:
                at = sentence.find(link_text)
                if at >= 0 and not any(start < at + len(link_text) and at < end for start, end, _ in found):
                    found.append((at, at + len(link_text), _or_later_from_text(spdx, link_text, sentence[at + len(link_text) :])))
            for position, end, spdx in sorted(found):
                if any(0 <= (at := sentence.find(q)) <= position < at + len(q) for q in quotes):
                    continue  # a licence inside a quotation is the quoted text's
                clause = sentence[_last_break(sentence, position) :]
                if _software_sentence(_STRONG_BREAK.split(clause)[0]):
                    continue  # "X is free software, licensed under the GPL": the software's licence
                if location == "footer":
                    # a cue, or a clause of the footer that is the licence's name alone ("Notes by the Club · CC BY-NC 4.0")
                    granted = bool(_ANY_GRANT.search(sentence) or _DIRECT_FOOTER.search(sentence[:position])) or _named_licence(
                        _STRONG_BREAK.split(sentence[_last_break(sentence, position) :])[0]
                    ) == spdx and not _SOFTWARE_SPDX.match(spdx)
                else:
                    # the grant cue may run into the licence's name ("sous la Licence Ouverte"), not start in it
                    grant = _BODY_GRANT.search(sentence[:end])
                    granted = bool(grant and grant.start() < position) or bool(_DIRECT_BODY.search(sentence[:position]))
                granted = granted or bool(_COPULA.search(sentence[:position])) or bool(_LICENCE_IS.search(sentence[:position]))
                if granted and _subject_ok(sentence, position) and not _package_licence(spdx, block, sentence, position):
                    out.append(Licence(spdx, sentence[:MAX_EVIDENCE], "text", location, "low" if location == "body" else "medium"))
                    break
    return out


def _last_break(text: str, start: int) -> int:
    """Where the clause holding position `start` begins (after the last ";", "|", "·" before it)."""
    at = 0
    for match in _STRONG_BREAK.finditer(text, 0, start):
        at = match.end()
    return at


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


# A media file's description page (a MediaWiki "File:" page on Commons or any wiki): its content states the
# licence of the file (the licence box of an image, a sound, a video); the page's text has the site's licence,
# given in the footer or the head.
_FILE_PAGE_TITLE = re.compile(r"^(?:File|Image|Media|Datei|Bild|Fichier|Archivo|Imagen|Plik|Bestand|Fil|Immagine|Ficheiro|Arquivo|Файл|Изображение|ファイル|文件|檔案):\S", re.I)
_CONTENT_IDS = ("content", "mw-content-text", "bodyContent", "mw-body")


def _media_page_content(tree: HtmlElement):
    """The content element of a media file's description page, or None when the page is no such page."""
    body = tree.find(".//body") if tree.tag != "body" else tree
    heading = next(iter(tree.iter("h1")), None)
    is_file_page = (body is not None and "ns-6" in (body.get("class") or "").split()) or (
        heading is not None and _FILE_PAGE_TITLE.match(" ".join(heading.text_content().split()))
    )
    if not is_file_page:
        return None
    for el in tree.iter():
        if isinstance(el.tag, str) and (el.get("id") in _CONTENT_IDS or el.tag == "main"):
            return el
    return None


_RUNAWAY_TITLE = re.compile(r"<\s*(?:body|div|p|a|footer|table|h[1-6])\b", re.I)


def _recovered_documents(tree: HtmlElement):
    """Documents swallowed by an unclosed <title> (its text then holds the page's markup), parsed again."""
    for title in tree.iter("title"):
        text = title.text or ""
        match = _RUNAWAY_TITLE.search(text)
        if match:
            try:
                yield lxml.html.document_fromstring(text[match.start() :])
            except (ValueError, etree.ParserError):
                continue


def detect_licence(tree: HtmlElement | None, headers: dict[str, str] | None = None) -> Licence | None:
    """The best licence statement of a page (and of its response headers, lower-cased names), or None."""
    if tree is not None and (content := _media_page_content(tree)) is not None:
        tree = copy.deepcopy(tree.getroottree().getroot())
        content = _media_page_content(tree)
        content.getparent().remove(content)  # the file's licence box, not the page's (see _media_page_content)
    found = link_header_licences((headers or {}).get("link")) + candidates(tree)
    if tree is not None:
        for recovered in _recovered_documents(tree):
            found += candidates(recovered)
    if not found:
        return None
    best = max(enumerate(found), key=lambda ic: (CONFIDENCE_RANK[ic[1].confidence], _LOCATION_RANK[ic[1].location], -ic[0]))[1]
    if best.location == "footer" and _OTHERWISE_NOTED.search(best.evidence):
        # "Unless otherwise noted, content on this site is CC BY 4.0": the page may note otherwise ("this post
        # is licensed under CC BY-NC 4.0"), and a body grant naming this very page then wins over the footer.
        for licence in found:
            if licence.location == "body" and licence.source == "text" and licence.spdx != best.spdx and _THIS_PAGE.search(licence.evidence):
                return licence
    return best


_OTHERWISE_NOTED = re.compile(
    r"\b(?:unless|except)\s+(?:where\s+|when\s+|as\s+)?(?:otherwise|specifically)\s+(?:noted|stated|indicated|specified|marked|mentioned)"
    r"|\bsauf\s+mention\s+contraire|\b(?:soweit|sofern|wenn)\s+nicht\s+anders\s+(?:angegeben|vermerkt|gekennzeichnet)"
    r"|\bsalvo\s+(?:que\s+se\s+indique\s+lo\s+contrario|indicación\s+contraria|diversa\s+indicazione|ove\s+diversamente)",
    re.I,
)
_THIS_PAGE = re.compile(
    r"\b(?:this|these)\s+(?:[\w'’-]+\s+){0,2}?(?:post|posts|article|page|essay|entry|chapter|story|episode|tutorial|text|document|work|guide|report)\b"
    r"|\b(?:dieser|diese|dieses)\s+(?:Beitrag|Artikel|Text|Seite)\b|\b(?:cet|cette|ce)\s+(?:article|billet|texte|page)\b",
    re.I,
)
