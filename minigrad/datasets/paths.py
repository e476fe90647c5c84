"""Where data lives (``data_root``, ``dataset_dir``), and the one error type every loader raises."""

import os
from pathlib import Path

__all__ = ["DatasetError", "SYNTHETIC", "REPO_DATA", "data_root", "dataset_dir",
           "synthetic_banner", "DOWNLOAD_HINT"]

SYNTHETIC = "synthetic"
"""Value of ``MINIGRAD_DATA`` (or ``root=``) that opts in to the synthetic stand-ins."""

REPO_DATA = Path(__file__).resolve().parents[2] / "data"

DOWNLOAD_HINT = "python -m minigrad.datasets download {name}"


class DatasetError(ValueError):
    """A dataset is missing or malformed; the message names the file and what was expected."""


def data_root(root=None):
    """The data folder: ``root`` if given, else ``$MINIGRAD_DATA``, else ``<repo>/data``.

    Returns the string ``"synthetic"`` when that is what was asked for.
    """
    if root is None:
        root = os.environ.get("MINIGRAD_DATA") or REPO_DATA
    if str(root) == SYNTHETIC:
        return SYNTHETIC
    return Path(root).expanduser()


def dataset_dir(root, name, expected_files):
    """``root/name`` after checking every expected file is there, else a DatasetError.

    The error lists what is missing and how to get it.
    """
    folder = Path(root) / name
    missing = [f for f in expected_files if not (folder / f).is_file()]
    if missing:
        where = "folder does not exist" if not folder.is_dir() else "files are missing"
        raise DatasetError(
            f"{name}: {where} in {folder}: expected {', '.join(expected_files)}; "
            f"missing {', '.join(missing)}. Get it with `{DOWNLOAD_HINT.format(name=name)}` "
            f"or point MINIGRAD_DATA at a folder that holds {name}/ (see data/README.md). "
            f"For synthetic stand-ins, set MINIGRAD_DATA=synthetic."
        )
    return folder


def synthetic_banner(what):
    """The line printed whenever a synthetic stand-in is returned."""
    return (f"*** SYNTHETIC DATA: {what} is a generated stand-in, not the real dataset "
            f"(MINIGRAD_DATA=synthetic). Figures will differ from the real data. ***")
