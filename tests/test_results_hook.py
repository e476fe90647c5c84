"""The nbval run holds each notebook's re-executed RESULTS line to its committed one.

End to end, in a subprocess: a one-cell notebook under a numbered notebook's name,
whose committed output is the real notebook's RESULTS line and whose code prints
either the same figures or figures moved beyond their stated tolerance.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from minigrad import results

ROOT = Path(__file__).resolve().parents[1]
STEM = "01_fedavg_spam"


def _run_nbval(tmp_path, printed):
    committed = results.read_results(results.NOTEBOOKS / f"{STEM}.ipynb")
    line = "RESULTS " + json.dumps(committed)
    cell = {"cell_type": "code", "execution_count": 1, "id": "results",
            "metadata": {"tags": ["nbval-ignore-output"]},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": [line + "\n"]}],
            "source": [f"print('RESULTS ' + {json.dumps(json.dumps(printed))})"]}
    nb = {"cells": [cell], "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}}}
    folder = tmp_path / "nb"
    folder.mkdir()
    (folder / f"{STEM}.ipynb").write_text(json.dumps(nb))
    data = tmp_path / "data"  # what the session takes for the real datasets
    (data / "ml-100k").mkdir(parents=True)
    (data / "ml-100k" / "u.data").write_text("")
    (data / "enron-spam" / "enron1").mkdir(parents=True)
    env = dict(os.environ, MINIGRAD_DATA=str(data), MINIGRAD_RESULTS_OUT=str(tmp_path / "out"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "--nbval",
         "-q", str(folder / f"{STEM}.ipynb")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc, committed


def test_figures_within_tolerance_pass_and_are_written_out(tmp_path):
    committed = results.read_results(results.NOTEBOOKS / f"{STEM}.ipynb")
    moved = dict(committed, improved_test_acc=committed["improved_test_acc"] - 0.001)

    proc, _ = _run_nbval(tmp_path, moved)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "RESULTS figures of 1 re-executed notebook(s) held" in proc.stdout
    written = json.loads((tmp_path / "out" / f"{STEM}.json").read_text())
    assert written == moved


def test_a_figure_beyond_its_tolerance_fails_the_cell_and_names_it(tmp_path):
    committed = results.read_results(results.NOTEBOOKS / f"{STEM}.ipynb")
    moved = dict(committed, improved_test_acc=committed["improved_test_acc"] - 0.01)

    proc, _ = _run_nbval(tmp_path, moved)

    assert proc.returncode == 1
    assert "improved_test_acc moved from" in proc.stdout
    assert "outside their stated tolerance" in proc.stdout
