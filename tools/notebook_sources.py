"""Keep the notebooks' "show the source" cells current without re-running the notebooks.

A code cell tagged ``show-source`` prints library source or docstrings (with
``inspect.getsource`` / ``inspect.getdoc``) and nothing that depends on the
notebook's state. Its committed output is a copy of the library's current
text, so nbval must not compare it (the cell is also tagged
``nbval-ignore-output``): editing a comment in ``minigrad/`` would otherwise
fail the notebook suite. Instead this script re-runs just those cells, after
the notebook's own import statements, and compares or rewrites their output:

    python tools/notebook_sources.py            # list stale cells; exit 1 if any
    python tools/notebook_sources.py --write    # refresh their outputs in place
"""

import argparse
import ast
import contextlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TAG = "show-source"
IGNORE = "nbval-ignore-output"


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell):
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def is_source_cell(cell):
    return TAG in cell.get("metadata", {}).get("tags", [])


def uses_inspect(cell):
    """Does the cell print library text (``inspect.getsource`` / ``getdoc`` / ``getcomments``)?"""
    return any(f"inspect.{fn}(" in _source(cell) for fn in ("getsource", "getdoc", "getcomments"))


def import_namespace(nb):
    """A fresh namespace after every top-level import statement of the notebook, in order."""
    namespace = {"__name__": "__notebook_sources__"}
    for cell in code_cells(nb):
        try:
            tree = ast.parse(_source(cell))
        except SyntaxError:
            continue  # IPython magics: no imports to take from such a cell
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                exec(compile(ast.Module([node], []), "<notebook imports>", "exec"), namespace)
    return namespace


def expected_output(cell, namespace):
    """What the cell prints today, run in a copy of ``namespace``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_source(cell), "<show-source cell>", "exec"), dict(namespace))
    return out.getvalue()


def committed_output(cell):
    texts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") != "stream" or o.get("name") != "stdout":
            return None  # anything but plain printed text is not a source listing
        texts.append(o["text"] if isinstance(o["text"], str) else "".join(o["text"]))
    return "".join(texts)


def stale_cells(path):
    """[(code cell number from 1, problem)] for the show-source cells of one notebook."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    problems = []
    namespace = None
    for number, cell in enumerate(code_cells(nb), start=1):
        tags = cell.get("metadata", {}).get("tags", [])
        if uses_inspect(cell) and not is_source_cell(cell):
            problems.append((number, f"prints library text but is not tagged {TAG!r}"))
            continue
        if not is_source_cell(cell):
            continue
        if IGNORE not in tags:
            problems.append((number, f"is tagged {TAG!r} but not {IGNORE!r}"))
        if namespace is None:
            namespace = import_namespace(nb)
        if committed_output(cell) != expected_output(cell, namespace):
            problems.append((number, "output differs from the library's current source"))
    return problems


def refresh(path):
    """Rewrite the output of every stale show-source cell; return how many changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    namespace = import_namespace(nb)
    changed = 0
    for cell in code_cells(nb):
        if not is_source_cell(cell):
            continue
        want = expected_output(cell, namespace)
        if committed_output(cell) != want:
            cell["outputs"] = [{"name": "stdout", "output_type": "stream",
                                "text": want.splitlines(keepends=True)}]
            changed += 1
    if changed:
        # the layout Jupyter writes, so a refresh shows up in git as the outputs alone
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to check (default: notebooks/*.ipynb)")
    parser.add_argument("--write", action="store_true", help="refresh stale outputs in place")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.write:
        for path in paths:
            n = refresh(path)
            if n:
                print(f"{path.name}: refreshed {n} show-source cell(s)")
    status = 0
    for path in paths:
        for number, problem in stale_cells(path):
            print(f"{path.name}: code cell {number} {problem}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
