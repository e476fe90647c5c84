"""The notebooks' show-source cells print the library as it is today.

nbval does not compare those cells (a docstring edit must not fail the
notebook suite); this fast test does, and ``python tools/notebook_sources.py
--write`` refreshes them without re-running any notebook.
"""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("notebook_sources",
                                               ROOT / "tools" / "notebook_sources.py")
notebook_sources = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebook_sources)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_show_source_cells_print_the_current_library(path):
    problems = notebook_sources.stale_cells(path)

    assert problems == [], (f"{path.name}: {problems}; run python tools/notebook_sources.py "
                            "--write")


def test_every_notebook_shows_some_source_through_tagged_cells():
    counts = {p.stem: sum(notebook_sources.is_source_cell(c)
                          for c in notebook_sources.code_cells(json.loads(p.read_text())))
              for p in NOTEBOOKS}

    assert all(counts.values()), counts


def _notebook(tmp_path, cells):
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb, indent=1) + "\n")
    return path


def _code(source, text, tags=("show-source", "nbval-ignore-output")):
    return {"cell_type": "code", "execution_count": 1, "metadata": {"tags": list(tags)},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": [text]}],
            "source": [source]}


def test_a_stale_source_cell_is_reported_and_refreshed(tmp_path):
    import inspect

    from minigrad import kernels
    current = inspect.getsource(kernels.scatter_add_rows_loop) + "\n"
    path = _notebook(tmp_path, [
        _code("import inspect\nfrom minigrad import kernels", "", tags=()),
        _code("print(inspect.getsource(kernels.scatter_add_rows_loop))", "def old(): pass\n"),
    ])

    assert [n for n, _ in notebook_sources.stale_cells(path)] == [2]
    assert notebook_sources.refresh(path) == 1
    assert notebook_sources.stale_cells(path) == []
    cell = json.loads(path.read_text())["cells"][1]
    assert "".join(cell["outputs"][0]["text"]) == current


def test_an_untagged_cell_printing_source_is_reported(tmp_path):
    path = _notebook(tmp_path, [
        _code("import inspect\nprint(inspect.getsource(inspect.getdoc))", "...", tags=()),
    ])

    problems = notebook_sources.stale_cells(path)

    assert [n for n, _ in problems] == [1] and "not tagged" in problems[0][1]


def test_a_source_cell_nbval_would_compare_is_reported(tmp_path):
    import inspect
    text = inspect.getsource(inspect.getdoc) + "\n"
    path = _notebook(tmp_path, [
        _code("import inspect\nprint(inspect.getsource(inspect.getdoc))", text,
              tags=("show-source",)),
    ])

    assert [n for n, _ in notebook_sources.stale_cells(path)] == [1]
