"""Enron-Spam, preprocessed (Metsis, Androutsopoulos & Paliouras, CEAS 2006): six mailboxes.

Each mailbox ``enronN`` is one owner's ham plus spam from a spam trap, as
``enronN/ham/*.txt``, ``enronN/spam/*.txt`` and ``enronN/Summary.txt``; the
official archives are ``enronN.tar.gz`` holding the same paths.
"""

import codecs
import os
import re
import tarfile
import zlib
from pathlib import Path

import numpy as np

from . import paths
from .paths import DatasetError
from .types import SpamCorpus

__all__ = ["load_enron_spam", "FOLDERS", "CLASSES", "SHORTFALL_TOLERANCE", "IGNORE"]

NAME = "enron-spam"
FOLDERS = tuple(f"enron{i}" for i in range(1, 7))
CLASSES = ("ham", "spam")  # sorted folder names; the label is the position (1 = spam)
SHORTFALL_TOLERANCE = 0.01
"""A class folder may hold up to this fraction fewer emails than Summary.txt states."""
SYNTHETIC_SIZE = 33_715
"""Emails in the stand-in returned under ``MINIGRAD_DATA=synthetic`` (the real corpus' count)."""
IGNORE = "ignore"
"""``encoding_fallback`` value: decode UTF-8, dropping invalid bytes (the book's way)."""

# Summary.txt: a 'Legitimate' and a 'Spam' section, each with '- Total number: N emails'.
_SECTIONS = {"legitimate": "ham", "spam": "spam"}
_TOTAL = re.compile(r"^\s*-?\s*Total number:\s*(\d+)\s*emails?\s*$", re.I)


def load_enron_spam(root=None, folders=FOLDERS, encoding_fallback="latin-1"):
    """All emails of the given mailboxes, as a ``SpamCorpus`` (label 1 = spam).

    Reads ``<root>/enron-spam/enronN/`` for each folder, or, when that folder is
    absent, the archive ``<root>/enron-spam/enronN.tar.gz`` straight from the
    gzip stream (nothing is extracted to disk). ``root`` defaults to
    ``$MINIGRAD_DATA`` or ``<repo>/data``; ``MINIGRAD_DATA=synthetic`` returns the
    synthetic stand-in instead, after printing a banner.

    Order: mailboxes in ``folders`` order; within one, ham then spam; files sorted
    by name. ``files`` holds 'enronN/ham/NAME.txt' for each email, ``owners`` the
    mailbox. Line ends CRLF and lone CR become LF. Text is decoded as UTF-8; a
    file that is not valid UTF-8 is decoded with ``encoding_fallback`` (latin-1
    maps every byte, so it never fails; ``"ignore"`` decodes UTF-8 and *drops*
    the invalid bytes, which is what the book's ``codecs.open(...,
    errors="ignore")`` does) and counted in ``num_decode_fallbacks`` and ``notes``.
    With ``encoding_fallback=None`` such a file is a DatasetError
    naming it and the offending byte offset.

    Counts are checked against each Summary.txt ('Total number: N emails' in its
    'Legitimate' and 'Spam' sections; the final 'Total number of emails
    (legitimate + spam)' line is ignored: enron1's says 5975 for 3672 + 1500).
    Rule: a class folder may hold *fewer* emails than stated by at most
    ``SHORTFALL_TOLERANCE`` (1%) of the stated count; such a shortfall is recorded
    in ``notes`` (our enron4/spam has 4499 of 4500). A larger shortfall, an empty
    or absent ham/ or spam/, *more* emails than stated, or a missing Summary.txt
    is a DatasetError naming the folder and both counts. An empty email (0 bytes or
    only white space; the published corpus has none) counts as lost under the same
    tolerance, is kept as an empty text and is named in ``notes``. An email named as
    the other class ('....spam.txt' in ham/) is a DatasetError naming it. Why: a copy
    that lost an email or two still teaches the same lesson, while a bigger gap means
    a truncated download, extra files mean something foreign mixed in, and a name
    that contradicts its folder means a wrong label.
    ``source`` is 'folders', 'archives', or 'folders+archives' when both were read.
    """
    root = paths.data_root(root)
    if root == paths.SYNTHETIC:
        from .synthetic import synthetic_spam  # lazy: only the stand-in needs it

        print(paths.synthetic_banner("Enron-Spam"))
        return synthetic_spam(num_emails=SYNTHETIC_SIZE)  # Enron-sized, so notebooks run

    folders = _check_folders(folders)
    if encoding_fallback not in (None, IGNORE):
        codecs.lookup(encoding_fallback)  # an unknown codec fails here, not mid-way
    base = Path(root) / NAME
    sources = _locate(base, folders)

    texts, labels, owners, files, notes = [], [], [], [], []
    fallbacks = []
    for folder, path, is_archive in sources:
        if is_archive:
            summary, members = _read_archive(path, folder)
        else:
            summary, members = _read_folder(path, folder)
        notes += _check_counts(folder, path, summary, members)
        for label, cls in enumerate(CLASSES):
            for name, data in members[cls]:
                rel = f"{folder}/{cls}/{name}"
                text, fell_back = _decode(data, rel, path, encoding_fallback)
                if fell_back:
                    fallbacks.append(rel)
                texts.append(text)
                labels.append(label)
                owners.append(folder)
                files.append(rel)

    if fallbacks:
        how = ("decoded as UTF-8 with the invalid bytes dropped (the book's errors='ignore')"
               if encoding_fallback == IGNORE else f"decoded as {encoding_fallback}")
        notes.append(f"{len(fallbacks)} of {len(texts)} files are not valid UTF-8 and were "
                     f"{how} (first: {fallbacks[0]})")
    kinds = {is_archive for _, _, is_archive in sources}
    source = "folders+archives" if len(kinds) == 2 else "archives" if True in kinds else "folders"
    return SpamCorpus(texts=texts, labels=np.array(labels, dtype=np.int64),
                      owners=np.array(owners, dtype=str), files=files, source=source,
                      num_decode_fallbacks=len(fallbacks), notes=notes)


def _check_folders(folders):
    if isinstance(folders, str):
        folders = (folders,)
    folders = tuple(folders)
    if not folders:
        raise ValueError("folders is empty; pass e.g. ('enron1', 'enron2')")
    if len(set(folders)) != len(folders):
        raise ValueError(f"folders has repeats: {folders}")
    for f in folders:
        if not isinstance(f, str) or not f or "/" in f or "\\" in f or f.startswith("."):
            raise ValueError(f"folders must be plain folder names like 'enron1', got {f!r}")
    return folders


def _locate(base, folders):
    """[(folder, path, is_archive)]: the folder itself, else its .tar.gz, else a DatasetError."""
    sources, missing = [], []
    for folder in folders:
        if (base / folder).is_dir():
            sources.append((folder, base / folder, False))
        elif (base / f"{folder}.tar.gz").is_file():
            sources.append((folder, base / f"{folder}.tar.gz", True))
        else:
            missing.append(folder)
    if missing:
        where = "folder does not exist" if not base.is_dir() else "mailboxes are missing"
        expected = ", ".join(f"{f}/{{ham/,spam/,Summary.txt}}" for f in folders)
        raise DatasetError(
            f"{NAME}: {where} in {base}: expected {expected} (or the archive enronN.tar.gz "
            f"in place of a folder); missing {', '.join(missing)} (neither folder nor "
            f".tar.gz). Get it with `{paths.DOWNLOAD_HINT.format(name=NAME)}` or point "
            f"MINIGRAD_DATA at a folder that holds {NAME}/ (see data/README.md). "
            f"For synthetic stand-ins, set MINIGRAD_DATA=synthetic."
        )
    return sources


def _is_email(name):
    return name.endswith(".txt") and not name.startswith(".")


def _read_folder(path, folder):
    """(Summary.txt bytes or None, {cls: [(name, bytes)] sorted by name})."""
    summary_path = path / "Summary.txt"
    summary = summary_path.read_bytes() if summary_path.is_file() else None
    members = {}
    for cls in CLASSES:
        cls_dir = path / cls
        if not cls_dir.is_dir():
            raise DatasetError(f"{folder}/{cls}/ is missing in {path}; expected a folder of "
                               f"emails there. Get a fresh copy with "
                               f"`{paths.DOWNLOAD_HINT.format(name=NAME)}`.")
        with os.scandir(cls_dir) as it:
            entries = sorted((e.name, e.path) for e in it if _is_email(e.name) and e.is_file())
        emails = []
        for name, file_path in entries:
            with open(file_path, "rb") as f:
                emails.append((name, f.read()))
        members[cls] = emails
    return summary, members


def _read_archive(path, folder):
    """Like ``_read_folder``, streaming the members of ``enronN.tar.gz`` in memory.

    Members other than 'enronN/Summary.txt' and 'enronN/{ham,spam}/*.txt' are ignored.
    """
    summary, found = None, {cls: {} for cls in CLASSES}
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = member.name
                while name.startswith("./"):
                    name = name[2:]
                parts = name.split("/")
                if parts == [folder, "Summary.txt"]:
                    summary = tar.extractfile(member).read()
                elif (len(parts) == 3 and parts[0] == folder and parts[1] in found
                      and _is_email(parts[2])):
                    found[parts[1]][parts[2]] = tar.extractfile(member).read()
    # TypeError: the stream reader's answer to a truncated gzip header (CPython tarfile).
    except (tarfile.TarError, EOFError, OSError, zlib.error, TypeError) as err:
        raise DatasetError(f"{path}: not a readable .tar.gz archive ({err}). Get a fresh "
                           f"copy with `{paths.DOWNLOAD_HINT.format(name=NAME)}`.") from err
    members = {cls: sorted(found[cls].items()) for cls in CLASSES}
    return summary, members


def _parse_summary(summary, where):
    """{'ham': N, 'spam': M} from the 'Total number: N emails' line of each section."""
    expected, section = {}, None
    for line in summary.decode("utf-8", errors="replace").splitlines():
        key = line.strip().lower()
        if key in _SECTIONS:
            section = _SECTIONS[key]
            continue
        match = _TOTAL.match(line)
        if match and section is not None and section not in expected:
            expected[section] = int(match.group(1))
    absent = [s for s in ("Legitimate", "Spam") if _SECTIONS[s.lower()] not in expected]
    if absent:
        raise DatasetError(f"{where}: no 'Total number: N emails' line in its "
                           f"{' and '.join(absent)} section(s); cannot check the counts")
    return expected


def _check_counts(folder, path, summary, members):
    """Notes on tolerated shortfalls and empty emails; DatasetError for anything else amiss.

    An email whose name says the other class (``....spam.txt`` in ham/) is an error: its
    label would be wrong. An empty email (no bytes, or only white space) counts as lost.
    """
    if summary is None:
        raise DatasetError(f"{folder}: Summary.txt is missing in {path}; it states the "
                           f"ham/spam counts this loader checks. Get a fresh copy with "
                           f"`{paths.DOWNLOAD_HINT.format(name=NAME)}`.")
    _check_names(folder, path, members)
    expected = _parse_summary(summary, f"{folder}/Summary.txt in {path}")
    notes = []
    for cls in CLASSES:
        found, stated = len(members[cls]), expected[cls]
        short = stated - found
        empty = [name for name, data in members[cls] if not data.strip()]
        if short == 0 and not empty:
            continue
        head = f"{folder}/{cls}: {found} files, Summary.txt says {stated}"
        if found == 0:
            raise DatasetError(f"{head}: the folder has no emails (in {path})")
        if short < 0:
            raise DatasetError(f"{head} ({-short} more than stated; in {path})")
        lost = f"{short} missing" if short else ""
        if empty:
            lost += ("; " if lost else "") + (f"{len(empty)} empty: "
                                              f"{_name_some(folder, cls, empty)}")
        if short + len(empty) > SHORTFALL_TOLERANCE * stated:
            raise DatasetError(f"{head} ({lost}, more than the {SHORTFALL_TOLERANCE:.0%} "
                               f"tolerated; in {path})")
        gaps = _gaps(members, expected) if short else ""
        kept = "; the empty ones are kept as empty texts" if empty else ""
        notes.append(f"{head} ({lost}{gaps}){kept}")
    return notes


_MAX_NAMED = 3


def _name_some(folder, cls, names):
    more = f" and {len(names) - _MAX_NAMED} more" if len(names) > _MAX_NAMED else ""
    return ", ".join(f"{folder}/{cls}/{n}" for n in names[:_MAX_NAMED]) + more


def _check_names(folder, path, members):
    """DatasetError for an email named as the other class (Enron-Spam: NNNN.date.owner.CLS.txt).

    Names without a class tag before '.txt' are not checked.
    """
    for cls in CLASSES:
        wrong = [name for name, _ in members[cls]
                 if name[:-len(".txt")].rsplit(".", 1)[-1] in CLASSES
                 and name[:-len(".txt")].rsplit(".", 1)[-1] != cls]
        if wrong:
            other = CLASSES[1 - CLASSES.index(cls)]
            raise DatasetError(f"{folder}/{cls}/ (in {path}): {len(wrong)} file(s) named as "
                               f"{other} ('NNNN.date.owner.{other}.txt'): "
                               f"{_name_some(folder, cls, wrong)}; an email in {cls}/ would be "
                               f"labelled {cls}, so its name and folder must agree. Get a "
                               f"fresh copy with `{paths.DOWNLOAD_HINT.format(name=NAME)}`.")


def _gaps(members, expected):
    """'; no 3111 in the numbering 1..6000' when file names start with a running number."""
    try:
        numbers = {int(name.split(".", 1)[0]) for cls in CLASSES for name, _ in members[cls]}
    except ValueError:
        return ""
    total = expected["ham"] + expected["spam"]
    gaps = [n for n in range(1, total + 1) if n not in numbers]
    if not gaps or len(gaps) > 5:
        return ""
    return f"; no {', '.join(map(str, gaps))} in the numbering 1..{total}"


def _decode(data, rel, path, fallback):
    """(text with LF line ends, whether ``fallback`` was needed)."""
    try:
        text, fell_back = data.decode("utf-8"), False
    except UnicodeDecodeError as err:
        if fallback is None:
            raise DatasetError(f"{rel} (in {path}): byte offset {err.start} "
                               f"(0x{data[err.start]:02x}) is not valid UTF-8 and "
                               f"encoding_fallback=None; pass encoding_fallback='latin-1' "
                               f"to decode such files anyway") from None
        try:
            if fallback == IGNORE:  # the book's codecs.open(..., errors="ignore")
                text, fell_back = data.decode("utf-8", errors="ignore"), True
            else:
                text, fell_back = data.decode(fallback), True
        except UnicodeDecodeError as err2:
            raise DatasetError(f"{rel} (in {path}): byte offset {err2.start} is valid in "
                               f"neither UTF-8 nor {fallback}") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, fell_back
