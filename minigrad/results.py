"""Each notebook's key figures: the ``RESULTS {json}`` line its last code cell prints.

The notebooks are committed with their outputs, so their figures can be read
without running them. The tests check each notebook's line (required keys,
the reproductions it claims) and that the README's results table is exactly
what this module generates from the committed notebooks:

    python -m minigrad.results            # print the table
    python -m minigrad.results --write    # rewrite the README block between the markers
"""

import argparse
import json
import sys
from pathlib import Path

__all__ = ["REQUIRED_KEYS", "read_results", "all_results", "results_table", "write_readme"]

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
"""The keys each notebook's issue asks its RESULTS line to carry."""


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


def read_results(path):
    """The dict printed as ``RESULTS {json}`` by the last code cell of notebook ``path``.

    A clear ValueError when the notebook was committed without outputs, or its
    last code cell prints no such line, or the line is not valid JSON.
    """
    path = Path(path)
    lines = [line for line in _last_code_cell_text(path).splitlines()
             if line.startswith("RESULTS ")]
    if len(lines) != 1:
        raise ValueError(f"{path.name}: the last code cell must print exactly one line "
                         f"'RESULTS {{json}}' (found {len(lines)}); was it committed after "
                         "Restart & Run All?")
    try:
        results = json.loads(lines[0][len("RESULTS "):])
    except json.JSONDecodeError as err:
        raise ValueError(f"{path.name}: the RESULTS line is not valid JSON ({err})") from None
    if not isinstance(results, dict):
        raise ValueError(f"{path.name}: RESULTS must be a JSON object, got {type(results)}")
    return results


def all_results(folder=NOTEBOOKS):
    """{notebook stem: results} for every numbered notebook that prints RESULTS."""
    out = {}
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        if path.stem in REQUIRED_KEYS:
            out[path.stem] = read_results(path)
    return out


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
    """A Markdown table, one row per (notebook, key) in the issue's key order."""
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minigrad.results", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true",
                        help="rewrite the README's results block")
    args = parser.parse_args(argv)
    if args.write:
        write_readme()
    else:
        sys.stdout.write(results_table(all_results()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
