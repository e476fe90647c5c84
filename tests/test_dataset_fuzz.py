"""Fuzzing the loaders: random corruptions of tiny MovieLens and Enron-Spam copies.

The property: a loader either returns a result that agrees with a plain reading of the
files (counts as the dataset states them, ids in range, ratings and texts as written),
or raises DatasetError naming the file; never another exception, never a wrong result.
Deterministic (derandomize) and small, so it runs in seconds.
"""

import io
import itertools
import re
import tarfile

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from minigrad.datasets.enron_spam import SHORTFALL_TOLERANCE, load_enron_spam
from minigrad.datasets.movielens import load_movielens
from minigrad.datasets.paths import DatasetError

FUZZ = settings(max_examples=100, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
_runs = itertools.count()

ML100K = {
    "u.genre": b"unknown|0\nAction|1\nComedy|2\n\n",
    "u.item": (b"1|Toy Story (1995)|01-Jan-1995||http://a|0|0|1\n"
               b"2|Mis\xe9rables, Les (1995)|01-Jan-1995||http://b|0|1|1\n"
               b"3|unknown||||1|0|0\n"
               b"5|Five (1996)|01-Jan-1996||http://c|0|1|0\n"),
    "u.user": b"7|24|M|technician|11111\n2|53|F|other|01234\n4|30|M|writer|T8H1N\n",
    "u.data": (b"7\t1\t5\t900000001\n2\t3\t1\t900000002\n7\t2\t3\t900000003\n"
               b"4\t5\t4\t900000004\n2\t1\t2\t900000005\n4\t2\t5\t900000006\n"),
    "u.info": b"3 users\n4 items\n6 ratings\n",
}

# Bytes a corruption may write: digits, the separators, line ends, letters, a control
# byte and latin-1/UTF-8 high bytes, so that corruptions hit the parsers' decisions.
_BYTES = st.sampled_from(list(b"0123456789|\t\n\r :-aZ\x00\x7f\xe9\xc3\xa9"))
_CHUNK = st.lists(_BYTES, min_size=1, max_size=12).map(bytes)


@st.composite
def corruption(draw, data):
    """(corrupted bytes, what was done) for ``data``: one random edit."""
    kind = draw(st.sampled_from(["replace", "insert", "delete", "line", "truncate", "repeat"]))
    at = draw(st.integers(0, len(data)))
    if kind == "replace":
        new = data[:at] + draw(_CHUNK) + data[at + 1:]
    elif kind == "insert":
        new = data[:at] + draw(_CHUNK) + data[at:]
    elif kind == "delete":
        new = data[:at] + data[at + draw(st.integers(1, 20)):]
    elif kind == "line":  # a random line, at a line boundary
        lines = data.split(b"\n")
        k = draw(st.integers(0, len(lines)))
        new = b"\n".join(lines[:k] + [draw(_CHUNK).replace(b"\n", b"")] + lines[k:])
    elif kind == "truncate":
        new = data[:at]
    else:  # one existing line twice
        lines = data.rstrip(b"\n").split(b"\n")
        k = draw(st.integers(0, len(lines) - 1))
        new = b"\n".join(lines[:k + 1] + [lines[k]] + lines[k + 1:]) + b"\n"
    return new, kind


def _lines(raw):
    """The file's lines as the loaders define them: CRLF -> LF, trailing newlines dropped."""
    return raw.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")


def _check_movielens(ml, files):
    """A loaded ml-100k agrees with a plain reading of its files."""
    info = dict((k.decode(), int(v)) for v, k in (line.split() for line in _lines(files["u.info"])))
    rows = [line.split(b"\t") for line in _lines(files["u.data"])]
    users = sorted(int(line.split(b"|")[0]) for line in _lines(files["u.user"]))
    items = sorted(int(line.split(b"|")[0]) for line in _lines(files["u.item"]))
    r = ml.ratings
    assert (len(r), ml.num_users, ml.num_items) == (info["ratings"], info["users"], info["items"])
    assert r[["orig_user_id", "orig_item_id", "rating", "timestamp"]].to_numpy().tolist() == [
        [int(x) for x in row] for row in rows]
    assert ml.users["orig_user_id"].tolist() == users
    assert ml.items["orig_item_id"].tolist() == items
    assert r["user_id"].between(0, ml.num_users - 1).all()
    assert r["item_id"].between(0, ml.num_items - 1).all()
    assert np.array_equal(ml.users["orig_user_id"].to_numpy()[r["user_id"]], r["orig_user_id"])
    assert np.array_equal(ml.items["orig_item_id"].to_numpy()[r["item_id"]], r["orig_item_id"])
    assert r["rating"].between(1, 5).all()
    assert not r.duplicated(["user_id", "item_id"]).any()


@FUZZ
@given(data=st.data(), name=st.sampled_from(sorted(ML100K)))
def test_movielens_corruptions_load_correctly_or_name_the_file(tmp_path, data, name):
    new, _ = data.draw(corruption(ML100K[name]), label="corruption")
    files = {**ML100K, name: new}
    root = tmp_path / str(next(_runs))
    (root / "ml-100k").mkdir(parents=True)
    for file, content in files.items():
        (root / "ml-100k" / file).write_bytes(content)
    try:
        ml = load_movielens("ml-100k", root)
    except DatasetError as e:
        event("DatasetError")
        # Named: the corrupted file itself, or the one that no longer agrees with it
        # (u.data rating a user that u.user lost).
        assert name in str(e) or (name in ("u.user", "u.item") and "u.data" in str(e)), e
        return
    event("loaded")
    _check_movielens(ml, files)


SUMMARY = ("Legitimate\r\n----------\r\n- Owner: farmer-d\r\n- Total number: {ham} emails\r\n"
           "\r\n\r\nSpam\r\n----\r\n- Owner: GP\r\n- Total number: {spam} emails\r\n\r\n"
           "Total number of emails (legitimate + spam): 5975\r\n")
HAM = {"0001.1999-12-10.farmer.ham.txt": b"Subject: meeting\r\nsee you at 10\r\n",
       "0003.1999-12-14.farmer.ham.txt": b"Subject: lunch\nold\rmac line end\n",
       "0004.1999-12-15.farmer.ham.txt": b"Subject: re: lunch\n\nok\n"}
SPAM = {"0002.2003-12-18.GP.spam.txt": b"Subject: caf\xe9 deals\r\ncheap\r\n",
        "0005.2003-12-19.GP.spam.txt": b"Subject: win\nmoney now\n"}


def _mailbox():
    files = {f"enron1/ham/{k}": v for k, v in HAM.items()}
    files.update({f"enron1/spam/{k}": v for k, v in SPAM.items()})
    files["enron1/Summary.txt"] = SUMMARY.format(ham=len(HAM), spam=len(SPAM)).encode()
    return files


_TOTAL = re.compile(rb"^\s*-?\s*Total number:\s*(\d+)\s*emails?\s*$", re.I)


def _stated(summary):
    """{'ham': N, 'spam': M}: the first 'Total number' after each section header."""
    stated, section = {}, None
    for line in summary.splitlines():
        key = line.strip().lower()
        if key in (b"legitimate", b"spam"):
            section = "ham" if key == b"legitimate" else "spam"
        elif (m := _TOTAL.match(line)) and section and section not in stated:
            stated[section] = int(m.group(1))
    return stated


def _decode(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _check_corpus(corpus, files):
    """A loaded mailbox agrees with a plain reading of its files and its Summary.txt."""
    emails = sorted((rel.split("/")[1], rel.split("/")[2], data) for rel, data in files.items()
                    if rel.count("/") == 2 and rel.endswith(".txt"))
    assert corpus.files == [f"enron1/{cls}/{name}" for cls, name, _ in emails]
    assert corpus.labels.tolist() == [int(cls == "spam") for cls, _, _ in emails]
    assert corpus.texts == [_decode(data) for _, _, data in emails]
    stated = _stated(files["enron1/Summary.txt"])
    for cls in ("ham", "spam"):
        mine = [(name, data) for c, name, data in emails if c == cls]
        lost = stated[cls] - len(mine) + sum(not data.strip() for _, data in mine)
        assert 0 < len(mine) <= stated[cls] and lost <= SHORTFALL_TOLERANCE * stated[cls]
        tags = {name[:-4].rsplit(".", 1)[-1] for name, _ in mine} & {"ham", "spam"}
        assert tags <= {cls}


@st.composite
def mailbox_corruption(draw):
    """(files, the path changed or None, what was done) for one random edit of a mailbox."""
    files = _mailbox()
    rel = draw(st.sampled_from(sorted(files)))
    kind = draw(st.sampled_from(["bytes", "bytes", "empty", "rename", "remove", "extra"]))
    if kind == "bytes":
        files[rel], _ = draw(corruption(files[rel]))
    elif kind == "empty":
        files[rel] = draw(st.sampled_from([b"", b"\r\n", b"  \n"]))
    elif kind == "rename" and rel.count("/") == 2:
        cls = draw(st.sampled_from(["ham", "spam", "txt", "x"]))
        new = rel.rsplit(".", 2)[0] + f".{cls}.txt"
        files[new] = files.pop(rel)
        rel = new
    elif kind == "remove":
        del files[rel]
    else:
        rel = f"enron1/{draw(st.sampled_from(['ham', 'spam']))}/0009.2005-01-01.x.spam.txt"
        files[rel] = b"Subject: extra\n"
    return files, rel, kind


def _write(root, files):
    for rel, data in files.items():
        path = root / "enron-spam" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@FUZZ
@given(case=mailbox_corruption())
def test_enron_corruptions_load_correctly_or_name_the_file(tmp_path, case):
    files, rel, _ = case
    root = tmp_path / str(next(_runs))
    _write(root, files)
    try:
        corpus = load_enron_spam(root, folders=("enron1",))
    except DatasetError as e:
        event("DatasetError")
        # Named: Summary.txt, or the class folder (enron1/ham...) whose emails disagree.
        where = "Summary.txt" if rel.endswith("Summary.txt") else "/".join(rel.split("/")[:2])
        assert where in str(e), e
        return
    event("loaded")
    _check_corpus(corpus, files)


@FUZZ
@given(data=st.data())
def test_enron_archive_corruptions_load_correctly_or_name_the_archive(tmp_path, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, content in sorted(_mailbox().items()):
            info = tarfile.TarInfo(rel)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    new, _ = data.draw(corruption(buf.getvalue()), label="corruption")
    root = tmp_path / str(next(_runs))
    (root / "enron-spam").mkdir(parents=True)
    (root / "enron-spam" / "enron1.tar.gz").write_bytes(new)
    try:
        corpus = load_enron_spam(root, folders=("enron1",))
    except DatasetError as e:
        event("DatasetError")
        assert "enron1" in str(e), e
        return
    event("loaded")
    # A corruption the gzip CRC let through could only be one that changed nothing.
    _check_corpus(corpus, _mailbox())
