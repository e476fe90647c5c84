"""Receivers validate before they mutate: snapshot a receiver's state, compare after a refusal."""

import copy

import numpy as np


def snapshot(obj):
    """A deep copy of everything ``obj`` holds (its ``__dict__`` or slots, recursively)."""
    if hasattr(obj, "__dict__"):
        return copy.deepcopy(vars(obj))
    return copy.deepcopy(obj)


def assert_same(before, after, where="state"):
    """Assert two snapshots are equal: arrays bit for bit (NaN equal to NaN), dicts by key."""
    if isinstance(before, np.ndarray) or isinstance(after, np.ndarray):
        assert isinstance(before, np.ndarray) and isinstance(after, np.ndarray), where
        assert before.dtype == after.dtype and before.shape == after.shape, where
        np.testing.assert_array_equal(before, after, err_msg=where)
        return
    if isinstance(before, np.random.Generator):
        assert isinstance(after, np.random.Generator), where
        assert_same(before.bit_generator.state, after.bit_generator.state, f"{where}.state")
        return
    if isinstance(before, dict):
        assert isinstance(after, dict) and set(before) == set(after), \
            f"{where}: keys {sorted(map(str, before))} vs {sorted(map(str, after))}"
        for key in before:
            assert_same(before[key], after[key], f"{where}[{key!r}]")
        return
    if isinstance(before, (list, tuple)):
        assert type(before) is type(after) and len(before) == len(after), where
        for i, (a, b) in enumerate(zip(before, after, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
        return
    slots = [name for cls in type(before).__mro__ for name in getattr(cls, "__slots__", ())
             if name not in ("__dict__", "__weakref__")]
    if (hasattr(before, "__dict__") or slots) and not isinstance(before, type):
        assert type(before) is type(after), where
        for name in slots:
            assert_same(getattr(before, name, None), getattr(after, name, None),
                        f"{where}.{name}")
        if hasattr(before, "__dict__"):
            assert_same(vars(before), vars(after), f"{where}.")
        return
    if isinstance(before, float) and isinstance(after, float) and np.isnan(before):
        assert np.isnan(after), where
        return
    assert before == after, f"{where}: {before!r} != {after!r}"
