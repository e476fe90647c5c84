"""Running minigrad's protocols on real engines: Flower for federated rounds, Ray for split.

The core package needs only NumPy, pandas and matplotlib; these modules import their
engine when they are used, and say which extra to install when it is missing:

    pip install "minigrad[flower]"     # flwr with its Simulation Engine (Ray inside)
    pip install "minigrad[ray]"        # ray, for split learning across processes

``minigrad.engines.flower``: ClientApps and ServerApps built from ``run_round``'s pieces.
``minigrad.engines.ray_split``: alice and bob of ``federated.split`` as Ray actors.
"""

import importlib

__all__ = ["require"]

EXTRAS = {"flwr": "flower", "ray": "ray"}


def require(module, who):
    """Import ``module`` (e.g. 'flwr'), or raise an ImportError naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        extra = EXTRAS.get(top, top)
        raise ImportError(f"{who} needs {top!r}, which is not installed; install it with "
                          f'pip install "minigrad[{extra}]"') from error
