"""minigrad.bench.timing: the timers count their runs; the machine line names what it reports."""

import numpy as np

from minigrad.bench import median_time, timing


def test_timings_runs_warmup_then_repeats_and_returns_one_time_per_run():
    calls = []

    times = timing.timings(lambda: calls.append(1), repeats=4, warmup=2)

    assert len(calls) == 6
    assert len(times) == 4 and all(t >= 0 for t in times)


def test_median_time_is_the_median_of_the_timed_runs(monkeypatch):
    monkeypatch.setattr(timing, "timings", lambda fn, repeats, warmup: [3.0, 1.0, 2.0])

    assert median_time(lambda: None, repeats=3) == 2.0


def test_median_time_with_no_warmup_calls_exactly_repeats_times():
    calls = []

    seconds = median_time(lambda: calls.append(1), repeats=3, warmup=0)

    assert len(calls) == 3 and isinstance(seconds, float) and np.isfinite(seconds)


def test_verdict_says_whether_a_goal_was_met():
    assert (timing.verdict(True), timing.verdict(False)) == ("ok", "NOT MET")


def test_machine_line_names_numpy_cores_and_blas_threads(monkeypatch):
    monkeypatch.setattr(timing, "blas_threads", lambda: 3)
    monkeypatch.setattr(timing, "cpus", lambda: 2)

    line = timing.machine_line()

    assert line.startswith(f"numpy {np.__version__}, python ")
    assert ", 2 cores, BLAS threads 3" in line


def test_machine_line_says_unknown_without_a_blas(monkeypatch):
    monkeypatch.setattr(timing, "blas_threads", lambda: None)

    assert "BLAS threads unknown" in timing.machine_line()


def test_table_aligns_the_label_left_and_formats_each_column_right():
    columns = [("runs", 5, ""), ("ms", 8, ".2f")]

    lines = timing.table("variant", 10, columns, [("fast", 3, 1.234), ("slow", "-", 12.0)])

    assert lines == ["  variant    runs      ms",
                     "  fast          3    1.23",
                     "  slow          -   12.00"]


def test_targets_line_judges_each_goal():
    line = timing.targets_line([("epoch <= 0.2 s", True), (">= 100x the book", False)])

    assert line == "  targets: epoch <= 0.2 s: ok; >= 100x the book: NOT MET"
