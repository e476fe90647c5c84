"""minigrad.bench.realdata: benchmarks refuse the synthetic stand-ins, naming MINIGRAD_DATA."""

import pytest

from minigrad.bench import WorkloadError, realdata
from minigrad.datasets import DatasetError


def test_real_root_refuses_synthetic(monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")

    with pytest.raises(DatasetError, match="MINIGRAD_DATA") as info:
        realdata.real_root("spam", "Enron-Spam corpus", "enron-spam")
    assert "enron-spam/" in str(info.value)


def test_real_root_is_the_folder_minigrad_data_names(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))

    assert realdata.real_root("spam", "corpus", "enron-spam") == tmp_path


def test_or_refuse_turns_a_dataset_error_into_a_workload_error():
    def load():
        raise DatasetError("ml-100k not found: set MINIGRAD_DATA")

    with pytest.raises(WorkloadError, match="set MINIGRAD_DATA"):
        realdata.or_refuse(load)
    assert realdata.or_refuse(lambda x, y=0: x + y, 1, y=2) == 3


def test_ml100k_without_the_files_names_the_folder_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))

    with pytest.raises(DatasetError, match="ml-100k") as info:
        realdata.ml100k("fedrecon")
    assert "MINIGRAD_DATA" in str(info.value)
