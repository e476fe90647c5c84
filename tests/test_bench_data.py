"""The data workload (minigrad.bench.data) on tiny files in the published layouts.

Smoke tests only: nothing here asserts a timing.
"""

import pytest
from benchcheck import assert_timing_figures, bench_line

from minigrad import bench
from minigrad.bench import data as data_bench

# A tiny ml-100k in the published layout: u.genre names u.item's flag columns.
TINY_100K = {
    "u.genre": b"unknown|0\nAction|1\nComedy|2\n\n",
    "u.item": (b"1|Toy Story (1995)|01-Jan-1995||http://a|0|0|1\n"
               b"2|Mis\xe9rables, Les (1995)|01-Jan-1995||http://b|0|1|1\n"
               b"3|unknown||||1|0|0\n"),
    "u.user": b"7|24|M|technician|11111\n2|53|F|other|01234\n",
    "u.data": b"7\t1\t5\t900000001\n2\t3\t1\t900000002\n7\t2\t3\t900000003\n",
}

SUMMARY = ("Legitimate\r\n----------\r\n- Owner: farmer-d\r\n- Total number: {ham} emails\r\n"
           "\r\nSpam\r\n----\r\n- Owner: GP\r\n- Total number: {spam} emails\r\n")


def write_tiny_data(root):
    """ml-100k plus enron1..enron6 under ``root``: 3 ratings, 6 x (2 ham + 1 spam) emails."""
    (root / "ml-100k").mkdir(parents=True)
    for name, data in TINY_100K.items():
        (root / "ml-100k" / name).write_bytes(data)
    long_email = " ".join(f"w{i}" for i in range(600)).encode()  # longer than max_len=500
    for i in range(1, 7):
        box = root / "enron-spam" / f"enron{i}"
        (box / "ham").mkdir(parents=True)
        (box / "spam").mkdir()
        (box / "Summary.txt").write_bytes(SUMMARY.format(ham=2, spam=1).encode())
        (box / "ham" / f"0001.ham{i}.txt").write_bytes(b"Subject: meeting\r\nsee you at 10\r\n")
        (box / "ham" / f"0002.ham{i}.txt").write_bytes(long_email)
        (box / "spam" / f"0003.spam{i}.txt").write_bytes(b"Subject: caf\xe9 deals\ncheap\n")
    return root


def test_data_is_a_registered_workload():
    assert bench.WORKLOADS["data"] is data_bench.run


def test_data_workload_on_tiny_data_prints_a_table_and_a_bench_line(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.setenv("MINIGRAD_DATA", str(write_tiny_data(tmp_path)))

    status = bench.main(["data", "--repeats", "1", "--heavy-repeats", "1"])

    out = capsys.readouterr().out
    assert status == 0
    figures = bench_line(out)
    assert figures["workload"] == "data"
    assert_timing_figures(figures, *bench.DATA_TARGETS)
    for key in bench.DATA_TARGETS:
        assert f"< {bench.DATA_TARGETS[key]:g} s" in out  # the target is printed beside it
    assert figures["runs"] == {key: 1 for key in bench.DATA_TARGETS}
    assert (figures["ml100k_ratings"], figures["ml100k_users"], figures["ml100k_items"]) == (
        3, 2, 3)
    assert (figures["enron_emails"], figures["enron_ham"], figures["enron_spam"]) == (18, 12, 6)
    assert figures["enron_decode_fallbacks"] == 6  # the 0xE9 in each spam email
    assert figures["indexed_rows"] == 18 and figures["truncated_rows"] == 6
    assert figures["max_len"] == 500
    assert "no warm-up" in out


def test_data_workload_refuses_synthetic_data(monkeypatch, capsys):
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")

    status = bench.main(["data", "--repeats", "1"])

    captured = capsys.readouterr()
    assert status == 1
    assert "BENCH" not in captured.out
    assert captured.err.startswith("error: ") and "synthetic" in captured.err


@pytest.mark.parametrize("missing", ["ml-100k", "enron-spam"])
def test_data_workload_names_the_missing_dataset(tmp_path, monkeypatch, capsys, missing):
    root = write_tiny_data(tmp_path)
    (root / missing).rename(root / f"{missing}.away")
    monkeypatch.setenv("MINIGRAD_DATA", str(root))

    status = bench.main(["data", "--repeats", "1"])

    captured = capsys.readouterr()
    assert status == 1
    assert "BENCH" not in captured.out
    assert missing in captured.err and "MINIGRAD_DATA" in captured.err
    assert "Traceback" not in captured.err
