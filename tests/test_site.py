"""The course site: built from the committed notebooks with warnings as errors, then opened in
headless Chromium: every notebook page shows all its figures, its math is typeset by the
bundled MathJax (no raw ``\\(`` left), every internal link resolves, and no solution is shown.

Needs the site's tools (``pip install -e ".[site]"``, npm for MathJax, Chromium); CI installs
them (``.ci/run``); without them these tests skip and say which is missing.
"""

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))

pytest.importorskip("myst_nb", reason="the site's tools are not installed (pip install -e .[site])")
pytest.importorskip("sphinx_book_theme", reason="the site's tools are not installed")
site_tool = pytest.importorskip("site_build", reason="tools/site_build.py")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if shutil.which("npm") is None and not (ROOT / "build" / "site-cache").exists():
        pytest.skip("npm is needed once to fetch MathJax")
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "site_build.py"), "--out",
                          str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr  # -W: any warning fails the build
    return out


class Links(HTMLParser):
    """The ids, hrefs, srcs and math elements of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids, self.refs, self.math = set(), [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.refs.append(attrs[key])
        if "math" in (attrs.get("class") or "").split():
            self.math += 1


def parse(path):
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def png_names(notebook):
    """sha256 of every PNG output of the staged notebook: Sphinx names the image files so."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return [hashlib.sha256(base64.b64decode(o["data"]["image/png"])).hexdigest()
            for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]


def test_every_notebook_has_a_page(site):
    assert (site / "index.html").exists()
    for nb in NOTEBOOKS:
        assert (site / "notebooks" / f"{nb.stem}.html").exists(), nb.stem


def broken_links(site):
    """Internal links and sources of the pages under ``site`` whose file or anchor is missing."""
    broken = []
    # (the theme ships template files under _static; they are not pages)
    pages = {p: parse(p) for p in site.rglob("*.html") if "_static" not in p.parts}
    for page, links in pages.items():
        for ref in links.refs:
            if re.match(r"[a-z]+:", ref) or ref.startswith("//"):
                continue  # external: not followed
            target, _, anchor = ref.partition("#")
            target = target.partition("?")[0]  # the theme's cache-busting ?digest=...
            path = (page.parent / target).resolve() if target else page
            if not path.exists():
                broken.append(f"{page.relative_to(site)}: {ref}")
            elif anchor and path.suffix == ".html" and anchor not in pages[path].ids:
                broken.append(f"{page.relative_to(site)}: {ref} (no such anchor)")
    return broken


def test_every_internal_link_resolves(site):
    assert broken_links(site) == []


def test_the_link_check_finds_a_missing_page_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#here">b</a> <a href="c.html">c</a>')
    (tmp_path / "b.html").write_text('<h1 id="there">b</h1>')
    assert broken_links(tmp_path) == ["a.html: b.html#here (no such anchor)", "a.html: c.html"]


@pytest.mark.parametrize("stem", [nb.stem for nb in NOTEBOOKS])
def test_a_notebook_page_shows_all_its_figures(site, stem):
    page = site / "notebooks" / f"{stem}.html"
    srcs = [r for r in parse(page).refs if r.endswith(".png")]
    staged = ROOT / "build" / "site-src" / "notebooks" / f"{stem}.ipynb"
    for name in png_names(staged):
        shown = [s for s in srcs if name in s]
        assert shown, f"{stem}: a PNG output of the notebook is not on its page"
        image = (page.parent / shown[0]).resolve()
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{stem}: {image.name} is no PNG"


@pytest.mark.parametrize("stem", [nb.stem for nb in NOTEBOOKS])
def test_math_is_typeset_in_a_real_browser(site, stem, tmp_path):
    if site_tool.chromium() is None:
        pytest.skip("no Chromium (Debian: apt-get install chromium)")
    page = site / "notebooks" / f"{stem}.html"
    expected = parse(page).math
    dom = site_tool.browse(page, tmp_path / "profile")
    text = re.sub(r"<script.*?</script>", "", dom, flags=re.S)
    assert dom.count("<mjx-container") >= expected > 0, f"{stem}: math not typeset"
    assert "\\(" not in text and "\\[" not in text, f"{stem}: raw TeX left on the page"
    assert "cdn" not in "".join(r for r in parse(page).refs if "mathjax" in r.lower())


def test_the_site_shows_no_solution_and_no_hidden_test(site):
    from teaching import build, questions

    for nb in NOTEBOOKS:
        teacher = questions.load(nb)
        staged = questions.load(ROOT / "build" / "site-src" / "notebooks" / nb.name)
        assert build.leaks(teacher, staged, questions.questions(teacher, nb.name)) == []
        assert not any("NBVAL_" in questions.source(c) for c in staged["cells"])
