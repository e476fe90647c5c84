"""The notebooks' RESULTS lines, and the README table generated from them."""

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
