"""Each notebook's key figures: the ``RESULTS {json}`` line its last code cell prints.

The notebooks are committed with their outputs, so their figures can be read
without running them. The tests check each notebook's line (required keys,
the reproductions it claims) and that the README's results table is exactly
what this module generates from the committed notebooks. When the notebooks
are re-executed (the nbval run), each fresh figure is held against its
committed value within the tolerance ``TOLERANCES`` states for it:

    python -m minigrad.results                 # print the table
    python -m minigrad.results --write         # rewrite the README block between the markers
    python -m minigrad.results --drift DIR...  # fresh figures (DIR/<notebook>.json or executed
                                               # .ipynb) against the committed ones
"""

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["REQUIRED_KEYS", "read_results", "all_results", "results_table", "write_readme",
           "Tolerance", "TOLERANCES", "parse_results", "compare_results", "figure_drift",
           "tolerance_used", "fresh_results", "drift_report"]

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
README = REPO / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

REQUIRED_KEYS = {
    "01_fedavg_spam": ["book_recipe_test_acc", "book_fedavg3_test_acc",
                       "weighted_fedavg3_test_acc", "improved_test_acc"],
    "02_password_leakage": ["recovered_words", "precision_at_k", "recall_at_k"],
    "03_fedrecon_movielens": ["tutorial_test_loss", "tutorial_test_rating_accuracy",
                              "tuned_test_rmse", "tuned_test_rating_accuracy",
                              "central_foldin_test_rmse", "stateful_unseen_test_rmse"],
    "04_split_deepfm": ["split_test_auc", "central_test_auc", "alice_only_test_auc",
                        "bob_only_test_auc", "bytes_per_epoch",
                        "max_grad_diff_split_vs_central"],
    "05_secure_aggregation_and_dp": ["paillier_fedavg_test_acc", "secagg_sum_max_abs_error",
                                     "dp_eps_vs_acc"],
    "06_split_learning_label_leakage": ["norm_leak_auc", "direction_leak_auc", "defended"],
}
"""The keys each notebook's RESULTS line carries, in order."""


def _last_code_cell_text(path):
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    if not code:
        raise ValueError(f"{path}: no code cell")
    texts = []
    for out in code[-1].get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            texts.append("".join(out["text"]))
    return "".join(texts)


def parse_results(text, name):
    """The dict of the one ``RESULTS {json}`` line in ``text`` (what ``name`` printed)."""
    lines = [line for line in text.splitlines() if line.startswith("RESULTS ")]
    if len(lines) != 1:
        raise ValueError(f"{name}: the last code cell must print exactly one line "
                         f"'RESULTS {{json}}' (found {len(lines)}); was it committed after "
                         "Restart & Run All?")
    try:
        results = json.loads(lines[0][len("RESULTS "):])
    except json.JSONDecodeError as err:
        raise ValueError(f"{name}: the RESULTS line is not valid JSON ({err})") from None
    if not isinstance(results, dict):
        raise ValueError(f"{name}: RESULTS must be a JSON object, got {type(results)}")
    return results


def read_results(path):
    """The dict printed as ``RESULTS {json}`` by the last code cell of notebook ``path``.

    A clear ValueError when the notebook was committed without outputs, or its
    last code cell prints no such line, or the line is not valid JSON.
    """
    path = Path(path)
    return parse_results(_last_code_cell_text(path), path.name)


def all_results(folder=NOTEBOOKS):
    """{notebook stem: results} for every numbered notebook that prints RESULTS."""
    out = {}
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        if path.stem in REQUIRED_KEYS:
            out[path.stem] = read_results(path)
    return out


@dataclass(frozen=True)
class Tolerance:
    """How far a re-executed figure may move from its committed value, and why.

    ``abs`` bounds |fresh - committed| for every number in the figure; a tuple
    gives one bound per column of a list of rows (e.g. ``(0, 0.003)`` for
    ``[[epsilon, accuracy], ...]``). ``below`` replaces the comparison with an
    upper bound, for figures at round-off level whose digits mean nothing.
    Strings, booleans and the structure (keys, lengths) must match exactly.
    """

    abs: float | tuple = 0.0
    why: str = ""
    below: float | None = None

    def allowed(self, column):
        if isinstance(self.abs, tuple):
            return self.abs[column] if column is not None else max(self.abs)
        return self.abs


T = Tolerance
_EXACT = T(0, "exact: a count, a setting, or arithmetic no rounding order reaches")
_EMAILS = ("float32 training, spam test accuracy on 2,000 emails: did not move in any "
           "configuration measured; 3 emails (0.0015) of slack for a CPU we did not measure")
_FLOAT64 = ("float64 training: did not move in any configuration measured; one unit of the "
            "4th decimal for a value on a rounding boundary")
_AUC = ("float32 DeepFM training: moved up to 0.0014 at the reported epoch (0.0024 at an earlier "
        "one) across the configurations measured; ~1 standard error of an AUC on 20,000 rows")

TOLERANCES = {
    "01_fedavg_spam": {
        "book_recipe_test_acc": T(0.0015, _EMAILS),
        "book_fedavg3_test_acc": T(0.0015, _EMAILS),
        "weighted_fedavg3_test_acc": T(0.0015, _EMAILS),
        "improved_test_acc": T(0.0015, _EMAILS),
        "improved_first_look_test_acc": T(0.0015, _EMAILS),
        "improved_ham_weight": _EXACT,
    },
    "02_password_leakage": {
        "recovered_words": _EXACT,
        "precision_at_k": T(0.002, "one update's rows ranked by |change|: did not move in any "
                                   "configuration measured; 0.002 for a tie broken differently"),
        "recall_at_k": T(0.002, "one update's rows ranked by |change|: did not move in any "
                                "configuration measured; 0.002 for a tie broken differently"),
        "average_of_n_clients": T((50, 50, 30, 0, 30), "rows whose float32 updates cancel "
                                  "exactly in the average: up to 12 rows moved measured; "
                                  "Bob-only words are counted, not trained: exact"),
        "password_words_only_bob_has": _EXACT,
    },
    "03_fedrecon_movielens": {key: T(0.0001, _FLOAT64) for key in (
        "tutorial_test_loss", "tutorial_test_rating_accuracy", "tuned_test_rmse",
        "tuned_test_rating_accuracy", "central_foldin_test_rmse", "stateful_unseen_test_rmse",
        "tutorial_seeds_test_loss_mean", "tutorial_seeds_test_rating_accuracy_mean",
        "tutorial_seeds_tff_protocol_test_loss_mean",
        "tutorial_seeds_tff_protocol_test_rating_accuracy_mean")},
    "04_split_deepfm": {
        "split_test_auc": T(0.004, _AUC),
        "central_test_auc": T(0.004, _AUC),
        "alice_only_test_auc": T(0.004, _AUC),
        "bob_only_test_auc": T(0.004, _AUC),
        "test_auc_by_epoch": T(0.004, _AUC),
        "split_val_auc": T(0.004, _AUC + " (8,000 validation rows)"),
        "split_val_auc_by_epoch": T(0.004, _AUC + " (8,000 validation rows)"),
        "split_best_epoch": T(0, "validation AUC rises by 0.005 from epoch 4 to 5, beyond the "
                                 "drift: the choice must not change"),
        "split_test_precision_recall": T(0.02, "precision and recall at threshold 0.5 move with "
                                               "calibration: up to 0.0031 measured (0.0066 for "
                                               "bob alone, not reported)"),
        "compression_val_auc_change": T(0.005, "difference of two float32 runs: moved up to "
                                               "0.0028 measured (its sign too); the text calls "
                                               "float16 and int8 free within this bound"),
        "topk_val_auc_change": T(0.03, "difference of two float32 runs, one of them top-k "
                                       "sparsified: moved up to 0.0154 measured (2 threads)"),
        "float16_max_rel_error": T(below=2.0**-11, why="float16 rounds each value to 11 "
                                                       "significant bits: error <= 2^-11 |x|"),
        "int8_max_rel_error": T(below=1 / 255, why="affine int8: error <= half a step of "
                                                   "range / 255 <= max|x| / 255"),
        "lr_schedule": _EXACT,
        "final_train_rows": _EXACT,
        "bytes_per_epoch": _EXACT,
        "bytes_per_step": _EXACT,
        "max_grad_diff_split_vs_central": T(below=1e-12, why="float64 round-off (5.6e-17 here); "
                                                            "any real difference is > 1e-6"),
        "max_logit_diff_split_vs_central": T(below=1e-12, why="float64 round-off (1.3e-15 here)"),
    },
    "05_secure_aggregation_and_dp": {
        "paillier_fedavg_test_acc": T(0.0015, _EMAILS),
        "plain_fedavg_small_vocab_test_acc": T(0.0015, _EMAILS),
        "secagg_sum_max_abs_error": T(below=2.33e-9, why="fixed-point quantization of 10 "
                                                         "clients: the protocol's error bound"),
        "secagg_dropout_max_abs_error": T(below=2.10e-9, why="fixed-point quantization of 9 "
                                                             "survivors: the protocol's bound"),
        "paillier_vs_plain_max_weight_diff": T(below=1e-6, why="float32 rounding of the decoded "
                                                              "average (~1e-7 at weights ~1)"),
        "dp_eps_vs_acc": T((0.01, 0.0015), "epsilon: float64 accountant, printed to 2 decimals; "
                                           "accuracy: " + _EMAILS),
        "dp_eps_vs_acc_100_clients": T((0.01, 0.0015), "as dp_eps_vs_acc"),
        "dp_no_noise_test_acc": T(0.0015, _EMAILS),
    },
    "06_split_learning_label_leakage": {
        "norm_leak_auc": T(0.01, "float32 training: moved up to 0.0023 measured (Prescott)"),
        "direction_leak_auc": T(0.002, "near 1 (0.9999 to 1.0): moved < 0.0001 measured"),
        "test_auc": T(0.004, _AUC),
        "norm_leak_auc_rating5": T(0.01, "float32 training: moved up to 0.0005 measured"),
        "direction_leak_auc_rating5": T(0.002, "near 1: moved < 0.0001 measured"),
        "defended_label": _EXACT,
        "defended": T((0, 0.008, 0.04), "noise scale; test AUC of a noise-trained model (moved "
                                        "up to 0.0045, NumPy without AVX); norm leak AUC under "
                                        "noise up to 0.012 (noise 1)"),
        "defended_direction": T((0, 0.008, 0.04), "as defended: direction leak moved up to "
                                                  "0.0157 measured (noise 1)"),
        "norm_equalised_max": T((0.004, 0.02, 0.01), "test AUC; norm leak near chance (0.5) "
                                                     "moved up to 0.0055; direction leak"),
        "leak_auc_by_epoch": T(0.01, "as norm_leak_auc (the direction leak is near 1)"),
        "bob_alone_test_auc": T(0.004, _AUC),
        "train_loss_and_cut_norm": T((0.03, 2.0), "training loss (0.42 and 1.09: moved up to "
                                                  "0.0088); mean |cut| (3.1, 66.9): up to 0.33"),
        "one_batch": T(5e-4, "mean gradient norms of one batch (~2e-3 to 7e-3)"),
        "one_batch_jj": T((1.5, 2.0), "J_i . J_k over one batch after two epochs of float32 "
                                      "training, smallest and median: moved up to 0.90 (NumPy "
                                      "without AVX) and 1.03 (Prescott) measured"),
    },
}
"""Per notebook and RESULTS figure: how far a re-execution may move it, and why."""


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _leaves(committed, fresh, where="", column=None):
    """Pairs (where, column, committed, fresh) of the two figures' leaves, or a mismatch."""
    if isinstance(committed, dict) and isinstance(fresh, dict):
        if set(committed) != set(fresh):
            yield where, None, sorted(committed), sorted(fresh)
            return
        for key in committed:
            yield from _leaves(committed[key], fresh[key], f"{where}[{key!r}]", column)
    elif isinstance(committed, list) and isinstance(fresh, list):
        if len(committed) != len(fresh):
            yield where, None, f"{len(committed)} items", f"{len(fresh)} items"
            return
        rows = all(isinstance(c, list) for c in committed)
        for i, (c, f) in enumerate(zip(committed, fresh, strict=True)):
            yield from _leaves(c, f, f"{where}[{i}]", column if rows else i)
    else:
        yield where, column, committed, fresh


def figure_drift(committed, fresh):
    """Largest |fresh - committed| over a figure's numbers (0 when it has none), or None
    when the two differ in structure or in a non-numeric value."""
    worst = 0.0
    for _, _, c, f in _leaves(committed, fresh):
        if _is_number(c) and _is_number(f):
            worst = max(worst, abs(f - c))
        elif c != f:
            return None
    return worst


def tolerance_used(committed, fresh, tol):
    """The largest share of its allowance any number of the figure moved (1.0: at the bound),
    or for a ``below`` figure the largest |value| / bound; None on a structural mismatch."""
    worst = 0.0
    for _, column, c, f in _leaves(committed, fresh):
        if not (_is_number(c) and _is_number(f)):
            if c != f:
                return None
            continue
        if tol.below is not None:
            worst = max(worst, abs(f) / tol.below)
            continue
        moved, allowed = abs(f - c), tol.allowed(column)
        if moved:
            worst = max(worst, moved / allowed if allowed else float("inf"))
    return worst


def compare_results(stem, committed, fresh, tolerances=None):
    """Problems (a list of sentences; empty when all is well) of notebook ``stem``'s fresh
    RESULTS against its committed ones, each figure within ``tolerances[stem][key]``."""
    tolerances = (TOLERANCES if tolerances is None else tolerances).get(stem, {})
    problems = []
    for key in sorted(set(committed) | set(fresh)):
        if key not in tolerances:
            problems.append(f"{stem}: figure {key!r} has no stated tolerance in "
                            "minigrad.results.TOLERANCES")
            continue
        if key not in committed or key not in fresh:
            side = "committed notebook" if key not in committed else "re-executed notebook"
            problems.append(f"{stem}: figure {key!r} is missing from the {side}")
            continue
        tol = tolerances[key]
        for where, column, c, f in _leaves(committed[key], fresh[key]):
            label = f"{key}{where}"
            if tol.below is not None and _is_number(f):
                if not (math.isfinite(f) and abs(f) < tol.below):
                    problems.append(f"{stem}: {label} = {f!r}, expected below {tol.below:g} "
                                    f"({tol.why})")
            elif _is_number(c) and _is_number(f):
                allowed = tol.allowed(column)
                if not (math.isfinite(f) and abs(f - c) <= allowed + 1e-12):
                    problems.append(f"{stem}: {label} moved from {c!r} to {f!r}, more than the "
                                    f"±{allowed:g} allowed ({tol.why})")
            elif c != f:
                problems.append(f"{stem}: {label} is {f!r}, committed {c!r} (must match "
                                "exactly)")
    return problems


def _fmt(value):
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        inner = ", ".join(_fmt(v) for v in value)
        return f"[{inner}]"
    return str(value)


def results_table(results):
    """A Markdown table, one row per (notebook, key) in ``REQUIRED_KEYS`` order."""
    rows = ["| notebook | figure | value |", "|---|---|---|"]
    for stem, figures in results.items():
        keys = REQUIRED_KEYS.get(stem, []) + [k for k in figures if k not in
                                              REQUIRED_KEYS.get(stem, [])]
        for key in keys:
            if key in figures:
                rows.append(f"| {stem} | `{key}` | {_fmt(figures[key])} |")
    return "\n".join(rows) + "\n"


def readme_block(text, table):
    """``text`` with the block between the results markers replaced by ``table``."""
    if START not in text or END not in text:
        raise ValueError(f"README: markers {START} ... {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}{END}{tail}"


def write_readme(readme=README, folder=NOTEBOOKS):
    """Rewrite the README's results block from the committed notebooks."""
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    readme.write_text(readme_block(text, results_table(all_results(folder))), encoding="utf-8")


def fresh_results(folder):
    """{notebook stem: figures} of a re-executed run: ``<stem>.json`` files (what the test
    run writes under ``$MINIGRAD_RESULTS_OUT``) or executed ``<stem>.ipynb`` copies."""
    folder = Path(folder)
    out = {}
    for stem in REQUIRED_KEYS:
        if (folder / f"{stem}.json").is_file():
            out[stem] = json.loads((folder / f"{stem}.json").read_text(encoding="utf-8"))
        elif (folder / f"{stem}.ipynb").is_file():
            out[stem] = read_results(folder / f"{stem}.ipynb")
    return out


def drift_report(runs, committed=None, out=None):
    """Print each figure's tolerance and its largest drift in each run; return the problems.

    ``runs`` maps a run's name to its ``fresh_results``; ``committed`` defaults to the
    committed notebooks' figures.
    """
    out = out or sys.stdout
    committed = all_results() if committed is None else committed
    names = list(runs)
    print("| notebook | figure | tolerance | " + " | ".join(names)
          + " | largest | share of tolerance |", file=out)
    print("|---|---|---|" + "---|" * (len(names) + 2), file=out)
    problems = []
    for stem, figures in committed.items():
        for key, value in figures.items():
            tol = TOLERANCES.get(stem, {}).get(key)
            if tol is None:
                stated = "none"
            elif tol.below is not None:
                stated = f"< {tol.below:g}"
            elif isinstance(tol.abs, tuple):
                stated = "±(" + ", ".join(f"{a:g}" for a in tol.abs) + ")"
            else:
                stated = f"±{tol.abs:g}" if tol.abs else "exact"
            cells, worst, used = [], 0.0, 0.0
            for name in names:
                fresh = runs[name].get(stem, {})
                if key not in fresh:
                    cells.append("-")
                    continue
                d = figure_drift(value, fresh[key])
                cells.append("differs" if d is None else f"{d:.4g}")
                worst = float("inf") if d is None else max(worst, d)
                share = tolerance_used(value, fresh[key], tol) if tol else None
                used = float("inf") if share is None else max(used, share)
            print(f"| {stem} | `{key}` | {stated} | " + " | ".join(cells)
                  + f" | {worst:.4g} | {used:.0%} |", file=out)
        for name in names:
            if stem in runs[name]:
                problems += [f"{name}: {p}" for p in compare_results(stem, figures,
                                                                     runs[name][stem])]
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minigrad.results", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true",
                        help="rewrite the README's results block")
    parser.add_argument("--drift", nargs="+", metavar="DIR",
                        help="folders of re-executed figures to hold against the committed ones")
    args = parser.parse_args(argv)
    if args.drift:
        runs = {Path(d).name: fresh_results(d) for d in args.drift}
        problems = drift_report(runs)
        for p in problems:
            print(p)
        return 1 if problems else 0
    if args.write:
        write_readme()
    else:
        sys.stdout.write(results_table(all_results()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
