"""The bilingual glossary, gathered from the "Key terms (用語)" table at the end of every chapter page."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
_ROW = re.compile(r"^\|\s*(?P<en>[^|]+?)\s*\|\s*(?P<ja>[^|]+?)\s*\|\s*$")


def chapters(root=ROOT):
    """Chapter pages in table-of-contents order: (docname, title)."""
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text())
    out = []
    for part in toc.get("parts", []):
        for ch in part.get("chapters", []):
            path = Path(root) / f"{ch['file']}.md"
            if re.match(r"\d\d_", path.name) and path.exists():
                title = next(line[2:].strip() for line in path.read_text().splitlines() if line.startswith("# "))
                out.append((ch["file"], title))
    return out


def key_terms(page):
    """(English, Japanese) rows of a page's 'Key terms' table."""
    lines = Path(page).read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## Key terms")), None)
    if start is None:
        return []
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        m = _ROW.match(line)
        if m and not set(m["en"]) <= set("-: ") and m["en"].lower() != "english":
            rows.append((m["en"], m["ja"]))
    return rows


def glossary_markdown(root=ROOT):
    """A MyST table: English | 日本語 | chapter (a link to the page that teaches the term)."""
    entries = []
    for number, (doc, title) in enumerate(chapters(root), start=1):
        name = Path(doc).name
        for en, ja in key_terms(Path(root) / f"{doc}.md"):
            entries.append((en, ja, f"[{number}. {title}]({name}.md)"))
    entries.sort(key=lambda e: e[0].lower())
    lines = ["| English | 日本語 | taught in |", "|---|---|---|"]
    lines += [f"| {en} | {ja} | {link} |" for en, ja, link in entries]
    return "\n".join(lines)
