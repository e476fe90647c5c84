"""minigrad.bench.report: the performance table from literal figures, and the README block."""

import pytest

from minigrad import bench

FIGURES = {
    "spam": {"epoch_s": 0.1, "book_loop_epoch_s": 33.4, "speedup_vs_book": 334.0,
             "within_targets": True, "book_loop_batches_timed": 3},
    "fedrecon": {"tutorial_20_rounds_s": 0.7, "reference_20_rounds_s": 2.5,
                 "speedup_vs_reference": 3.6},
    "deepfm": {"step_s": 0.004, "numpy_step_s": 0.0036, "numpy_fraction": 0.9,
               "python_overhead_fraction": 0.1, "epoch_s": 3.2, "steps_per_epoch": 782},
}


def test_performance_table_has_a_row_per_figure_and_judges_the_goals():
    table = bench.performance_table(FIGURES, machine="2 cores")

    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 4  # header, spam, fedrecon, deepfm step and epoch
    assert all(row.count(" | ") == 5 for row in rows)  # six columns each
    assert table.splitlines()[1] == "|---|---|---|---|---|---|"
    assert "| 0.100 s |" in rows[1] and "334x faster" in rows[1] and rows[1].endswith("ok |")
    assert "| 0.700 s |" in rows[2] and rows[2].endswith("**not met** |")  # 0.7 > 0.5 s
    assert "| 4.00 ms |" in rows[3] and "1.11x the lower bound" in rows[3]
    assert rows[3].endswith("x0.56 |")  # 4.0 ms against PyTorch's 7.1 ms (another run)
    assert "Machine: 2 cores." in table
    assert "python -m minigrad.bench all" in table


def test_performance_table_has_kernel_rows_from_the_kernels_figures():
    figures = {"kernels": {"cases": [{
        "case": "narrow: 250,000 indices -> 100,000 x 1", "auto": "bincount",
        "median_s": {"loop": 0.2, "add_at": 0.002, "bincount": 0.001},
        "speedup_vs_loop": {"loop": 1.0, "add_at": 100.0, "bincount": 200.0}}]}}

    table = bench.performance_table(figures)

    assert ("| embedding backward (scatter-add), 250,000 indices -> 100,000 x 1 | "
            "1.00 ms (bincount) | the book's per-row loop: 200.0 ms | 200x faster |") in table


def test_performance_table_names_the_email_count_the_data_bench_loaded():
    figures = {"data": {"ml100k_load_s": 0.5, "enron_load_s": 0.6, "enron_tokenize_index_s": 2.0,
                        "enron_emails": 33715}}
    table = bench.performance_table(figures)
    assert "| load Enron-Spam (33,715 emails) | 0.60 s |" in table


def test_update_readme_replaces_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- perf-table:start -->\nold\n<!-- perf-table:end -->\nb\n")

    assert bench.update_readme("| new |\n", readme) is True

    assert readme.read_text() == ("a\n<!-- perf-table:start -->\n| new |\n"
                                  "<!-- perf-table:end -->\nb\n")


def test_update_readme_without_markers_changes_nothing(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")

    assert bench.update_readme("| new |\n", readme) is False
    assert readme.read_text() == "no markers\n"
    assert bench.update_readme("| new |\n", tmp_path / "absent.md") is False


def test_update_readme_refuses_markers_out_of_order(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- perf-table:end -->\n<!-- perf-table:start -->\n")

    with pytest.raises(ValueError, match="expected one"):
        bench.update_readme("| new |\n", readme)


def test_the_repository_readme_holds_the_markers_once():
    from minigrad.bench import report

    text = (report.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert [text.count(marker) for marker in bench.README_MARKERS] == [1, 1]
