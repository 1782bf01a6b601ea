"""The built website (`make book` runs before the tests in `make test`)."""
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
pytestmark = pytest.mark.slow


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [ch["file"] for ch in part.get("chapters", [])]
    return files


CHAPTERS = [f for f in toc_files() if re.match(r"book/\d\d_", f)]


@pytest.fixture(scope="module")
def built():
    assert (HTML / "index.html").exists(), "no _build/html: run `make book` (or `make test`, which builds it first)"
    return HTML


def visible_text(html):
    """The page without scripts, styles and code blocks, where `$$` may legitimately appear."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<pre\b.*?</pre>", "", html, flags=re.S)


def test_every_toc_page_is_built(built):
    for f in toc_files():
        assert (built / f"{f}.html").exists(), f


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_has_rendered_figures_and_math(built, page):
    html = (built / f"{page}.html").read_text()
    imgs = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert imgs, f"{page}: no figure"
    for src in imgs:
        assert (built / page).parent.joinpath(src).resolve().exists(), f"{page}: missing image {src}"
    for tag in re.findall(r'<img[^>]+src="[^"]*_images/[^"]+"[^>]*>', html):
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and len(alt.group(1)) > 15 and not alt.group(1).endswith(".png"), (
            f"{page}: a figure without a descriptive alt text: {tag[:150]}")
    text = visible_text(html)
    assert "$$" not in text, f"{page}: raw $$ left in the page"
    assert 'class="math' in html, f"{page}: no math rendered"
    assert "_static/mathjax/tex-chtml.js" in html, f"{page}: MathJax not served locally"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_offers_the_released_exercise(built, page):
    html = (built / f"{page}.html").read_text()
    name = Path(page).name
    link = re.search(rf'href="([^"]*_downloads/[^"]*/{name}\.ipynb)"', html)
    assert link, f"{page}: no download link to exercises/{name}/{name}.ipynb"
    target = (built / page).parent.joinpath(link.group(1)).resolve()
    text = target.read_text()
    assert "NotImplementedError" in text and "BEGIN SOLUTION" not in text


def test_site_publishes_no_solution_and_no_cdn(built):
    for path in built.rglob("*"):
        if path.suffix not in {".html", ".ipynb", ".md", ".txt", ".js"} or "mathjax" in path.parts:
            continue
        text = path.read_text(errors="ignore")
        for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
            assert marker not in text, f"{path.relative_to(built)} publishes '{marker}'"
        if path.suffix == ".html":
            assert not re.search(r'<script[^>]+src="https?://', text), f"{path.relative_to(built)} loads a script from the web"
