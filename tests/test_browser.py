"""The website and JupyterLab as a reader meets them, in a real browser (Debian's chromium, offline).

`make test` builds the site first. These tests serve `_build/html` on localhost, load every page in
chromium with every request to another host blocked, and check what a reader would see. A screenshot
of each chapter page is saved under `_build/screenshots/`.
"""
import functools
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from test_book import CHAPTERS, HTML, ROOT, toc_files

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


def ensure_chromium():
    """Install Debian's chromium when missing (a test tool's own browser download does not work here)."""
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.fail("chromium is missing: install it with `apt-get install chromium`")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env, capture_output=True)
    return CHROMIUM


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site():
    assert (HTML / "index.html").exists(), "no _build/html: run `make book` first"
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    path = ensure_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class Visit:
    """One page load with console errors and off-site requests recorded (off-site ones are blocked)."""

    def __init__(self, browser, base, url):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors, self.offsite = [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r):
            if r.request.url.startswith(base) or r.request.url.startswith("data:"):
                r.continue_()
            else:
                self.offsite.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)
        self.response = self.page.goto(url, wait_until="networkidle")

    def wait_for_math(self):
        if self.page.evaluate("document.querySelectorAll('.math').length") == 0:
            return 0
        self.page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.document"
            " && document.querySelectorAll('mjx-container').length > 0", timeout=30000)
        self.page.evaluate("() => MathJax.startup.promise")
        return self.page.evaluate("document.querySelectorAll('mjx-container').length")

    def prose(self):
        """Text a reader sees outside code blocks."""
        return self.page.evaluate(
            "() => { const b = document.body.cloneNode(true);"
            " b.querySelectorAll('pre, code, script, style, mjx-container').forEach(e => e.remove());"
            " return b.innerText; }")


PAGES = [f"{doc}.html" for doc in toc_files()] + ["index.html", "genindex.html"]


@pytest.mark.parametrize("path", PAGES)
def test_page_reads_well_offline(browser, site, path):
    v = Visit(browser, site, f"{site}/{path}")
    try:
        assert v.response is not None and v.response.ok, f"{path}: HTTP {v.response and v.response.status}"
        n_math = v.wait_for_math()
        text = v.prose()
        for raw in ("$$", "\\(", "\\[", "\\begin{"):
            assert raw not in text, f"{path}: raw math '{raw}' visible"
        if path.startswith("book/0"):
            assert n_math > 0, f"{path}: no rendered math"
        images = v.page.evaluate(
            "Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0])")
        broken = [src for src, ok in images if not ok]
        assert not broken, f"{path}: images that did not load: {broken}"
        assert not v.errors, f"{path}: console errors: {v.errors}"
        assert not v.offsite, f"{path}: requests to other hosts (the site must work offline): {v.offsite[:5]}"
        links = v.page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        internal = sorted({u.split("#")[0] for u in links if u.startswith(site)})
        dead = []
        for url in internal:
            try:
                urllib.request.urlopen(url, timeout=10).close()
            except urllib.error.HTTPError as e:
                dead.append(f"{url} ({e.code})")
        assert not dead, f"{path}: broken internal links: {dead}"
        if path.startswith("book/0"):
            SHOTS.mkdir(parents=True, exist_ok=True)
            v.page.screenshot(path=str(SHOTS / f"{Path(path).stem}.png"), full_page=True)
    finally:
        v.page.close()


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_has_download_and_launch_buttons(browser, site, page):
    v = Visit(browser, site, f"{site}/{page}.html")
    try:
        q = v.page.locator
        assert q(".btn-download-notebook-button").count() == 1, "no 'download notebook' button"
        assert q(".btn-download-source-button").count() == 1, "no 'download source' button"
        for host in ("mybinder.org", "colab.research.google.com", "jupyterhub"):
            assert q(f'a[href*="{host}"]').count() >= 1, f"no launch button for {host}"
        name = Path(page).name
        assert q(f'a[href$="/{name}.ipynb"][download]').count() >= 1, "no link to the released exercise"
        assert q("a.reference.internal[title*='next'], .prev-next-area a").count() >= 1, "no previous/next links"
    finally:
        v.page.close()


def _search_terms():
    terms = ["gradient", "勾配消失"]
    if (ROOT / "book" / "03_optimizers.md").exists() and "book/03_optimizers" in toc_files():
        terms.append("Adam")
    return terms


@pytest.mark.parametrize("term", _search_terms())
def test_search_finds(browser, site, term):
    v = Visit(browser, site, f"{site}/search.html?q={urllib.parse.quote(term)}")
    try:
        v.page.wait_for_function(
            "() => document.querySelectorAll('#search-results ul.search li').length > 0"
            " || /did not match|no results/i.test(document.querySelector('#search-results')?.innerText || '')",
            timeout=30000)
        hits = v.page.locator("#search-results ul.search li").count()
        assert hits > 0, f"search for {term!r} found nothing"
        assert not v.errors, v.errors
    finally:
        v.page.close()


# ------------------------------------------------------------------ JupyterLab
@pytest.fixture(scope="module")
def lab():
    port, token = free_port(), "course-test-token"
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", JUPYTER_NO_CONFIG="")
    proc = subprocess.Popen(
        [str(bindir / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={ROOT / 'exercises'}"],
        cwd=ROOT / "exercises", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).close()
            break
        except Exception:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {proc.stderr.read()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("jupyter lab did not start within 90 s")
    yield base, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_jupyterlab_opens_a_released_exercise_with_validate(browser, lab):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{base}/lab/tree/01_vanishing_gradients/01_vanishing_gradients.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90000)
        page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length > 10",
                               timeout=60000)
        assert page.locator(".jp-Notebook").get_by_text("Exercise 1").count() >= 1
        validate = page.locator("button, jp-button").filter(has_text=re.compile("Validate"))
        validate.first.wait_for(timeout=30000)
        assert validate.count() >= 1, "nbgrader's Validate button is missing"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "jupyterlab_exercise.png"))
    finally:
        page.close()
