"""Benchmarks that print figures and ratios measured in one process; never a timed assertion.

``python -m minigrad.bench --help`` lists the workloads (kernels, data, spam, fedrecon,
deepfm, all, scaling). Each ends with one line ``BENCH {json}`` holding its figures.
Reading and setting BLAS threads needs threadpoolctl: ``pip install "minigrad[bench]"``.
"""

from .cli import ALL_ORDER, WORKLOADS, bench_all, main
from .data import DATA_TARGETS, bench_data
from .deepfm import DEEPFM_PEERS, DEEPFM_TARGETS, autograd_gradients, bench_deepfm, deepfm_parties
from .fedrecon import FEDRECON_PEERS, FEDRECON_TARGETS, bench_fedrecon
from .numpy_deepfm import NumpyDeepFM
from .realdata import WorkloadError
from .report import README_MARKERS, performance_table, update_readme
from .scaling import bench_scaling, scaling_deepfm, scaling_fedrecon, scaling_spam
from .scatter import KERNEL_CASES, bench_kernels
from .spam import SPAM_TARGETS, bench_spam
from .threads import blas_threads
from .timing import median_time

__all__ = ["median_time", "blas_threads", "bench_kernels", "KERNEL_CASES", "bench_data",
           "DATA_TARGETS", "bench_spam", "SPAM_TARGETS", "bench_fedrecon", "FEDRECON_TARGETS",
           "FEDRECON_PEERS", "bench_deepfm", "deepfm_parties", "autograd_gradients", "NumpyDeepFM",
           "DEEPFM_PEERS", "DEEPFM_TARGETS", "performance_table", "update_readme",
           "README_MARKERS", "bench_all", "bench_scaling", "scaling_fedrecon", "scaling_deepfm",
           "scaling_spam", "WORKLOADS", "ALL_ORDER", "WorkloadError", "main"]
