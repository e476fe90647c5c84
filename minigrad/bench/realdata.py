"""The real datasets a workload times, found through MINIGRAD_DATA; refusals as WorkloadError.

Benchmarks time the real datasets only: a synthetic stand-in would print figures
that look comparable with the peers' and are not.
"""


class WorkloadError(Exception):
    """A workload cannot run here (e.g. its data is absent); main prints it, exits 1."""


def or_refuse(load, *args, **kwargs):
    """``load(*args, **kwargs)``, with a DatasetError turned into a WorkloadError."""
    from ..datasets import DatasetError

    try:
        return load(*args, **kwargs)
    except DatasetError as e:
        raise WorkloadError(str(e)) from e


def real_root(workload, what, folder, root=None):
    """The real data root for ``workload``; a DatasetError when MINIGRAD_DATA is 'synthetic'."""
    from ..datasets import SYNTHETIC, DatasetError, data_root

    root = data_root(root)
    if root == SYNTHETIC:
        raise DatasetError(f"the {workload} benchmark times the real {what}, and MINIGRAD_DATA "
                           f"is 'synthetic': set MINIGRAD_DATA to a folder holding {folder}/ "
                           "(see data/README.md)")
    return root


def ml100k(workload, root=None):
    """Real ml-100k for ``workload``; a DatasetError when absent or MINIGRAD_DATA is 'synthetic'."""
    from ..datasets import load_movielens

    return load_movielens("ml-100k", real_root(workload, "ml-100k", "ml-100k", root))
