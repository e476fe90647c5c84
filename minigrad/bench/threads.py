"""BLAS thread count, read and set through threadpoolctl (the ``bench`` extra).

On a loaded 2-core machine OpenBLAS's spinning threads can make every matmul many
times slower; ``--blas-threads 1`` gives stable, comparable step times. A benchmark
helper: the package itself never changes threads.
"""

INSTALL_HINT = 'pip install "minigrad[bench]"'


def threadpoolctl():
    """The threadpoolctl module; ModuleNotFoundError naming the extra when it is absent."""
    try:
        import threadpoolctl
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(f"the benchmarks read and set BLAS threads with "
                                  f"threadpoolctl, which is not installed: {INSTALL_HINT}",
                                  name="threadpoolctl") from e
    return threadpoolctl


def blas_threads(n=None):
    """The BLAS libraries' thread count, after setting it to ``n`` if given; None if none found.

    With several BLAS libraries loaded, the first one's count (all were set alike).
    """
    tpc = threadpoolctl()
    if n is not None:
        tpc.threadpool_limits(limits=int(n), user_api="blas")  # stays until set again
    counts = [lib["num_threads"] for lib in tpc.threadpool_info() if lib["user_api"] == "blas"]
    return int(counts[0]) if counts else None
