"""Enron-Spam loader: tiny corpora in tmp_path (folders, .tar.gz), then the real data if present."""

import io
import os
import sys
import tarfile
import types
from pathlib import Path

import numpy as np
import pytest
from realdata import ENRON_ROOT, needs_enron

from minigrad.datasets.enron_spam import SHORTFALL_TOLERANCE, load_enron_spam
from minigrad.datasets.paths import DatasetError
from minigrad.datasets.text import Vocabulary, tokenize

SUMMARY = """Legitimate\r
----------\r
- Owner: farmer-d\r
- Total number: {ham} emails\r
- Date of first email: 1999-12-10\r
\r
\r
Spam\r
----\r
- Owner: GP\r
- Total number: {spam} emails\r
\r
Spam:Legitimate rate = 1:3\r
Total number of emails (legitimate + spam): 5975\r
"""  # the last line is wrong on purpose, as in the real enron1/Summary.txt

HAM = {"0001.1999-12-10.farmer.ham.txt": b"Subject: meeting\r\nsee you at 10\r\n",
       "0003.1999-12-14.farmer.ham.txt": b"Subject: lunch\nold\rmac line end\n"}
SPAM = {"0002.2003-12-18.GP.spam.txt": b"Subject: caf\xe9 deals\r\ncheap\r\n"}  # latin-1 byte


def mailbox_files(folder, ham=HAM, spam=SPAM, summary=None):
    """{relative path: bytes} for one mailbox; ``summary=False`` leaves Summary.txt out."""
    files = {f"{folder}/ham/{k}": v for k, v in ham.items()}
    files.update({f"{folder}/spam/{k}": v for k, v in spam.items()})
    if summary is None:
        summary = {"ham": len(ham), "spam": len(spam)}
    if summary is not False:
        files[f"{folder}/Summary.txt"] = SUMMARY.format(**summary).encode()
    return files


def write_folder(root, files):
    for rel, data in files.items():
        path = Path(root) / "enron-spam" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def write_archive(root, folder, files, extra=()):
    """enron-spam/<folder>.tar.gz with the members in reverse order plus directory entries."""
    target = Path(root) / "enron-spam" / f"{folder}.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for d in (folder, f"{folder}/ham", f"{folder}/spam"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for rel, data in [*reversed(list(files.items())), *extra]:
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return target


@pytest.fixture
def two_mailboxes(tmp_path):
    write_folder(tmp_path, mailbox_files("enron1"))
    write_folder(tmp_path, mailbox_files("enron2", ham={"0002.x.ham.txt": b"hi there\n"},
                                         spam={"0001.y.spam.txt": b"win now\n"}))
    return tmp_path


# --- tiny corpora -----------------------------------------------------------------------

def test_order_labels_owners_and_files(two_mailboxes):
    corpus = load_enron_spam(two_mailboxes, folders=("enron1", "enron2"))
    assert corpus.files == ["enron1/ham/0001.1999-12-10.farmer.ham.txt",
                            "enron1/ham/0003.1999-12-14.farmer.ham.txt",
                            "enron1/spam/0002.2003-12-18.GP.spam.txt",
                            "enron2/ham/0002.x.ham.txt",
                            "enron2/spam/0001.y.spam.txt"]
    np.testing.assert_array_equal(corpus.labels, [0, 0, 1, 0, 1])
    assert corpus.labels.dtype == np.int64
    assert corpus.owners.dtype.kind == "U"
    np.testing.assert_array_equal(corpus.owners, ["enron1"] * 3 + ["enron2"] * 2)
    assert corpus.source == "folders" and not corpus.synthetic
    assert corpus.texts[3] == "hi there\n"
    assert corpus.counts().loc["enron1"].tolist() == [2, 1, 3]


def test_folders_argument_sets_owner_order(two_mailboxes):
    corpus = load_enron_spam(two_mailboxes, folders=("enron2", "enron1"))
    assert list(corpus.owners) == ["enron2"] * 2 + ["enron1"] * 3
    assert load_enron_spam(two_mailboxes, folders="enron2").files[0] == "enron2/ham/0002.x.ham.txt"


def test_crlf_and_lone_cr_become_lf(two_mailboxes):
    corpus = load_enron_spam(two_mailboxes, folders=("enron1",))
    assert corpus.texts[0] == "Subject: meeting\nsee you at 10\n"
    assert corpus.texts[1] == "Subject: lunch\nold\nmac line end\n"
    assert not any("\r" in t for t in corpus.texts)


def test_latin1_file_is_decoded_by_fallback_and_counted(two_mailboxes):
    corpus = load_enron_spam(two_mailboxes, folders=("enron1",))
    assert corpus.texts[2] == "Subject: café deals\ncheap\n"
    assert corpus.num_decode_fallbacks == 1
    assert corpus.notes == ["1 of 3 files are not valid UTF-8 and were decoded as latin-1 "
                            "(first: enron1/spam/0002.2003-12-18.GP.spam.txt)"]


def test_no_fallback_is_an_error_naming_file_and_byte_offset(two_mailboxes):
    with pytest.raises(DatasetError, match=r"enron1/spam/0002\.2003-12-18\.GP\.spam\.txt .*"
                                           r"byte offset 12 \(0xe9\) is not valid UTF-8"):
        load_enron_spam(two_mailboxes, folders=("enron1",), encoding_fallback=None)


def test_valid_utf8_needs_no_fallback(tmp_path):
    write_folder(tmp_path, mailbox_files("enron1", spam={"1.spam.txt": "café".encode()}))
    corpus = load_enron_spam(tmp_path, folders=("enron1",), encoding_fallback=None)
    assert corpus.texts[-1] == "café" and corpus.num_decode_fallbacks == 0


def test_archive_gives_the_same_corpus_without_extracting(tmp_path):
    files = mailbox_files("enron1")
    write_folder(tmp_path / "a", files)
    archive = write_archive(tmp_path / "b", "enron1", files,
                            extra=[("enron1/ham/._0001.txt", b"\x00mac"),
                                   ("enron1/README", b"not an email")])
    from_folder = load_enron_spam(tmp_path / "a", folders=("enron1",))
    from_archive = load_enron_spam(tmp_path / "b", folders=("enron1",))
    assert from_archive.source == "archives"
    assert from_archive.files == from_folder.files
    assert from_archive.texts == from_folder.texts
    np.testing.assert_array_equal(from_archive.labels, from_folder.labels)
    assert from_archive.num_decode_fallbacks == 1
    assert os.listdir(archive.parent) == ["enron1.tar.gz"]  # nothing extracted


def test_archive_members_with_dot_slash_prefix(tmp_path):
    files = {f"./{k}": v for k, v in mailbox_files("enron1").items()}
    write_archive(tmp_path, "enron1", files)
    assert len(load_enron_spam(tmp_path, folders=("enron1",))) == 3


def test_folder_wins_over_archive_and_sources_can_mix(tmp_path):
    write_folder(tmp_path, mailbox_files("enron1"))
    write_archive(tmp_path, "enron1", mailbox_files("enron1", ham={"9.ham.txt": b"other"},
                                                    spam={"8.spam.txt": b"other"}))
    write_archive(tmp_path, "enron2", mailbox_files("enron2"))
    corpus = load_enron_spam(tmp_path, folders=("enron1", "enron2"))
    assert corpus.source == "folders+archives"
    assert corpus.files[0] == "enron1/ham/0001.1999-12-10.farmer.ham.txt"
    assert corpus.files[3] == "enron2/ham/0001.1999-12-10.farmer.ham.txt"
    assert corpus.num_decode_fallbacks == 2


def test_corrupt_archive_is_an_error(tmp_path):
    (tmp_path / "enron-spam").mkdir()
    (tmp_path / "enron-spam" / "enron1.tar.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(DatasetError, match=r"enron1\.tar\.gz: not a readable \.tar\.gz"):
        load_enron_spam(tmp_path, folders=("enron1",))


def test_files_that_are_not_emails_are_ignored(tmp_path):
    files = mailbox_files("enron1")
    files["enron1/ham/.DS_Store"] = b"\x00\x01"
    files["enron1/spam/notes.md"] = b"x"
    write_folder(tmp_path, files)
    assert len(load_enron_spam(tmp_path, folders=("enron1",))) == 3


def test_missing_folder_lists_expected_files_and_download_command(tmp_path):
    write_folder(tmp_path, mailbox_files("enron1"))
    with pytest.raises(DatasetError) as err:
        load_enron_spam(tmp_path)
    msg = str(err.value)
    assert "mailboxes are missing" in msg
    assert "missing enron2, enron3, enron4, enron5, enron6" in msg
    assert "enron1/{ham/,spam/,Summary.txt}" in msg and "enron6.tar.gz" not in msg
    assert "`python -m minigrad.datasets download enron-spam`" in msg
    assert "MINIGRAD_DATA=synthetic" in msg


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(DatasetError, match="enron-spam: folder does not exist"):
        load_enron_spam(tmp_path)


def test_missing_summary_is_an_error(tmp_path):
    write_folder(tmp_path, mailbox_files("enron1", summary=False))
    with pytest.raises(DatasetError, match="enron1: Summary.txt is missing"):
        load_enron_spam(tmp_path, folders=("enron1",))


def test_summary_without_counts_is_an_error(tmp_path):
    files = mailbox_files("enron1")
    files["enron1/Summary.txt"] = b"Legitimate\n- Total number: 2 emails\n"
    write_folder(tmp_path, files)
    with pytest.raises(DatasetError, match=r"no 'Total number: N emails' line in its Spam"):
        load_enron_spam(tmp_path, folders=("enron1",))


def test_empty_ham_folder_is_an_error(tmp_path):
    write_folder(tmp_path, mailbox_files("enron1", summary={"ham": 2, "spam": 1}, ham={}))
    (tmp_path / "enron-spam" / "enron1" / "ham").mkdir()
    with pytest.raises(DatasetError, match=r"enron1/ham: 0 files, Summary.txt says 2: "
                                           r"the folder has no emails"):
        load_enron_spam(tmp_path, folders=("enron1",))


def test_absent_spam_folder_is_an_error(tmp_path):
    write_folder(tmp_path, mailbox_files("enron1", summary={"ham": 2, "spam": 1}, spam={}))
    with pytest.raises(DatasetError, match=r"enron1/spam/ is missing"):
        load_enron_spam(tmp_path, folders=("enron1",))


def test_shortfall_beyond_tolerance_names_folder_and_both_counts(tmp_path):
    write_folder(tmp_path, mailbox_files("enron1", summary={"ham": 3, "spam": 1}))
    with pytest.raises(DatasetError, match=r"enron1/ham: 2 files, Summary.txt says 3 "
                                           r"\(1 missing, more than the 1% tolerated"):
        load_enron_spam(tmp_path, folders=("enron1",))


def test_more_files_than_stated_is_an_error(tmp_path):
    write_folder(tmp_path, mailbox_files("enron1", summary={"ham": 2, "spam": 0}))
    with pytest.raises(DatasetError, match=r"enron1/spam: 1 files, Summary.txt says 0 "
                                           r"\(1 more than stated"):
        load_enron_spam(tmp_path, folders=("enron1",))


@pytest.mark.parametrize("kind", ["folder", "archive"])
def test_small_shortfall_is_a_note_like_enron4(tmp_path, kind):
    # 100 spam stated, number 0042 absent: 1 missing <= 1% of 100, so a note, not an error.
    spam = {f"{i:04d}.2004-01-01.GP.spam.txt": b"buy\n" for i in range(2, 102) if i != 42}
    files = mailbox_files("enron4", ham={"0001.2001-01-01.w.ham.txt": b"hello\n"}, spam=spam,
                          summary={"ham": 1, "spam": 100})
    if kind == "folder":
        write_folder(tmp_path, files)
    else:
        write_archive(tmp_path, "enron4", files)
    corpus = load_enron_spam(tmp_path, folders=("enron4",))
    assert len(corpus) == 100
    assert corpus.notes == ["enron4/spam: 99 files, Summary.txt says 100 "
                            "(1 missing; no 42 in the numbering 1..101)"]
    assert SHORTFALL_TOLERANCE == 0.01


def _hundred_spam(**replace):
    spam = {f"{i:04d}.2004-01-01.GP.spam.txt": b"Subject: buy\n" for i in range(2, 102)}
    spam.update(replace)
    return mailbox_files("enron4", ham={"0001.2001-01-01.w.ham.txt": b"hello\n"}, spam=spam,
                         summary={"ham": 1, "spam": 100})


@pytest.mark.parametrize("kind", ["folder", "archive"])
def test_empty_email_is_kept_and_named_in_a_note(tmp_path, kind):
    files = _hundred_spam(**{"0042.2004-01-01.GP.spam.txt": b""})
    if kind == "folder":
        write_folder(tmp_path, files)
    else:
        write_archive(tmp_path, "enron4", files)
    corpus = load_enron_spam(tmp_path, folders=("enron4",))
    assert len(corpus) == 101 and corpus.texts[corpus.files.index(
        "enron4/spam/0042.2004-01-01.GP.spam.txt")] == ""
    assert corpus.notes == ["enron4/spam: 100 files, Summary.txt says 100 (1 empty: "
                            "enron4/spam/0042.2004-01-01.GP.spam.txt); the empty ones are "
                            "kept as empty texts"]


def test_empty_emails_and_missing_ones_beyond_tolerance_are_an_error(tmp_path):
    # 1 missing + 1 white-space-only = 2 lost of 100 stated: more than 1%.
    files = _hundred_spam(**{"0042.2004-01-01.GP.spam.txt": b" \r\n"})
    del files["enron4/spam/0043.2004-01-01.GP.spam.txt"]
    write_folder(tmp_path, files)
    with pytest.raises(DatasetError, match=r"enron4/spam: 99 files, Summary.txt says 100 "
                                           r"\(1 missing; 1 empty: enron4/spam/0042\.2004-01-01"
                                           r"\.GP\.spam\.txt, more than the 1% tolerated"):
        load_enron_spam(tmp_path, folders=("enron4",))


@pytest.mark.parametrize("kind", ["folder", "archive"])
def test_email_named_as_the_other_class_is_an_error(tmp_path, kind):
    ham = {"0001.1999-12-10.farmer.ham.txt": b"hi\n", "0004.2004-01-01.GP.spam.txt": b"buy\n"}
    files = mailbox_files("enron1", ham=ham)
    if kind == "folder":
        write_folder(tmp_path, files)
    else:
        write_archive(tmp_path, "enron1", files)
    with pytest.raises(DatasetError, match=r"enron1/ham/ \(in .*\): 1 file\(s\) named as spam "
                                           r".*enron1/ham/0004\.2004-01-01\.GP\.spam\.txt"):
        load_enron_spam(tmp_path, folders=("enron1",))


def test_names_without_a_class_tag_are_not_checked(tmp_path):
    write_folder(tmp_path, mailbox_files("enron1", ham={"a.txt": b"hi\n"},
                                         spam={"0002.x.spam.txt": b"buy\n"}))
    assert load_enron_spam(tmp_path, folders=("enron1",)).labels.tolist() == [0, 1]


@needs_enron
def test_real_corpus_has_no_empty_or_misnamed_emails():
    corpus = load_enron_spam(ENRON_ROOT)
    assert not any("empty" in note for note in corpus.notes)
    assert sum(not t.strip() for t in corpus.texts) == 0
    assert all(f.split("/")[1] == f[:-len(".txt")].rsplit(".", 1)[-1] for f in corpus.files)


def test_env_variable_points_at_the_data(two_mailboxes, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(two_mailboxes))
    assert len(load_enron_spam(folders=("enron1", "enron2"))) == 5


def test_synthetic_prints_banner_and_returns_stand_in(monkeypatch, capsys):
    # A stand-in for minigrad.datasets.synthetic, so this test does not depend on it.
    stand_in = object()
    asked = {}
    fake = types.ModuleType("minigrad.datasets.synthetic")

    def fake_synthetic_spam(num_emails):
        asked["num_emails"] = num_emails
        return stand_in

    fake.synthetic_spam = fake_synthetic_spam
    monkeypatch.setitem(sys.modules, "minigrad.datasets.synthetic", fake)
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")
    assert load_enron_spam() is stand_in
    assert asked["num_emails"] == 33_715  # corpus-sized, so the notebooks' recipes work
    assert "*** SYNTHETIC DATA: Enron-Spam is a generated stand-in" in capsys.readouterr().out


@pytest.mark.parametrize("folders", [(), ("enron1", "enron1"), ("../enron1",)])
def test_bad_folders_argument(tmp_path, folders):
    with pytest.raises(ValueError):
        load_enron_spam(tmp_path, folders=folders)


def test_unknown_fallback_codec_fails_early(two_mailboxes):
    with pytest.raises(LookupError):
        load_enron_spam(two_mailboxes, folders=("enron1",), encoding_fallback="no-such-codec")


# --- the real corpus (shared data, never in git) ----------------------------------------


EXPECTED_COUNTS = {"enron1": (3672, 1500), "enron2": (4361, 1496), "enron3": (4012, 1500),
                   "enron4": (1500, 4499), "enron5": (1500, 3675), "enron6": (1500, 4500)}
NUM_DECODE_FALLBACKS = 1078  # measured: files that are not valid UTF-8
ENRON1_VOCAB_SIZE = 50_665  # measured: distinct lowercased words + '<pad>', '<unk>'
ENRON1_DROPPED = 53  # measured: enron1 emails with >= 500 distinct words (the book's rule)


@pytest.fixture(scope="module")
def real_corpus():
    """The whole corpus, loaded once for all real-data tests (about 2 s warm, 6 s cold)."""
    return load_enron_spam(ENRON_ROOT)


@needs_enron
def test_real_counts_per_owner(real_corpus):
    counts = real_corpus.counts()
    assert list(counts.index) == list(EXPECTED_COUNTS)
    assert {k: (int(r.ham), int(r.spam)) for k, r in counts.iterrows()} == EXPECTED_COUNTS
    assert len(real_corpus) == 33_715
    assert real_corpus.source == "folders"


@needs_enron
def test_real_notes_report_missing_enron4_spam_and_fallbacks(real_corpus):
    assert real_corpus.num_decode_fallbacks == NUM_DECODE_FALLBACKS
    assert real_corpus.notes == [
        "enron4/spam: 4499 files, Summary.txt says 4500 (1 missing; no 3111 in the numbering "
        "1..6000)",
        f"{NUM_DECODE_FALLBACKS} of 33715 files are not valid UTF-8 and were decoded as "
        "latin-1 (first: enron1/spam/0754.2004-04-01.GP.spam.txt)"]


@needs_enron
def test_real_texts_have_no_carriage_returns(real_corpus):
    assert not any("\r" in t for t in real_corpus.texts)


@needs_enron
def test_real_files_are_ordered_and_match_disk(real_corpus):
    files = real_corpus.files
    assert len(set(files)) == len(files)
    assert files[0] == "enron1/ham/0001.1999-12-10.farmer.ham.txt"
    assert files[-1].startswith("enron6/spam/")
    assert files == sorted(files, key=lambda f: (f.split("/")[0][5:].zfill(3), f))
    # enron1 keeps its CRLF line ends on disk; the loader returns LF.
    raw = (ENRON_ROOT / "enron-spam" / files[0]).read_bytes()
    assert b"\r\n" in raw
    assert real_corpus.texts[0] == raw.decode("utf-8").replace("\r\n", "\n")


@needs_enron
def test_real_enron1_summary_total_line_is_wrong_and_ignored():
    summary = (ENRON_ROOT / "enron-spam" / "enron1" / "Summary.txt").read_text()
    assert "Total number of emails (legitimate + spam): 5975" in summary  # yet 3672 + 1500


@needs_enron
def test_real_enron1_vocabulary(real_corpus):
    rows = np.flatnonzero(real_corpus.owners == "enron1")
    token_lists = [tokenize(real_corpus.texts[i], unique=True) for i in rows]
    vocab = Vocabulary.build(token_lists)
    batch = vocab.to_indices(token_lists, max_len=500, long="drop")
    assert vocab.words[2] == "subject:"  # every email starts with 'Subject:'
    assert len(vocab) == ENRON1_VOCAB_SIZE
    assert batch.num_dropped == ENRON1_DROPPED


def test_ignore_fallback_drops_invalid_bytes_like_the_book(tmp_path):
    root = tmp_path / "data"
    folder = root / "enron-spam" / "enron1"
    for cls in ("ham", "spam"):
        (folder / cls).mkdir(parents=True)
    (folder / "ham" / "0001.2000-01-01.x.ham.txt").write_bytes(b"caf\xe9 ok\r\n")
    (folder / "spam" / "0002.2000-01-01.x.spam.txt").write_bytes(b"buy now\n")
    (folder / "Summary.txt").write_text(
        "Legitimate\n----------\n- Total number: 1 emails\n\n"
        "Spam\n----\n- Total number: 1 emails\n")

    corpus = load_enron_spam(root, folders=("enron1",), encoding_fallback="ignore")

    assert corpus.texts[0] == "caf ok\n"
    assert corpus.num_decode_fallbacks == 1
    assert "invalid bytes dropped" in corpus.notes[-1]
