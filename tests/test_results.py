"""The notebooks' RESULTS lines, and the README table generated from them."""

import io
import json

import numpy as np
import pytest

from minigrad import results
from minigrad.results import NOTEBOOKS, README, REQUIRED_KEYS


def _numbered_notebooks():
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if not p.stem.startswith("00"))


def _write_notebook(path, outputs, source="print(1)"):
    cell = {"cell_type": "code", "source": [source], "metadata": {}, "outputs": outputs,
            "execution_count": 1}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def _stdout(text):
    return {"output_type": "stream", "name": "stdout", "text": [text]}


@pytest.mark.parametrize("path", _numbered_notebooks(), ids=lambda p: p.stem)
def test_every_notebook_prints_the_keys_its_issue_asks_for(path):
    assert path.stem in REQUIRED_KEYS, f"{path.name}: add its RESULTS keys to REQUIRED_KEYS"
    figures = results.read_results(path)
    missing = [k for k in REQUIRED_KEYS[path.stem] if k not in figures]
    assert not missing, f"{path.name}: RESULTS lacks {missing}"


def test_readme_results_table_is_generated_from_the_committed_notebooks():
    text = README.read_text(encoding="utf-8")
    expected = results.readme_block(text, results.results_table(results.all_results()))
    assert text == expected, "README results table is stale: run python -m minigrad.results --write"


def test_notebook_01_reproduces_the_book_within_0_3_points():
    figures = results.read_results(NOTEBOOKS / "01_fedavg_spam.ipynb")
    np.testing.assert_allclose(figures["book_recipe_test_acc"], [0.9635, 0.972, 0.974], atol=0.003)
    np.testing.assert_allclose(figures["book_fedavg3_test_acc"], [0.696, 0.9175, 0.963],
                               atol=0.003)


def test_notebook_01_improved_recipe_meets_the_goal_and_keeps_its_first_look():
    # issue 4: >= 98.5 % on the book's test set; the recipe chosen first (7.6) stays reported
    figures = results.read_results(NOTEBOOKS / "01_fedavg_spam.ipynb")
    assert figures["improved_test_acc"] >= 0.985
    assert figures["improved_first_look_test_acc"] < figures["improved_test_acc"]
    assert figures["improved_ham_weight"] == 3.0


def test_notebook_02_recovers_exactly_bobs_words():
    figures = results.read_results(NOTEBOOKS / "02_password_leakage.ipynb")
    assert sorted(figures["recovered_words"]) == sorted(["my", "computer", "password", "is",
                                                         "pizza"])


def test_notebook_04_split_equals_centralized_to_1e_10():
    path = NOTEBOOKS / "04_split_deepfm.ipynb"
    if not path.exists():
        pytest.skip("notebook 04 not written yet")
    assert results.read_results(path)["max_grad_diff_split_vs_central"] <= 1e-10


def test_notebook_04_meets_the_split_deepfm_goals():
    # issue 6: split test AUC >= 0.78, within 0.005 of centralized, clearly above either
    # party alone; the epoch was chosen on validation and the final models saw every
    # training row (80 % of ml-100k's 100,000)
    figures = results.read_results(NOTEBOOKS / "04_split_deepfm.ipynb")
    assert figures["split_test_auc"] >= 0.78
    assert abs(figures["split_test_auc"] - figures["central_test_auc"]) <= 0.005
    assert figures["split_test_auc"] - max(figures["alice_only_test_auc"],
                                           figures["bob_only_test_auc"]) >= 0.05
    assert figures["final_train_rows"] == 80_000
    assert figures["bytes_per_epoch"]["alice_to_bob"] == 625 * figures["bytes_per_step"][
        "alice_to_bob"]


def test_read_results_parses_the_last_code_cell(tmp_path):
    path = _write_notebook(tmp_path / "01_x.ipynb", [_stdout('epoch 1\nRESULTS {"a": [1, 2.5]}\n')])
    assert results.read_results(path) == {"a": [1, 2.5]}


def test_read_results_refuses_a_notebook_without_outputs(tmp_path):
    path = _write_notebook(tmp_path / "01_x.ipynb", [])
    with pytest.raises(ValueError, match="01_x.ipynb.*exactly one line"):
        results.read_results(path)


def test_read_results_refuses_two_lines_and_bad_json(tmp_path):
    two = _write_notebook(tmp_path / "a.ipynb", [_stdout("RESULTS {}\nRESULTS {}\n")])
    with pytest.raises(ValueError, match="found 2"):
        results.read_results(two)
    bad = _write_notebook(tmp_path / "b.ipynb", [_stdout("RESULTS {oops}\n")])
    with pytest.raises(ValueError, match="not valid JSON"):
        results.read_results(bad)


def test_readme_block_needs_its_markers():
    with pytest.raises(ValueError, match="markers"):
        results.readme_block("no markers here", "| t |\n")


def test_results_table_formats_lists_dicts_and_floats():
    table = results.results_table({"02_password_leakage": {"recall_at_k": {"1": 0.5},
                                                           "recovered_words": ["a", "b"],
                                                           "extra": 1.0}})
    assert "| 02_password_leakage | `recovered_words` | [a, b] |" in table
    assert "| 02_password_leakage | `recall_at_k` | 1: 0.5 |" in table
    assert "| 02_password_leakage | `extra` | 1.0 |" in table


# ------------------------------------------------ re-executed figures against committed ones
TOLS = {"nb": {"acc": results.Tolerance(0.002, "two emails"),
               "rows": results.Tolerance((0, 0.01), "epsilon exact; accuracy"),
               "words": results.Tolerance(0, "exact"),
               "err": results.Tolerance(below=1e-12, why="round-off")}}
COMMITTED = {"acc": [0.95, 0.96], "rows": [[1.5, 0.90], [4.0, 0.93]], "words": ["a", "b"],
             "err": 5e-17}


def test_figures_within_their_tolerances_pass():
    fresh = {"acc": [0.951, 0.958], "rows": [[1.5, 0.905], [4.0, 0.925]], "words": ["a", "b"],
             "err": 3e-17}

    assert results.compare_results("nb", COMMITTED, fresh, TOLS) == []


@pytest.mark.parametrize("key, value, fragment", [
    ("acc", [0.95, 0.9625], "acc[1] moved"),
    ("rows", [[1.5, 0.90], [4.01, 0.93]], "rows[1][0] moved"),      # epsilon column is exact
    ("rows", [[1.5, 0.90], [4.0, 0.915]], "rows[1][1] moved"),
    ("words", ["a", "c"], "words[1]"),
    ("acc", [0.95], "acc"),                                          # a list lost an item
    ("err", 2e-9, "below 1e-12"),
    ("acc", [0.95, float("nan")], "acc[1] moved"),
])
def test_a_figure_beyond_its_tolerance_is_named(key, value, fragment):
    fresh = dict(COMMITTED, **{key: value})

    problems = results.compare_results("nb", COMMITTED, fresh, TOLS)

    assert len(problems) == 1 and fragment in problems[0], problems


def test_a_figure_without_a_tolerance_or_missing_is_a_problem():
    fresh = dict(COMMITTED, new=1.0)
    del fresh["acc"]

    problems = results.compare_results("nb", COMMITTED, fresh, TOLS)

    assert any("'new' has no stated tolerance" in p for p in problems)
    assert any("'acc' is missing from the re-executed" in p for p in problems)


def test_tolerance_used_is_the_largest_share_of_each_allowance():
    tol = results.Tolerance((0.01, 0.1), "columns")

    assert results.tolerance_used([[1.0, 0.5]], [[1.005, 0.45]], tol) == pytest.approx(0.5)
    assert results.tolerance_used(1e-17, 5e-17, results.Tolerance(below=1e-12)) == \
        pytest.approx(5e-5)
    assert results.tolerance_used("a", "b", tol) is None


def test_figure_drift_is_the_largest_numeric_move():
    assert results.figure_drift([[1.0, 0.5], [2.0, 0.25]], [[1.0, 0.5], [2.0, 0.2]]) == \
        pytest.approx(0.05)
    assert results.figure_drift({"a": "x"}, {"a": "y"}) is None
    assert results.figure_drift(3, 3) == 0.0


@pytest.mark.parametrize("path", _numbered_notebooks(), ids=lambda p: p.stem)
def test_every_committed_figure_has_a_stated_tolerance(path):
    figures = results.read_results(path)
    stated = results.TOLERANCES.get(path.stem, {})

    assert sorted(set(figures) - set(stated)) == [], "figures without a tolerance"
    assert sorted(set(stated) - set(figures)) == [], "tolerances for figures no longer printed"
    assert all(t.why for t in stated.values())
    # the committed notebook agrees with itself: a sanity check of the comparison
    assert results.compare_results(path.stem, figures, figures) == []


def test_drift_report_prints_a_row_per_figure_and_returns_the_problems(tmp_path):
    committed = {"01_fedavg_spam": {"improved_test_acc": 0.9865}}
    runs = {"a": {"01_fedavg_spam": {"improved_test_acc": 0.9860}},
            "b": {"01_fedavg_spam": {"improved_test_acc": 0.9800}}}
    out = io.StringIO()

    problems = results.drift_report(runs, committed, out=out)

    row = [line for line in out.getvalue().splitlines() if "improved_test_acc" in line][0]
    assert "±0.0015" in row and "| 0.0005 |" in row and row.endswith("| 0.0065 | 433% |")
    assert len(problems) == 1 and problems[0].startswith("b: 01_fedavg_spam")


def test_fresh_results_read_json_files_or_executed_notebooks(tmp_path):
    (tmp_path / "01_fedavg_spam.json").write_text('{"improved_test_acc": 0.98}')
    _write_notebook(tmp_path / "02_password_leakage.ipynb", [_stdout('RESULTS {"k": 1}\n')])

    got = results.fresh_results(tmp_path)

    assert got == {"01_fedavg_spam": {"improved_test_acc": 0.98},
                   "02_password_leakage": {"k": 1}}
