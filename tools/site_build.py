"""Build the course site: ``python3 tools/site_build.py`` writes build/site/ (open index.html);
``--screenshots DIR`` also saves a PNG of every page, taken in headless Chromium.

The notebooks are staged as students get them (solutions and hidden tests taken out, the
lessons' committed outputs kept) and rendered by Sphinx + myst-nb without executing anything.
MathJax comes from the npm registry into a local cache and is served from the site itself, so
the pages typeset math offline. Warnings are errors.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from teaching.questions import BEGIN, END, KEY, source  # noqa: E402

MATHJAX = "mathjax@3.2.2"
NBVAL_COMMENT = re.compile(r"^\s*#\s*NBVAL_[A-Z_]+\s*$")


def strip_solutions(text):
    """The code as a student sees it: each solution block replaced by ``...``."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith(BEGIN):
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + "...")
        elif line.strip().startswith(END):
            inside = False
        elif not inside and not NBVAL_COMMENT.match(line):
            out.append(line)
    return "\n".join(out)


def student_view(nb):
    """A copy of a teacher's notebook without solutions, hidden tests or nbval comments."""
    cells = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get(KEY, {})
        if meta.get("role") == "test" and meta.get("hidden"):
            continue
        cell = dict(cell)
        if cell["cell_type"] == "code":
            text = source(cell)
            cell["source"] = strip_solutions(text)
            if BEGIN in text or meta.get("role") == "test":
                cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    return {**nb, "cells": cells}


def mathjax(cache):
    """The folder of MathJax's ES5 build, installed from npm into ``cache`` once."""
    es5 = cache / "node_modules" / "mathjax" / "es5"
    if not es5.exists():
        cache.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund",
                              "--prefix", str(cache), MATHJAX], capture_output=True, text=True)
        if run.returncode != 0 or not es5.exists():
            sys.exit(f"site: could not install {MATHJAX} with npm:\n{run.stderr}")
    return es5


def stage(src):
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(ROOT / "site", src)
    (src / "notebooks").mkdir()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        (src / "notebooks" / path.name).write_text(
            json.dumps(student_view(nb), indent=1, ensure_ascii=False), encoding="utf-8")
    es5 = mathjax(ROOT / "build" / "site-cache")
    target = src / "_static" / "mathjax"
    target.mkdir(parents=True)
    shutil.copy(es5 / "tex-chtml-full.js", target)
    shutil.copytree(es5 / "output" / "chtml" / "fonts", target / "output" / "chtml" / "fonts")


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium():
    """The path of a Chromium (or Chrome) binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browse(page, profile, *, screenshot=None, width=1280, height=2400, wait_ms=15000):
    """The DOM of ``page`` after Chromium ran its scripts (MathJax), or a screenshot of it."""
    browser = chromium()
    if browser is None:
        sys.exit("site: no Chromium found (Debian: apt-get install chromium)")
    args = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
            f"--virtual-time-budget={wait_ms}"]
    if screenshot:
        args += [f"--screenshot={screenshot}", f"--window-size={width},{height}"]
    else:
        args.append("--dump-dom")
    run = subprocess.run([*args, Path(page).resolve().as_uri()], capture_output=True,
                         text=True, timeout=120)
    if run.returncode != 0:
        sys.exit(f"site: Chromium failed on {page}:\n{run.stderr[-2000:]}")
    return run.stdout


def screenshots(site, out):
    """A PNG of the front page and of every notebook page, for reviewers."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pages = [Path(site) / "index.html", *sorted((Path(site) / "notebooks").glob("*.html"))]
    for page in pages:
        target = out / f"{page.stem}.png"
        browse(page, out / ".profile", screenshot=target)
        print(f"screenshot: {target}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "site"))
    parser.add_argument("--screenshots", metavar="DIR",
                        help="also take a screenshot of every page into DIR (needs Chromium)")
    args = parser.parse_args(argv)
    src = ROOT / "build" / "site-src"
    stage(src)
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                          "html", str(src), args.out])
    if run.returncode != 0:
        return run.returncode
    print(f"site: {Path(args.out) / 'index.html'}")
    if args.screenshots:
        screenshots(args.out, args.screenshots)
    return 0


if __name__ == "__main__":
    sys.exit(main())
