"""minigrad.bench.threads: BLAS threads through threadpoolctl, and a clear error without it."""

import sys

import pytest

from minigrad import bench
from minigrad.bench import threads


def test_blas_threads_reads_and_sets_the_blas():
    before = bench.blas_threads()
    if before is None:
        pytest.skip("threadpoolctl finds no BLAS library in this NumPy")
    try:
        assert bench.blas_threads(1) == 1
        assert bench.blas_threads() == 1  # the limit stays until set again
    finally:
        bench.blas_threads(before)
    assert bench.blas_threads() == before


def test_without_threadpoolctl_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import now fails

    with pytest.raises(ModuleNotFoundError, match=r'pip install "minigrad\[bench\]"'):
        threads.blas_threads()


def test_main_without_threadpoolctl_exits_1_with_the_install_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)

    status = bench.main(["kernels", "--repeats", "1"])

    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert captured.err.startswith("error: ") and "minigrad[bench]" in captured.err
