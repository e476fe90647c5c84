"""Test-session set-up shared by tests/ and the nbval run over notebooks/.

The notebooks run on the real datasets when they are present. When they are
not, the session switches to the synthetic stand-ins (``MINIGRAD_DATA=synthetic``,
inherited by the notebook kernels) and compares notebook outputs leniently
(nbval's lax mode), because the committed outputs are the real data's. The
header of every run says which it was.

nbval compares every notebook cell's output with the committed one, except
cells tagged ``nbval-ignore-output``: plots, timings, library source listings
(kept current by ``tools/notebook_sources.py`` and its test) and figures whose
last digits depend on the machine's floating-point order. Those figures are
in each notebook's ``RESULTS`` line, which the hook below holds against the
committed line within ``minigrad.results.TOLERANCES``, during the same run.
Set ``MINIGRAD_RESULTS_OUT=DIR`` to also write each re-executed notebook's
figures to ``DIR/<notebook>.json`` (``python -m minigrad.results --drift DIR``).
"""

import json
import os
from pathlib import Path

import pytest

from minigrad import results
from minigrad.datasets import SYNTHETIC, data_root

REAL_MARKERS = {
    "ml-100k": "ml-100k/u.data",
    "ml-1m": "ml-1m/ratings.dat",
    "enron-spam": "enron-spam/enron1",
}


def _data_status():
    root = data_root()
    if root == SYNTHETIC:
        return SYNTHETIC, {}
    return root, {name: (Path(root) / rel).exists() for name, rel in REAL_MARKERS.items()}


def pytest_configure(config):
    root, present = _data_status()
    needed_real = present.get("ml-100k") and present.get("enron-spam")
    if root != SYNTHETIC and not needed_real:
        os.environ["MINIGRAD_DATA"] = SYNTHETIC
        if getattr(config.option, "nbval", False):
            config.option.nbval_lax = True
    config._minigrad_data = _data_status()
    config._minigrad_fresh = {}


def pytest_report_header(config):
    root, present = config._minigrad_data
    if root == SYNTHETIC:
        return ("minigrad data: SYNTHETIC stand-ins (real data not found; set MINIGRAD_DATA); "
                "notebook outputs compared leniently (nbval lax)")
    found = ", ".join(f"{name} {'present' if ok else 'absent'}" for name, ok in present.items())
    return f"minigrad data: REAL, from {root} ({found})"


# --------------------------------------------------------------------------------------------
# Each notebook's RESULTS figures, held to their stated tolerances during the nbval run itself
# (the cell that prints them is not compared digit by digit: floating-point order differs
# between CPUs, BLAS libraries and thread counts). Nothing is executed twice.

def _is_results_cell(item):
    nb = getattr(item.parent, "nb", None)
    if nb is None or not hasattr(item, "cell_num"):
        return False
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    return bool(code) and item.cell is code[-1]


def _stdout_text(outputs):
    return "".join(o.get("text", "") for o in outputs or []
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    outcome = yield
    if not (_is_results_cell(item) and item.path.stem in results.REQUIRED_KEYS):
        return outcome
    config = item.config
    if config._minigrad_data[0] == SYNTHETIC or config.option.nbval_lax:
        return outcome  # the committed figures are the real data's
    name = item.path.name
    fresh = results.parse_results(_stdout_text(item.test_outputs), f"{name} (re-executed)")
    committed = results.parse_results(_stdout_text(item.cell.outputs), name)
    config._minigrad_fresh[item.path.stem] = fresh
    out_dir = os.environ.get("MINIGRAD_RESULTS_OUT")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / f"{item.path.stem}.json").write_text(json.dumps(fresh, indent=1) + "\n")
    problems = results.compare_results(item.path.stem, committed, fresh)
    if problems:
        pytest.fail(f"{name}: {len(problems)} RESULTS figure(s) outside their stated tolerance "
                    "(minigrad.results.TOLERANCES):\n  " + "\n  ".join(problems), pytrace=False)
    return outcome


def pytest_terminal_summary(terminalreporter, config):
    fresh = getattr(config, "_minigrad_fresh", {})
    if fresh:
        figures = sum(len(f) for f in fresh.values())
        terminalreporter.write_line(
            f"minigrad: {figures} RESULTS figures of {len(fresh)} re-executed notebook(s) held "
            "to their stated tolerances")
