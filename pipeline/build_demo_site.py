"""Rebuild the demo site (pipeline/demo_site/) from Debian documentation packages.

This script is how the committed site was made; it is not run by the pipeline or the tests.
Every page text comes from the packages; the script only copies files, fixes the one link
that pointed at a local filesystem path, strips the navigation header/footer for the
/print/ variant, and writes the few structural pages (home and landing pages, which hold
nothing but links) plus ATTRIBUTION.md.

    mkdir -p /tmp/debdocs && cd /tmp/debdocs
    apt-get update
    apt-get download maint-guide maint-guide-de maint-guide-es maint-guide-fr maint-guide-it \
        maint-guide-ja debian-faq debian-faq-de debian-faq-fr debian-faq-it debian-faq-ja \
        debian-history
    # the older FAQ edition (near duplicates) comes from bullseye: with a sources.list that
    # names bullseye (apt-get -o Dir::Etc::SourceList=... update), apt-get download debian-faq=10.1
    python pipeline/build_demo_site.py /tmp/debdocs pipeline/demo_site

Files of the site that this script does not write (kept by hand, so it leaves them alone):
robots.txt, README.md, tdm/policy.json, and this script.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# manual -> (title, [(lang, package filename prefix, directory inside the package)])
MAINT_GUIDE = [
    ("en", "maint-guide_", "usr/share/doc/maint-guide/html"),
    ("de", "maint-guide-de_", "usr/share/doc/maint-guide-de/html"),
    ("es", "maint-guide-es_", "usr/share/doc/maint-guide-es/html"),
    ("fr", "maint-guide-fr_", "usr/share/doc/maint-guide-fr/html"),
    ("it", "maint-guide-it_", "usr/share/doc/maint-guide-it/html"),
    ("ja", "maint-guide-ja_", "usr/share/doc/maint-guide-ja/html"),
]
FAQ = [
    ("en", "debian-faq_11.1_", "usr/share/doc/debian/FAQ"),
    ("de", "debian-faq-de_", "usr/share/doc/debian/FAQ/de"),
    ("fr", "debian-faq-fr_", "usr/share/doc/debian/FAQ/fr"),
    ("it", "debian-faq-it_", "usr/share/doc/debian/FAQ/it"),
    ("ja", "debian-faq-ja_", "usr/share/doc/debian/FAQ/ja"),
]
HISTORY_LANGS = ["en", "de", "es", "fr", "it", "ja"]
HISTORY_PRIVATE_LANG = "pt"
HISTORY_DIR = "usr/share/doc/debian-history/docs"
FAQ_OLD = ("debian-faq_10.1_", "usr/share/doc/debian/FAQ")

LANG_NAMES = {
    "en": "English", "de": "Deutsch", "es": "Español", "fr": "Français",
    "it": "Italiano", "ja": "日本語", "pt": "Português",
}

# The only link in the packages that points outside the documents: a file on the
# reader's Debian system. It becomes the online copy of the same document.
LINK_FIXES = {
    'href="/usr/share/doc/debian-policy/policy.pdf.gz"':
        'href="https://www.debian.org/doc/debian-policy/policy.pdf"',
}

NAV_RE = re.compile(r'\s*<div class="nav(?:header|footer)">.*?</div>', re.S)
REF_RE = re.compile(r'(?:href|src)="([^"#:]+)(?:#[^"]*)?"')


def extract_all(deb_dir: Path, work: Path) -> dict[str, tuple[Path, str, str]]:
    """prefix-of-filename -> (extracted root, package, version)"""
    out = {}
    for deb in sorted(deb_dir.glob("*.deb")):
        dest = work / deb.stem
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
        pkg = subprocess.run(["dpkg-deb", "-f", str(deb), "Package"], check=True, capture_output=True, text=True).stdout.strip()
        ver = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True).stdout.strip()
        out[deb.name] = (dest, pkg, ver)
    return out


def find(pkgs, prefix):
    hits = [v for k, v in pkgs.items() if k.startswith(prefix)]
    if len(hits) != 1:
        raise SystemExit(f"need exactly one .deb starting with {prefix!r}, found {len(hits)}")
    return hits[0]


def copy_doc(src: Path, dest: Path, lang: str, *, strip_nav: bool = False, extra: tuple[str, ...] = ()) -> list[str]:
    """Copy *.LANG.html (regular files only) and whatever they reference (css, images)."""
    dest.mkdir(parents=True, exist_ok=True)
    pages = sorted(p for p in src.glob(f"*.{lang}.html") if p.is_file() and not p.is_symlink())
    needed: set[str] = set(extra)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for old, new in LINK_FIXES.items():
            text = text.replace(old, new)
        if strip_nav:
            text = NAV_RE.sub("", text)
        for ref in REF_RE.findall(text):
            if not ref.startswith("/"):
                needed.add(ref)
        (dest / page.name).write_text(text, encoding="utf-8")
        shutil.copystat(page, dest / page.name)
    written = {p.name for p in pages}
    for ref in sorted(needed - written):
        s = src / ref
        if s.is_file():
            (dest / ref).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, dest / ref)
        elif not (dest / ref).exists():
            raise SystemExit(f"{src}: referenced file {ref} missing")
    return [p.name for p in pages]


def page(title: str, body: str, lang: str = "en") -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8"/>\n<title>{html.escape(title, quote=False)}</title>\n'
        "</head>\n<body>\n"
        f"<h1>{html.escape(title, quote=False)}</h1>\n{body}\n</body>\n</html>\n"
    )


def ul(items: list[tuple[str, str]]) -> str:
    return "<ul>\n" + "".join(f'<li><a href="{h}">{html.escape(t, quote=False)}</a></li>\n' for h, t in items) + "</ul>"


def main(deb_dir: Path, site: Path) -> None:
    site.mkdir(parents=True, exist_ok=True)
    for sub in ("maint-guide", "faq", "history", "archive", "mirror", "private", "print"):
        shutil.rmtree(site / sub, ignore_errors=True)
    used: list[tuple[str, str, Path]] = []  # (package, version, copyright file)
    with tempfile.TemporaryDirectory() as tmp:
        pkgs = extract_all(deb_dir, Path(tmp))

        for lang, prefix, sub in MAINT_GUIDE:
            root, pkg, ver = find(pkgs, prefix)
            copy_doc(root / sub, site / "maint-guide" / lang, lang)
            used.append((pkg, ver, root / f"usr/share/doc/{pkg}/copyright"))
        root, pkg, ver = find(pkgs, "maint-guide_")
        copy_doc(root / "usr/share/doc/maint-guide/html", site / "print" / "maint-guide" / "en", "en", strip_nav=True)

        for lang, prefix, sub in FAQ:
            root, pkg, ver = find(pkgs, prefix)
            copy_doc(root / sub, site / "faq" / lang, lang)
            used.append((pkg, ver, root / f"usr/share/doc/{pkg}/copyright"))
        root, pkg, ver = find(pkgs, FAQ_OLD[0])
        copy_doc(root / FAQ_OLD[1], site / "archive" / f"faq-{ver}" / "en", "en")
        used.append((pkg, ver, root / f"usr/share/doc/{pkg}/copyright"))
        faq_old_ver = ver

        root, pkg, ver = find(pkgs, "debian-history_")
        hist = root / HISTORY_DIR
        for lang in HISTORY_LANGS:
            copy_doc(hist, site / "history" / lang, lang)
        shutil.copy2(hist / "project-history.en.pdf", site / "history" / "en")
        txt = subprocess.run(["gzip", "-dc", str(hist / "project-history.en.txt.gz")], check=True, capture_output=True).stdout
        (site / "history" / "en" / "project-history.en.txt").write_bytes(txt)
        copy_doc(hist, site / "private" / "history" / HISTORY_PRIVATE_LANG, HISTORY_PRIVATE_LANG)
        copy_doc(hist, site / "mirror" / "history" / "en", "en")  # byte-identical copies
        used.append((pkg, ver, root / "usr/share/doc/debian-history/copyright"))

        write_structural(site, faq_old_ver)
        write_attribution(site, used)


def write_structural(site: Path, faq_old_ver: str) -> None:
    def langs(manual: str, names: list[str]):
        return [(f"{l}/index.{l}.html", LANG_NAMES[l]) for l in names]

    (site / "maint-guide" / "index.html").write_text(page(
        "Debian New Maintainers' Guide",
        ul(langs("maint-guide", [l for l, *_ in MAINT_GUIDE]))
        + "\n<h2>Print version</h2>\n" + ul([("../print/maint-guide/en/index.en.html", "English (print)")]),
    ), encoding="utf-8")
    (site / "faq" / "index.html").write_text(page(
        "The Debian GNU/Linux FAQ",
        ul(langs("faq", [l for l, *_ in FAQ]))
        + "\n<h2>Older edition</h2>\n" + ul([(f"../archive/faq-{faq_old_ver}/en/index.en.html", f"English, debian-faq {faq_old_ver}")]),
    ), encoding="utf-8")
    (site / "history" / "index.html").write_text(page(
        "A Brief History of Debian",
        ul(langs("history", HISTORY_LANGS))
        + "\n<h2>Other formats</h2>\n"
        + ul([("en/project-history.en.txt", "English (plain text)"), ("en/project-history.en.pdf", "English (PDF)")])
        + "\n<h2>Mirror</h2>\n" + ul([("../mirror/history/en/index.en.html", "English (mirror)")]),
    ), encoding="utf-8")
    (site / "index.html").write_text(page(
        "Debian documentation",
        ul([
            ("maint-guide/index.html", "Debian New Maintainers' Guide"),
            ("faq/index.html", "The Debian GNU/Linux FAQ"),
            ("history/index.html", "A Brief History of Debian"),
        ])
        + "\n<h2>Archive</h2>\n" + ul([(f"archive/faq-{faq_old_ver}/en/index.en.html", f"Debian FAQ {faq_old_ver} (English)")])
        + "\n<h2>Mirror</h2>\n" + ul([("mirror/history/en/index.en.html", "A Brief History of Debian (English, mirror)")])
        + "\n<h2>Print</h2>\n" + ul([("print/maint-guide/en/index.en.html", "Debian New Maintainers' Guide (English, print)")])
        + "\n<h2>Private</h2>\n" + ul([(f"private/history/{HISTORY_PRIVATE_LANG}/index.{HISTORY_PRIVATE_LANG}.html", "História do Debian (Português)")])
        + "\n<h2>About this site</h2>\n" + ul([("ATTRIBUTION.md", "Attribution and licences"), ("README.md", "README"), ("robots.txt", "robots.txt")]),
    ), encoding="utf-8")


def write_attribution(site: Path, used: list[tuple[str, str, Path]]) -> None:
    lines = [
        "# Attribution and licences",
        "",
        "Every document page of this demo site is an unmodified HTML file from a Debian",
        "documentation package (Debian 12 \"bookworm\", main; debian-faq 10.1 from Debian 11",
        "\"bullseye\"), except for these changes:",
        "",
        "- maint-guide/ja/start.ja.html: one link to a local file",
        "  (`/usr/share/doc/debian-policy/policy.pdf.gz`) now points at",
        "  `https://www.debian.org/doc/debian-policy/policy.pdf`, so the site stays self-contained;",
        "- print/maint-guide/en/: the English New Maintainers' Guide with the DocBook navigation",
        "  header and footer (`<div class=\"navheader\">`, `<div class=\"navfooter\">`) removed;",
        "- history/en/project-history.en.txt is the package's project-history.en.txt.gz, decompressed.",
        "",
        "The home page and the landing pages (index.html, maint-guide/index.html, faq/index.html,",
        "history/index.html) hold only links and titles; robots.txt, README.md and tdm/policy.json",
        "are configuration and notes written for this demo. `pipeline/build_demo_site.py` rebuilds the site.",
        "Everything else, including upstream's own typos (one malformed link in",
        "history/fr/detailed.fr.html), is as the packages ship it.",
        "",
        "## Packages",
        "",
        "| package | version | site paths | licence |",
        "| --- | --- | --- | --- |",
    ]
    paths = {
        "maint-guide": "maint-guide/en/, print/maint-guide/en/",
        "debian-faq": "faq/en/",
        "debian-history": "history/*/, mirror/history/en/, private/history/pt/",
    }
    lic = {
        "maint-guide": "GPL-2.0+ (text); MIT (debian.css); public domain (icons)",
        "debian-faq": "SPI permissive licence (verbatim and modified copies and translations may be distributed)",
        "debian-history": "GPL-2.0+",
    }
    for pkg, ver, _ in used:
        base = re.sub(r"-(de|es|fr|it|ja)$", "", pkg)
        where = paths.get(pkg)
        if where is None:
            lang = pkg.rsplit("-", 1)[-1]
            where = {"maint-guide": f"maint-guide/{lang}/", "debian-faq": f"faq/{lang}/"}[base]
        if pkg == "debian-faq" and ver.startswith("10."):
            where = f"archive/faq-{ver}/en/"
        lines.append(f"| {pkg} | {ver} | {where} | {lic[base]} |")
    lines += [
        "",
        "Upstream authors:",
        "",
        "- **maint-guide** (Debian New Maintainers' Guide): Josip Rodin, Osamu Aoki, Craig Small,",
        "  Raphaël Hertzog; translators as credited in each translation. Source:",
        "  https://salsa.debian.org/debian/maint-guide",
        "- **debian-faq** (The Debian GNU/Linux FAQ): Software in the Public Interest; maintained by",
        "  Javier Fernández-Sanguino Peña and Joost van Baal-Ilić; translators as credited in each",
        "  translation. https://www.debian.org/doc/user-manuals#faq",
        "- **debian-history** (A Brief History of Debian): Bdale Garbee and the Debian Documentation",
        "  Team. https://www.debian.org/doc/misc-manuals#history",
        "",
        "The copyright files of the packages follow verbatim (`/usr/share/doc/<package>/copyright`).",
        "The translation packages of one manual ship identical copyright files; each is listed",
        "once with the packages it covers.",
        "",
    ]
    groups: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    for pkg, ver, cfile in used:
        t = cfile.read_text(encoding="utf-8")
        groups.setdefault(t, []).append(f"{pkg} {ver}")
        texts[t] = t
    for t, names in groups.items():
        lines += [f"### {', '.join(names)}", "", "```", t.rstrip("\n"), "```", ""]
    (site / "ATTRIBUTION.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
