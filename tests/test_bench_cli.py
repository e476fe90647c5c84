"""``python -m minigrad.bench`` (minigrad.bench.cli): ``all`` on tiny data writes the table.

Smoke tests only: nothing here asserts a timing.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from benchcheck import assert_timing_figures, bench_lines, use_small_deepfm

from minigrad import bench
from minigrad.bench import deepfm, fedrecon, report, spam
from minigrad.datasets import synthetic_movielens, synthetic_spam
from minigrad.recipes import spam as spam_recipe

REPO = Path(__file__).resolve().parents[1]


def test_workloads_are_the_subcommands_in_order():
    assert list(bench.WORKLOADS) == ["kernels", "data", "spam", "fedrecon", "deepfm", "all",
                                     "scaling", "flower", "ray"]
    assert all(callable(f) for f in bench.WORKLOADS.values())
    # the engines' benchmarks need the extras, so `all` (the README's table) leaves them out
    assert set(bench.ALL_ORDER) == set(bench.WORKLOADS) - {"all", "scaling", "flower", "ray"}


def test_all_runs_every_workload_then_writes_the_table(monkeypatch, capsys, tmp_path):
    # Arrange: tiny data for every workload; the data workload cannot run here
    small_spam = spam_recipe.book_recipe(synthetic_spam(600, seed=0), test_per_class=20)
    small_movielens = synthetic_movielens(num_users=30, num_items=40, seed=0)
    monkeypatch.setattr(spam, "book_spam_data", lambda root=None: small_spam)
    monkeypatch.setattr(fedrecon, "fedrecon_data", lambda root=None: small_movielens)
    monkeypatch.setattr(deepfm, "deepfm_data", lambda root=None: small_movielens)
    use_small_deepfm(monkeypatch)
    monkeypatch.setattr(bench, "KERNEL_CASES", [("tiny: 300 indices -> 50 x 1", 300, 50, 1)])

    def no_data(args, out):
        raise bench.WorkloadError("no real data here")

    monkeypatch.setitem(bench.WORKLOADS, "data", no_data)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- perf-table:start -->\nold\n<!-- perf-table:end -->\nrest\n")
    monkeypatch.setattr(report, "REPO_ROOT", tmp_path)

    # Act
    status = bench.main(["all", "--repeats", "1", "--heavy-repeats", "1",
                         "--docs-dir", str(tmp_path / "perf")])

    # Assert: one BENCH line per workload that ran, then the summary
    out = capsys.readouterr().out
    lines = bench_lines(out)
    assert [f["workload"] for f in lines] == ["kernels", "spam", "fedrecon", "deepfm", "all"]
    summary = lines[-1]
    assert status == 1  # a workload was skipped
    assert summary["skipped"] == {"data": "no real data here"}
    assert_timing_figures(summary["spam"], "epoch_s")
    assert_timing_figures(summary["fedrecon"], "tutorial_20_rounds_s")
    assert_timing_figures(summary["deepfm"], "step_s", "epoch_s", "numpy_fraction")
    table = (tmp_path / "perf" / "table.md").read_text()
    assert "spam, one epoch" in table and "FedRecon" in table and "split DeepFM" in table
    assert "load ml-100k" not in table  # no row for a workload that did not run
    assert summary["readme_updated"] is True
    text = readme.read_text()
    assert text.startswith("intro\n<!-- perf-table:start -->\n| workload |")
    assert text.endswith("<!-- perf-table:end -->\nrest\n") and "old" not in text


def test_all_leaves_the_readme_alone_with_no_readme(monkeypatch, capsys, tmp_path):
    for name in bench.ALL_ORDER:
        monkeypatch.setitem(bench.WORKLOADS, name, lambda args, out: {})
    readme = tmp_path / "README.md"
    readme.write_text("<!-- perf-table:start -->\nold\n<!-- perf-table:end -->\n")
    monkeypatch.setattr(report, "REPO_ROOT", tmp_path)

    status = bench.main(["all", "--no-readme", "--docs-dir", str(tmp_path)])

    assert status == 0
    assert "old" in readme.read_text()
    assert bench_lines(capsys.readouterr().out)[-1]["readme_updated"] is False


def test_a_workload_error_is_one_line_on_stderr_and_exit_1(monkeypatch, capsys):
    def refuse(args, out):
        raise bench.WorkloadError("set MINIGRAD_DATA")

    monkeypatch.setitem(bench.WORKLOADS, "spam", refuse)

    assert bench.main(["spam"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "error: set MINIGRAD_DATA\n" and "BENCH" not in captured.out


@pytest.mark.parametrize("argv", [["nope"], ["kernels", "--repeats", "0"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2


def test_python_dash_m_runs_the_package():
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    done = subprocess.run([sys.executable, "-m", "minigrad.bench", "--help"], env=env,
                          capture_output=True, text=True, check=False)

    assert done.returncode == 0
    assert "python -m minigrad.bench kernels" in done.stdout
    assert "{kernels,data,spam,fedrecon,deepfm,all,scaling,flower,ray}" in done.stdout
