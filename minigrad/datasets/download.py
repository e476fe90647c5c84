"""Download the real datasets from their publishers, verified, into the data folder.

    python -m minigrad.datasets download ml-100k ml-1m enron-spam [--root DIR] [--force]

Each archive is streamed to a temporary file next to its destination, checked
(size and SHA-256 where the publisher's are known, the archive's own counts
otherwise) *before* it is unpacked, unpacked into a temporary folder, and only
then renamed into place. A failure at any step leaves nothing behind; a run that
was killed (no chance to clean up) leaves hidden ``.<archive>.<pid>-*.part`` /
``.tmp`` / ``.old`` entries, which the next run removes once that process is gone
(an ``.old`` folder is the previous copy of a ``--force`` run: it is put back if the
new one never arrived). A dataset already in place is not trusted by its file names:
it is checked against the committed digests (``checksums.verify``) before it is
skipped.
"""

import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import checksums as _checksums
from .paths import SYNTHETIC, DatasetError, data_root

__all__ = ["Archive", "REGISTRY", "BASE_URL_ENV", "download", "archive_url", "fetch",
           "safe_extract", "check_enron_counts"]

BASE_URL_ENV = "MINIGRAD_DOWNLOAD_BASE_URL"
"""If set, every archive is fetched from ``$MINIGRAD_DOWNLOAD_BASE_URL/<file name>``
instead of its publisher (a mirror, or a local server in the tests)."""

CHUNK_SIZE = 1 << 16
TIMEOUT = 60  # seconds without a byte from the server before we give up
STALE_AFTER = 3600
"""Seconds after which a temporary entry whose process cannot be asked about (Windows, or
a name written by an older version without the process id) is taken as abandoned."""

MOVIELENS_NOTE = ("MovieLens licence: the data may not be redistributed without GroupLens' "
                  "permission. Never commit it (data/ is git-ignored) and do not share it.")
ENRON_NOTE = ("Enron-Spam: cite Metsis, Androutsopoulos & Paliouras, "
              "'Spam Filtering with Naive Bayes - Which Naive Bayes?', CEAS 2006.")


@dataclass(frozen=True)
class Archive:
    """One published archive and where its contents go under the data root."""

    url: str
    size: int | None        # bytes, None when the publisher gives none
    sha256: str | None      # hex digest, None when the publisher gives none
    dest: str               # folder under the data root, e.g. "enron-spam/enron1"
    top: str                # the folder inside the archive that becomes ``dest``
    expect: tuple[str, ...]  # paths inside ``top`` that must exist
    validate: Callable[["Archive", Path], None] | None = None  # extra check on the unpacked top

    @property
    def filename(self):
        return self.url.rsplit("/", 1)[-1]


def check_enron_counts(archive, folder):
    """Check that ``folder/ham`` and ``folder/spam`` hold as many files as its Summary.txt says."""
    summary = folder / "Summary.txt"
    text = summary.read_text(encoding="latin-1")
    for section, sub in (("Legitimate", "ham"), ("Spam", "spam")):
        # The section header is a line of its own; its first "Total number: N emails" is the
        # count. The closing "Total number of emails (legitimate + spam)" line is not matched
        # (and is wrong in enron1: 5975 for 3672 + 1500).
        m = re.search(rf"^{section}\s*$.*?^- Total number:\s*(\d+)\s*emails", text,
                      re.MULTILINE | re.DOTALL)
        if m is None:
            raise DatasetError(f"{archive.url}: {archive.top}/Summary.txt has no "
                               f"'Total number: N emails' line in its '{section}' section")
        expected = int(m.group(1))
        got = sum(1 for p in (folder / sub).iterdir() if p.is_file())
        if got != expected:
            raise DatasetError(f"{archive.url}: {archive.top}/{sub}/ holds {got} files but "
                               f"Summary.txt says {expected} ({section}); the archive is "
                               f"incomplete or damaged")


_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
_AUEB = "http://www2.aueb.gr/users/ion/data/enron-spam/preprocessed/"

REGISTRY = {
    "ml-100k": [Archive(
        url=_GROUPLENS + "ml-100k.zip", size=4_924_029,
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        dest="ml-100k", top="ml-100k",
        expect=("README", "u.data", "u.item", "u.user", "u.genre", "u.occupation", "u.info"),
    )],
    "ml-1m": [Archive(
        url=_GROUPLENS + "ml-1m.zip", size=5_917_549,
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        dest="ml-1m", top="ml-1m",
        expect=("README", "movies.dat", "ratings.dat", "users.dat"),
    )],
    # No published checksums: each archive is checked against its own Summary.txt instead.
    "enron-spam": [Archive(
        url=f"{_AUEB}enron{i}.tar.gz", size=None, sha256=None,
        dest=f"enron-spam/enron{i}", top=f"enron{i}",
        expect=("Summary.txt", "ham", "spam"), validate=check_enron_counts,
    ) for i in range(1, 7)],
}
"""Dataset name -> the archives that make it up."""

NOTES = {"ml-100k": MOVIELENS_NOTE, "ml-1m": MOVIELENS_NOTE, "enron-spam": ENRON_NOTE}


def archive_url(archive, base_url=None):
    """The URL to fetch ``archive`` from: its publisher's, or ``base_url/<file name>``.

    ``base_url`` defaults to ``$MINIGRAD_DOWNLOAD_BASE_URL``.
    """
    base_url = base_url or os.environ.get(BASE_URL_ENV)
    if not base_url:
        return archive.url
    return base_url.rstrip("/") + "/" + archive.filename


class _Progress:
    """A one-line percentage on stderr, redrawn with ``\\r``."""

    def __init__(self, label, total, enabled):
        self.label, self.total, self.enabled = label, total, enabled
        self.shown = None

    def update(self, done):
        if not self.enabled:
            return
        if self.total:
            text = f"{100 * done // self.total:3d}% of {self.total / 1e6:.1f} MB"
        else:
            text = f"{done / 1e6:.1f} MB"
        if text != self.shown:
            self.shown = text
            sys.stderr.write(f"\r  {self.label}: {text}")
            sys.stderr.flush()

    def close(self):
        if self.enabled and self.shown is not None:
            sys.stderr.write("\n")
            sys.stderr.flush()


def fetch(url, path, *, size=None, sha256=None, progress=False):
    """Stream ``url`` into the file ``path``, then check its length, ``size`` and ``sha256``.

    Raises DatasetError naming the URL and what was expected vs got. The caller owns
    ``path`` and removes it on failure.
    """
    # A fresh opener per call, so proxy settings are read from the environment now.
    opener = urllib.request.build_opener()
    digest = hashlib.sha256()
    done = 0
    try:
        with opener.open(url, timeout=TIMEOUT) as response, open(path, "wb") as f:
            announced = response.headers.get("Content-Length")
            announced = int(announced) if announced and announced.isdigit() else None
            bar = _Progress(url.rsplit("/", 1)[-1], announced or size, progress)
            try:
                while chunk := response.read(CHUNK_SIZE):
                    f.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    bar.update(done)
            finally:
                bar.close()
    except urllib.error.HTTPError as e:
        raise DatasetError(f"{url}: HTTP error {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise DatasetError(f"{url}: could not connect ({e.reason})") from None
    except OSError as e:  # timeouts, resets, http.client.IncompleteRead, a full disk
        raise DatasetError(f"{url}: download failed after {done:,} bytes "
                           f"({type(e).__name__}: {e})") from None
    # urllib returns a short body without complaint when the connection drops early.
    if announced is not None and done != announced:
        raise DatasetError(f"{url}: truncated download: got {done:,} of the "
                           f"{announced:,} bytes the server announced")
    if size is not None and done != size:
        raise DatasetError(f"{url}: wrong size: expected {size:,} bytes, got {done:,}")
    actual = digest.hexdigest()
    if sha256 is not None and actual != sha256.lower():
        raise DatasetError(f"{url}: wrong SHA-256: expected {sha256}, got {actual}")
    return actual


def _check_member_name(source, name):
    """Refuse absolute paths and '..' in an archive member's name (path traversal)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise DatasetError(f"{source}: refusing unsafe member {name!r} "
                           f"(absolute path or '..'); the archive is not what was expected")


def safe_extract(path, folder, source=None):
    """Unpack the .zip or .tar(.gz) at ``path`` into ``folder`` after checking every member.

    ``source`` (default ``path``) names the archive in errors; a name ending in ``.zip``
    means a zip, anything else a tar. Members with absolute paths or '..' are refused,
    and so are tar links and devices.
    """
    source = str(source or path)
    try:
        if source.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    _check_member_name(source, name)
                zf.extractall(folder)  # checks each member's CRC
            return
        with tarfile.open(path, "r:*") as tf:
            members = tf.getmembers()  # reads to the end: a truncated archive fails here
            for m in members:
                _check_member_name(source, m.name)
                if not (m.isfile() or m.isdir()):
                    raise DatasetError(f"{source}: refusing member {m.name!r}: only regular "
                                       f"files and folders are expected, not links or devices")
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
                tf.extractall(folder, members=members, filter="data")
            else:
                tf.extractall(folder, members=members)
    except DatasetError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError,
            zlib.error) as e:
        raise DatasetError(f"{source}: bad archive, cannot unpack it "
                           f"({type(e).__name__}: {e})") from None


def _missing(folder, expect):
    return [name for name in expect if not (folder / name).exists()]


def _install(archive, root, *, force, base_url, progress):
    """Fetch, check, unpack and move one archive into ``root / archive.dest``."""
    dest = root / archive.dest
    url = archive_url(archive, base_url)
    parent = dest.parent
    created = [p for p in (parent, *parent.parents) if not p.exists()]
    part = unpacked = backup = None
    ok = False
    try:
        parent.mkdir(parents=True, exist_ok=True)
        # The process id in each temporary name lets a later run tell a killed run's
        # leftovers from a download still under way (see _clean_stale).
        pid = os.getpid()
        fd, part = tempfile.mkstemp(prefix=f".{archive.filename}.{pid}-", suffix=".part",
                                    dir=parent)
        os.close(fd)
        fetch(url, part, size=archive.size, sha256=archive.sha256, progress=progress)
        unpacked = tempfile.mkdtemp(prefix=f".{dest.name}.{pid}-", suffix=".tmp", dir=parent)
        safe_extract(part, unpacked, source=url)
        top = Path(unpacked) / archive.top
        if not top.is_dir():
            found = sorted(p.name for p in Path(unpacked).iterdir())
            raise DatasetError(f"{url}: bad archive: expected a top folder {archive.top}/, "
                               f"found {', '.join(found) or 'nothing'}")
        missing = _missing(top, archive.expect)
        if missing:
            raise DatasetError(f"{url}: bad archive: {archive.top}/ lacks "
                               f"{', '.join(missing)}")
        if archive.validate is not None:
            archive.validate(archive, top)
        if dest.exists():  # only with force: keep the old copy until the new one is in place
            backup = tempfile.mkdtemp(prefix=f".{dest.name}.{pid}-", suffix=".old", dir=parent)
            os.replace(dest, Path(backup) / dest.name)
        try:
            os.replace(top, dest)
        except OSError:
            if backup is not None:
                os.replace(Path(backup) / dest.name, dest)
            raise
        ok = True
    except OSError as e:
        raise DatasetError(f"{url}: file system error under {parent} "
                           f"({type(e).__name__}: {e})") from None
    finally:
        if part is not None and os.path.exists(part):
            os.remove(part)
        for tmp in (unpacked, backup):
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        if not ok:
            for p in created:  # innermost first; only folders we made and left empty
                try:
                    p.rmdir()
                except OSError:
                    break
    return dest


def _alive(pid):
    """True/False whether process ``pid`` runs; None when it cannot be asked (no pid, Windows)."""
    if pid is None or os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def _clean_stale(archive, dest):
    """Remove what killed runs left of ``archive`` beside ``dest``; the lines saying so.

    Entries of a process that still runs (another download under way) are left alone. A
    stale ``.old`` folder holds the copy a ``--force`` run moved aside: it is put back when
    ``dest`` is missing (the run died before the new copy was in place).
    """
    parent = dest.parent
    if not parent.is_dir():
        return []
    names = {"part": re.escape(archive.filename), "tmp": re.escape(dest.name),
             "old": re.escape(dest.name)}
    said = []
    for entry in sorted(parent.iterdir()):
        for kind, base in names.items():
            match = re.fullmatch(rf"\.{base}\.(?:(\d+)-)?[A-Za-z0-9_]+\.{kind}", entry.name)
            if match:
                break
        else:
            continue
        pid = int(match.group(1)) if match.group(1) else None
        alive = _alive(pid)
        try:
            age = time.time() - entry.lstat().st_mtime
        except FileNotFoundError:  # its own run just removed it
            continue
        if alive or (alive is None and age < STALE_AFTER):
            continue
        why = (f"process {pid} is gone" if alive is False
               else f"untouched for {age / 3600:.1f} h")
        try:
            line = (f"{archive.dest}: removed {entry.name}, left by an interrupted download "
                    f"({why})")
            if kind == "old" and not dest.exists() and (entry / dest.name).is_dir():
                os.replace(entry / dest.name, dest)
                line = (f"{archive.dest}: put back the previous copy from {entry.name}, left "
                        f"by an interrupted --force download ({why})")
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
        except OSError as e:  # not ours to force: say so and go on
            line = (f"{archive.dest}: could not remove {entry} ({type(e).__name__}: {e}), left "
                    f"by an interrupted download ({why}); remove it by hand")
        said.append(line)
    return said


def _checks_for(name, root, checksums):
    """(``checksums.verify`` results for dataset ``name``, the files read), or (None, why not)."""
    try:
        files = _checksums.checksum_files(name, checksums)
    except DatasetError as e:
        return None, str(e)
    return _checksums.verify(name, root, checksums=checksums), [p.name for p in files.values()]


def _check_present(archive, dest, checks, against):
    """The line to print for ``dest`` already in place, or a DatasetError saying what differs.

    ``checks``: ``checksums.verify`` results for the dataset (None: no checksum files; then
    ``against`` says why). Passing means: every committed entry under ``dest`` is OK (or
    ABSENT, which verify tolerates). An archive without a publisher's digest (Enron-Spam)
    is also accepted when the folder passes the check a fresh download must pass, since
    the committed folder digests describe one reference copy, not the publisher's archive.
    """
    missing = _missing(dest, archive.expect)
    if missing:
        raise DatasetError(f"{dest} exists but is incomplete (missing "
                           f"{', '.join(missing)}); re-run with --force to replace it")
    if checks is None:
        return (f"{archive.dest}: already in {dest}, NOT verified ({against}); skipping "
                f"(--force to download again)")
    mine = [c for c in checks if c.path.startswith(f"{archive.dest}/")]
    if not mine:
        return (f"{archive.dest}: already in {dest}, NOT verified ({', '.join(against)} "
                f"list nothing under {archive.dest}/); skipping (--force to download again)")
    bad = sorted((c for c in mine if c.failed), key=lambda c: c.status != "MISMATCH")
    ok = sum(c.status == "OK" for c in mine)
    if not bad:
        detail = f": {mine[0].detail}" if len(mine) == 1 and mine[0].detail else ""
        return (f"{archive.dest}: already in {dest}, matches {', '.join(against)} "
                f"({ok} OK{detail}); skipping (--force to download again)")
    tally = ", ".join(f"{n} {s}" for s in ("MISMATCH", "MISSING")
                      if (n := sum(c.status == s for c in bad)))
    found = f"{tally}: " + "; ".join(f"{c.status} {c.path}{': ' + c.detail if c.detail else ''}"
                                     for c in bad[:3]) + ("; ..." if len(bad) > 3 else "")
    if archive.sha256 is None and archive.validate is not None:
        try:
            archive.validate(archive, dest)
        except (DatasetError, OSError):  # OSError: e.g. ham/ is a file, not a folder
            pass
        else:
            return (f"{archive.dest}: already in {dest}; it differs from {', '.join(against)} "
                    f"({found}) but passes the check a fresh download must pass (its "
                    f"Summary.txt counts); keeping it (--force to download again)")
    raise DatasetError(f"{dest} exists but does not match {', '.join(against)}: {found}. "
                       f"Re-run with --force to replace it with a fresh download")


def download(name, root=None, *, force=False, base_url=None, progress=None, checksums=None):
    """Download dataset ``name`` (a key of REGISTRY) into the data root; return its folder.

    ``root`` defaults to ``$MINIGRAD_DATA``, else ``<repo>/data``. Archives already in place
    are checked against the committed digests (``checksums``: as in ``checksums.verify``)
    and skipped if they match, else a DatasetError says what differs; ``force`` downloads
    again regardless. Leftovers of killed runs are removed first. ``base_url`` (or
    ``$MINIGRAD_DOWNLOAD_BASE_URL``) replaces the publisher's address. ``progress``
    defaults to on when stderr is a terminal.
    """
    if name not in REGISTRY:
        raise DatasetError(f"unknown dataset {name!r}: choose from {', '.join(REGISTRY)}")
    root = data_root(root)
    if root == SYNTHETIC:
        raise DatasetError("the data root is 'synthetic' (MINIGRAD_DATA=synthetic), which is "
                           "not a folder to download into: pass --root DIR or set "
                           "MINIGRAD_DATA to a folder")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"data root {root} exists and is not a folder")
    if progress is None:
        progress = sys.stderr.isatty()
    fetched = 0
    checked = None  # verify's results, computed once for all archives of the dataset
    for archive in REGISTRY[name]:
        dest = root / archive.dest
        for line in _clean_stale(archive, dest):
            print(line)
        if dest.exists() and not force:
            if checked is None:
                checked = _checks_for(name, root, checksums)
            print(_check_present(archive, dest, *checked))
            continue
        print(f"{archive.dest}: downloading {archive_url(archive, base_url)}")
        _install(archive, root, force=force, base_url=base_url, progress=progress)
        fetched += 1
    folder = root / REGISTRY[name][0].dest.split("/")[0]
    if fetched:
        print(f"{name}: ready in {folder}")
    print(f"  {NOTES[name]}")
    return folder
