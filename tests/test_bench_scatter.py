"""The kernels workload (minigrad.bench.scatter) on tiny cases: a table and a BENCH line.

Smoke tests only: nothing here asserts a timing. (test_kernels checks bench_kernels's table.)
"""

import io

from benchcheck import assert_ratio_figures, assert_timing_figures, bench_line

from minigrad import bench
from minigrad.bench import scatter


def test_kernels_is_a_registered_workload():
    assert bench.WORKLOADS["kernels"] is scatter.run


def test_kernels_workload_ends_with_a_bench_line(monkeypatch, capsys):
    monkeypatch.setattr(bench, "KERNEL_CASES", [("tiny", 300, 50, 1), ("tiny wide", 200, 20, 8)])

    status = bench.main(["kernels", "--repeats", "1"])

    out = capsys.readouterr().out
    assert status == 0
    assert "default ('auto') uses" in out  # the table is unchanged
    figures = bench_line(out)
    assert figures["workload"] == "kernels" and figures["dtype"] == "float32"
    assert [case["dim"] for case in figures["cases"]] == [1, 8]
    for case in figures["cases"]:
        assert set(case["median_s"]) == set(case["speedup_vs_loop"]) >= {"loop", "add_at"}
        assert_timing_figures(case["median_s"], *case["median_s"])
        assert_ratio_figures(case["speedup_vs_loop"], *case["speedup_vs_loop"])
        assert case["auto"] in case["median_s"] and case["fastest"] in case["median_s"]


def test_bench_kernels_takes_its_cases_as_an_argument():
    results = scatter.bench_kernels(repeats=1, out=io.StringIO(), cases=[("t", 40, 10, 2)])

    assert [(r["indices"], r["rows"], r["dim"]) for r in results] == [(40, 10, 2)]
