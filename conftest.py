"""Test-session set-up shared by tests/ and the nbval run over notebooks/.

The notebooks run on the real datasets when they are present. When they are
not, the session switches to the synthetic stand-ins (``MINIGRAD_DATA=synthetic``,
inherited by the notebook kernels) and compares notebook outputs leniently
(nbval's lax mode), because the committed outputs are the real data's. The
header of every run says which it was.
"""

import os
from pathlib import Path

from minigrad.datasets._common import SYNTHETIC, data_root

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


def pytest_report_header(config):
    root, present = config._minigrad_data
    if root == SYNTHETIC:
        return ("minigrad data: SYNTHETIC stand-ins (real data not found; set MINIGRAD_DATA); "
                "notebook outputs compared leniently (nbval lax)")
    found = ", ".join(f"{name} {'present' if ok else 'absent'}" for name, ok in present.items())
    return f"minigrad data: REAL, from {root} ({found})"
