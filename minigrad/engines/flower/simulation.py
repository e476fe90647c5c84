"""Flower's Simulation Engine, set up for a course: quiet, no telemetry, bounded."""

import logging
import os
import time
import warnings

from .. import require

__all__ = ["simulate", "QUIET_ENV"]

# Flower and Ray phone home and check for updates by default; a classroom run should not
QUIET_ENV = {"FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1",
             "RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0",
             "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0"}


def simulate(server_app, client_app, num_nodes, *, cpus_per_node=1, verbose=False):
    """Run ``server_app`` with ``num_nodes`` virtual SuperNodes of ``client_app`` -> seconds.

    The ServerApp runs in this process (its ``result`` is here afterwards); the
    ClientApps run in Ray actors, ``cpus_per_node`` CPUs each. An error in the
    ServerApp is raised here.
    """
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    require("flwr.simulation", "minigrad.engines.flower.simulate")
    from flwr.simulation import run_simulation

    backend = {"client_resources": {"num_cpus": cpus_per_node},
               "init_args": {"include_dashboard": False, "log_to_driver": verbose,
                             "logging_level": logging.INFO if verbose else logging.ERROR}}
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    if not verbose:
        flwr_logger.setLevel(logging.ERROR)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            run_simulation(server_app, client_app, num_supernodes=num_nodes,
                           backend_config=backend, verbose_logging=verbose)
    finally:
        flwr_logger.setLevel(level)
    return time.perf_counter() - start
