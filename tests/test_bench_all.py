"""``python -m minigrad.bench all`` and ``scaling`` on small synthetic data, the performance
table and README block they write, and the issue-8 optimisations they justified (which
must keep every result bit for bit).

Smoke tests for the benchmarks: nothing here asserts a timing.
"""

import json

import numpy as np
import pytest

from minigrad import Tensor, bench, kernels, nn, optim
from minigrad.datasets import synthetic_movielens, synthetic_spam
from minigrad.recipes import spam


@pytest.fixture(scope="module")
def small_spam():
    """The book recipe on 1,200 synthetic emails: 2 batches of 500."""
    return spam.book_recipe(synthetic_spam(1200, seed=0), test_per_class=20)


@pytest.fixture(scope="module")
def small_movielens():
    """150 users x 120 items: 120 training users after the tutorial's split."""
    return synthetic_movielens(num_users=150, num_items=120, seed=0)


def bench_lines(stdout):
    return [json.loads(line[len("BENCH "):]) for line in stdout.splitlines()
            if line.startswith("BENCH ")]


# --------------------------------------------------------------------------- all
def test_all_runs_every_workload_then_writes_the_table(small_spam, small_movielens,
                                                       monkeypatch, capsys, tmp_path):
    # Arrange: tiny data for every workload; the data workload cannot run here
    monkeypatch.setattr(bench, "_book_spam_data", lambda root=None: small_spam)
    monkeypatch.setattr(bench, "_fedrecon_data", lambda root=None: small_movielens)
    monkeypatch.setattr(bench, "_deepfm_data", lambda root=None: small_movielens)
    monkeypatch.setattr(bench, "KERNEL_CASES", [("tiny: 300 indices -> 50 x 1", 300, 50, 1)])

    def no_data(args, out):
        raise bench.WorkloadError("no real data here")

    monkeypatch.setitem(bench.WORKLOADS, "data", no_data)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- perf-table:start -->\nold\n<!-- perf-table:end -->\nrest\n")
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)

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
    assert summary["spam"]["epoch_s"] > 0
    assert summary["fedrecon"]["tutorial_20_rounds_s"] > 0
    assert {"step_s", "epoch_s", "numpy_fraction"} <= set(summary["deepfm"])
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
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)

    status = bench.main(["all", "--no-readme", "--docs-dir", str(tmp_path)])

    assert status == 0
    assert "old" in readme.read_text()
    assert bench_lines(capsys.readouterr().out)[-1]["readme_updated"] is False


# ------------------------------------------------------------------- the table
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
    assert "| 0.100 s |" in rows[1] and "334x faster" in rows[1] and rows[1].endswith("ok |")
    assert "| 0.700 s |" in rows[2] and rows[2].endswith("**not met** |")  # 0.7 > 0.5 s
    assert "| 4.00 ms |" in rows[3] and "1.11x the lower bound" in rows[3]
    assert rows[3].endswith("x0.56 |")  # 4.0 ms against PyTorch's 7.1 ms (another run)
    assert "Machine: 2 cores." in table


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


def test_blas_threads_reads_and_sets_openblas():
    before = bench.blas_threads()
    if before is None:
        pytest.skip("this NumPy is not linked to an OpenBLAS that can be found")
    try:
        assert bench.blas_threads(1) == 1
    finally:
        bench.blas_threads(before)
    assert bench.blas_threads() == before


# --------------------------------------------------------------------- scaling
def test_respread_keeps_padding_and_the_number_of_lookups():
    X = np.array([[3, 1, 0], [5, 0, 0]])

    smaller = bench._respread(X, vocab_size=6, new_size=3)
    larger = bench._respread(X, vocab_size=6, new_size=24)

    assert smaller.tolist() == [[1, 1, 0], [1, 0, 0]]   # ids fold onto rows 1..2
    assert larger.tolist() == [[12, 4, 0], [20, 0, 0]]  # ids spread 4x apart


def test_scaling_sweeps_and_plots_on_small_data(small_spam, small_movielens, tmp_path, capsys):
    fed = bench.scaling_fedrecon(small_movielens, clients=(5, None), max_ratings=(10, None),
                                 rounds=2, repeats=1)
    dfm = bench.scaling_deepfm([("tiny", small_movielens)], steps=3, warmup=1)
    sp = bench.scaling_spam(small_spam, factors=(1 / 4, 1, 2), repeats=1)
    figures = {"fedrecon": fed, "deepfm": dfm, "spam": sp}

    paths = bench._plot_scaling(figures, tmp_path)
    md = bench._scaling_markdown(figures, "test machine")

    assert [r["clients_per_round"] for r in fed["clients"]] == [5, 120]  # None: every user
    assert fed["ratings"][0]["mean_ratings"] == 10.0
    assert all(r["round_s"] > 0 for r in fed["clients"] + fed["ratings"])
    assert dfm[0]["steps_per_epoch"] == -(-len(small_movielens.ratings) // 128)
    assert dfm[0]["epoch_s_measured"] > 0
    vocab = len(small_spam.vocab)
    assert [r["vocab_size"] for r in sp] == [vocab // 4, vocab, 2 * vocab]
    assert [r["real_vocabulary"] for r in sp] == [False, True, False]
    assert sorted(p.name for p in paths) == ["deepfm_scaling.png", "fedrecon_scaling.png",
                                             "spam_vocab_scaling.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    assert "![](spam_vocab_scaling.png)" in md and "| 120 |" in md
    assert "ms/round" in capsys.readouterr().out


# ------------------------------------- the optimisations keep results bit for bit
@pytest.mark.parametrize("method", ["add_at", "bincount", "bincount_flat", "reduceat", "loop"])
@pytest.mark.parametrize("dim", [1, 3])
def test_scatter_add_skip_drops_a_row_and_changes_no_other_bit(method, dim):
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 6, size=(40, 9))
    indices[:, 5:] = 0  # padded at the end, as the spam batches are
    rows = rng.standard_normal((40, 9, dim)).astype(np.float32)

    full = kernels.scatter_add_rows(indices, rows, 6, method=method)
    skipped = kernels.scatter_add_rows(indices, rows, 6, method=method, skip=0)

    assert np.array_equal(skipped[0], np.zeros(dim, np.float32))
    assert np.array_equal(skipped[1:], full[1:])  # same additions, same order


def test_scatter_add_skip_of_a_broadcast_gradient_matches_the_loop():
    indices = np.array([[2, 1, 0, 0], [1, 0, 0, 0]])
    grad = np.broadcast_to(np.array([[[1.5]], [[10.0]]]), (2, 4, 1))  # what sum(1) hands on

    got = kernels.scatter_add_rows(indices, grad, 3, skip=0)

    assert got.tolist() == [[0.0], [11.5], [1.5]]


def test_embedding_with_padding_learns_as_before_and_owns_its_gradient():
    emb = nn.Embedding(5, 1, padding_idx=0, dtype=np.float32)
    ids = np.array([[3, 1, 0, 0], [1, 0, 0, 0]])

    emb(ids).sum(1).sum().backward()

    assert emb.weight.grad.tolist() == [[0.0], [2.0], [0.0], [1.0], [0.0]]
    assert emb.weight.grad.flags.owndata


def test_gradient_handed_on_by_an_op_is_still_copied_into_a_leaf():
    a = Tensor(np.ones(3), autograd=True)
    b = Tensor(np.ones(3), autograd=True)

    (a + b).backward(np.array([1.0, 2.0, 3.0]))  # Add hands the same array to both
    a.grad += 1

    assert b.grad.tolist() == [1.0, 2.0, 3.0]  # b's gradient is not a's


def _textbook_adam(p, g, m, v, step, alpha=1e-2, b1=0.9, b2=0.999, eps=1e-8):
    m *= b1
    m += (1.0 - b1) * g
    v *= b2
    v += (1.0 - b2) * (g * g)
    p -= alpha / (1.0 - b1**step) * m / (np.sqrt(v * (1.0 / (1.0 - b2**step))) + eps)


@pytest.mark.parametrize("shape", [(7, 3), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_with_buffers_is_the_textbook_update_bit_for_bit(dtype, shape):
    rng = np.random.default_rng(1)
    start = np.asarray(rng.standard_normal(shape), dtype=dtype)
    param = Tensor(start.copy(), autograd=True)
    opt = optim.Adam([param], alpha=1e-2)
    p, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)

    for step in range(1, 31):
        g = np.asarray(rng.standard_normal(shape) * 10.0 ** rng.uniform(-6, 2), dtype=dtype)
        param.grad = g.copy()
        opt.step()
        _textbook_adam(p, g, m, v, step)

    assert np.array_equal(param.data, p)
    assert opt.state[id(param)][0] == 30
