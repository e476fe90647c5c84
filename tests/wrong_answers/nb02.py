"""Plausible wrong answers to notebook 02's exercises (each must lose points), and right
answers written differently from the reference (each must score full marks)."""

WRONG = {
    # a row "moved" when its entries' changes add up to something: +0.1 and -0.1 cancel
    "try_changed_rows": '''
import numpy as np


def my_changed_rows(sent, received, name="weight"):
    delta = np.asarray(received[name]) - np.asarray(sent[name])
    return np.flatnonzero(delta.reshape(len(delta), -1).sum(axis=1) != 0)
''',
    # the SGD step's minus sign forgotten: rows moving down read as spam
    "infer_label": '''
import numpy as np

from minigrad.privacy.attacks import changed_rows


def infer_label(sent, received, name="weight"):
    rows = changed_rows(sent, received, name)
    if rows.size == 0:
        raise ValueError("no row changed")
    delta = np.asarray(received[name], dtype=np.float64)[rows] - np.asarray(sent[name])[rows]
    return int(delta.sum() < 0)
''',
    # truncates instead of rounding: a float32 move of 2.9999 counts 2
    "net_spam_counts": '''
import numpy as np


def net_spam_counts(sent, received, alpha=0.01, name="weight"):
    delta = np.asarray(received[name], dtype=np.float64) - np.asarray(sent[name], dtype=np.float64)
    return (delta[:, 0] / (alpha / 4)).astype(np.int64)
''',
    # the float64 noise promotes the float32 weights
    "add_gaussian_noise": '''
import numpy as np


def add_gaussian_noise(params, sigma, rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a Generator")
    return {name: value + rng.normal(0.0, sigma, np.shape(value)) for name, value in params.items()}
''',
    # the last m of an ascending argsort: ties go to the higher row, and m = 0 takes every row
    "top_changed_rows": '''
import numpy as np


def top_changed_rows(sent, received, m, name="weight"):
    delta = np.abs(np.asarray(received[name], dtype=np.float64) - np.asarray(sent[name]))
    size = delta.reshape(len(delta), -1).max(axis=1)
    return np.sort(np.argsort(size, kind="stable")[-m:]).astype(np.int64)
''',
    # repeated words counted as often as they occur
    "membership_scores": '''
import numpy as np


def membership_scores(recovered, candidates):
    recovered = set(recovered)
    return np.array([sum(w in recovered for w in c) / len(c) if c else 0.0 for c in candidates])
''',
}

OTHER_RIGHT = {
    "try_changed_rows": '''
import numpy as np


def my_changed_rows(sent, received, name="weight"):
    before, after = np.asarray(sent[name]), np.asarray(received[name])
    axes = tuple(range(1, before.ndim))
    return np.nonzero(np.any(before != after, axis=axes))[0]
''',
    "infer_label": '''
import numpy as np


def infer_label(sent, received, name="weight"):
    before = np.asarray(sent[name], dtype=np.float64)
    after = np.asarray(received[name], dtype=np.float64)
    up, down = np.count_nonzero(after > before), np.count_nonzero(after < before)
    if up == down == 0:
        raise ValueError("this update changed nothing")
    return 1 if up > down else 0
''',
    "top_changed_rows": '''
import numpy as np


def top_changed_rows(sent, received, m, name="weight"):
    before = np.asarray(sent[name], dtype=np.float64)
    after = np.asarray(received[name], dtype=np.float64)
    size = np.abs(after - before).reshape(len(before), -1).max(axis=1)
    ranked = sorted(range(len(size)), key=lambda row: (-size[row], row))
    return np.array(sorted(ranked[:m]), dtype=np.int64)
''',
    "membership_scores": '''
import numpy as np


def membership_scores(recovered, candidates):
    known = set(recovered)
    out = np.zeros(len(candidates))
    for i, email in enumerate(candidates):
        words = set(email)
        if words:
            out[i] = sum(word in known for word in words) / len(words)
    return out
''',
}
