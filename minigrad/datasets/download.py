"""Download the real datasets from their publishers, verified, into the data folder.

    python -m minigrad.datasets download ml-100k ml-1m enron-spam [--root DIR] [--force]
    python -m minigrad.datasets verify [ml-100k ml-1m enron-spam] [--root DIR]

Each archive is streamed to a temporary file next to its destination, checked
(size and SHA-256 where the publisher's are known, the archive's own counts
otherwise) *before* it is unpacked, unpacked into a temporary folder, and only
then renamed into place. A failure at any step leaves nothing behind.

``verify`` checks the unpacked files against the digests committed in
``data/checksums/`` (see data/checksums/README.md for the formats).
"""

import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ._common import REPO_DATA, SYNTHETIC, DatasetError, data_root

__all__ = ["Archive", "REGISTRY", "BASE_URL_ENV", "download", "archive_url", "fetch",
           "safe_extract", "check_enron_counts", "CHECKSUMS_ENV", "checksums_dir", "Check",
           "verify", "checksum_files", "file_sha256", "git_blob_sha1", "tree_listing",
           "listing_digest"]

BASE_URL_ENV = "MINIGRAD_DOWNLOAD_BASE_URL"
"""If set, every archive is fetched from ``$MINIGRAD_DOWNLOAD_BASE_URL/<file name>``
instead of its publisher (a mirror, or a local server in the tests)."""

CHUNK_SIZE = 1 << 16
TIMEOUT = 60  # seconds without a byte from the server before we give up

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
        fd, part = tempfile.mkstemp(prefix=f".{archive.filename}.", suffix=".part", dir=parent)
        os.close(fd)
        fetch(url, part, size=archive.size, sha256=archive.sha256, progress=progress)
        unpacked = tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=parent)
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
            backup = tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=parent)
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


def download(name, root=None, *, force=False, base_url=None, progress=None):
    """Download dataset ``name`` (a key of REGISTRY) into the data root; return its folder.

    ``root`` defaults to ``$MINIGRAD_DATA``, else ``<repo>/data``. Archives already in place
    are skipped unless ``force``. ``base_url`` (or ``$MINIGRAD_DOWNLOAD_BASE_URL``) replaces
    the publisher's address. ``progress`` defaults to on when stderr is a terminal.
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
    for archive in REGISTRY[name]:
        dest = root / archive.dest
        if dest.exists() and not force:
            missing = _missing(dest, archive.expect)
            if missing:
                raise DatasetError(f"{dest} exists but is incomplete (missing "
                                   f"{', '.join(missing)}); re-run with --force to replace it")
            print(f"{archive.dest}: already in {dest}, skipping (--force to download again)")
            continue
        print(f"{archive.dest}: downloading {archive_url(archive, base_url)}")
        _install(archive, root, force=force, base_url=base_url, progress=progress)
        fetched += 1
    folder = root / REGISTRY[name][0].dest.split("/")[0]
    if fetched:
        print(f"{name}: ready in {folder}")
    print(f"  {NOTES[name]}")
    return folder


# ---------------------------------------------------------------------------------------------
# Verifying files already in place against data/checksums/

CHECKSUMS_ENV = "MINIGRAD_CHECKSUMS"
"""If set, the folder of checksum files ``verify`` reads instead of ``<repo>/data/checksums``."""

CHECKSUM_KINDS = (".sha256", ".git-sha1", ".tree-sha256")
"""Checksum files per dataset, ``<name><kind>``, in the order ``verify`` reads them:
``.sha256`` lists required files (``sha256sum`` format); ``.git-sha1`` lists files checked
only when present, by git blob SHA-1 (``git hash-object``); ``.tree-sha256`` lists required
folders by the SHA-256 of their ``sha256sum`` listing (``listing_digest``)."""

LISTING_NAME = "SHA256SUMS"
"""A per-file listing in a dataset's folder that, when it reproduces a folder's committed
digest, lets ``verify`` name the files that differ."""

_HEX = re.compile(r"^[0-9a-f]+$")
_MAX_NAMED = 5  # files named per problem kind in one report line


@dataclass(frozen=True)
class Check:
    """One verified entry: status 'OK', 'MISMATCH', 'MISSING' or 'ABSENT' (optional, tolerated)."""

    status: str
    path: str  # relative to the data root, e.g. 'ml-100k/u.data' or 'enron-spam/enron4/'
    detail: str = ""

    @property
    def failed(self):
        return self.status in ("MISMATCH", "MISSING")


def checksums_dir(path=None):
    """The checksum folder: ``path``, else ``$MINIGRAD_CHECKSUMS``, else <repo>/data/checksums."""
    return Path(path or os.environ.get(CHECKSUMS_ENV) or REPO_DATA / "checksums")


def file_sha256(path):
    """Hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1(path):
    """Hex SHA-1 git gives the file as a blob (``git hash-object path``)."""
    digest = hashlib.sha1(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def tree_listing(folder):
    """[(relative path, sha256)] of every regular file under ``folder``, sorted by path bytes.

    Paths use '/'; names starting with '.' (files or folders) are skipped, as the loaders
    skip them; symbolic links are not followed.
    """
    folder = Path(folder)
    entries = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            entries.append((path.relative_to(folder).as_posix(), file_sha256(path)))
    entries.sort(key=lambda e: e[0].encode("utf-8"))
    return entries


def listing_digest(entries):
    """SHA-256 of the ``sha256sum`` listing of ``entries`` [(path, sha256)], one per line.

    Equals ``find . -type f -not -path '*/.*' -printf '%P\\n' | LC_ALL=C sort |
    xargs -d '\\n' sha256sum | sha256sum`` run inside the folder.
    """
    return hashlib.sha256("".join(f"{h}  {p}\n" for p, h in entries).encode("utf-8")).hexdigest()


def _parse_checksums(path, kind):
    """[(digest, relative path, file count or None)] from one checksum file."""
    length = 40 if kind == ".git-sha1" else 64
    entries = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(None, 2 if kind == ".tree-sha256" else 1)
        want = 3 if kind == ".tree-sha256" else 2
        ok = (len(parts) == want and len(parts[0]) == length and _HEX.match(parts[0])
              and (kind != ".tree-sha256" or parts[1].isdigit()))
        if ok:
            rel = parts[-1].strip().lstrip("*")  # '*' marks binary mode in sha256sum output
            ok = rel and not rel.startswith("/") and ".." not in PurePosixPath(rel).parts
        if not ok:
            layout = {".sha256": "<sha256>  <path>", ".git-sha1": "<git blob sha1>  <path>",
                      ".tree-sha256": "<sha256 of listing>  <number of files>  <folder>/"}
            raise DatasetError(f"{path}, line {lineno}: expected {layout[kind]}, "
                               f"found {line!r}")
        count = int(parts[1]) if kind == ".tree-sha256" else None
        entries.append((parts[0], rel.rstrip("/"), count))
    return entries


def _trusted_listing(dataset_folder, sub, expected):
    """{path: sha256} under ``sub`` from ``<dataset>/SHA256SUMS``, if it reproduces ``expected``."""
    listing = dataset_folder / LISTING_NAME
    if not listing.is_file():
        return None
    prefix = sub + "/"
    entries = {}
    for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split(None, 1)
        if len(parts) != 2:
            continue
        rel = parts[1].lstrip("*")
        while rel.startswith("./"):
            rel = rel[2:]
        if rel.startswith(prefix):
            entries[rel[len(prefix):]] = parts[0]
    ordered = sorted(entries.items(), key=lambda e: e[0].encode("utf-8"))
    return entries if listing_digest(ordered) == expected else None


def _name_some(paths):
    paths = sorted(paths)
    more = f" and {len(paths) - _MAX_NAMED} more" if len(paths) > _MAX_NAMED else ""
    return ", ".join(paths[:_MAX_NAMED]) + more


def _check_tree(dataset_folder, name, sub, expected, count):
    folder = dataset_folder / sub
    shown = f"{name}/{sub}/"
    if not folder.is_dir():
        return Check("MISSING", shown, f"folder not found (expected {count} files)")
    entries = tree_listing(folder)
    if listing_digest(entries) == expected:
        return Check("OK", shown, f"{len(entries)} files")
    detail = f"{len(entries)} files, expected {count}; the folder's digest differs"
    trusted = _trusted_listing(dataset_folder, sub, expected)
    if trusted is None:
        return Check("MISMATCH", shown, f"{detail} (no {name}/{LISTING_NAME} matching the "
                                        f"committed digest, so the files cannot be named)")
    actual = dict(entries)
    problems = []
    for what, paths in (
            ("changed", [p for p in actual if p in trusted and actual[p] != trusted[p]]),
            ("missing", [p for p in trusted if p not in actual]),
            ("unexpected", [p for p in actual if p not in trusted])):
        if paths:
            problems.append(f"{what} {len(paths)}: {_name_some(paths)}")
    return Check("MISMATCH", shown, f"{detail}; by {name}/{LISTING_NAME}: "
                                    f"{'; '.join(problems)}")


def checksum_files(name, checksums=None):
    """{kind: path} of the checksum files for dataset ``name``; DatasetError if none."""
    folder = checksums_dir(checksums)
    found = {kind: folder / f"{name}{kind}" for kind in CHECKSUM_KINDS
             if (folder / f"{name}{kind}").is_file()}
    if not found:
        raise DatasetError(f"no checksums for {name!r} in {folder}: expected "
                           f"{' or '.join(name + k for k in CHECKSUM_KINDS)}")
    return found


def verify(name, root=None, *, checksums=None):
    """Check ``<root>/<name>/`` against its checksum files; a list of ``Check``, one per entry.

    ``root`` defaults to ``$MINIGRAD_DATA``, else ``<repo>/data``; ``checksums`` to
    ``$MINIGRAD_CHECKSUMS``, else ``<repo>/data/checksums``. Files listed in
    ``<name>.sha256`` and folders in ``<name>.tree-sha256`` must be present; files in
    ``<name>.git-sha1`` are checked when present and reported 'ABSENT' (tolerated) when not.
    A dataset folder that does not exist gives a single 'MISSING' check.
    """
    root = data_root(root)
    if root == SYNTHETIC:
        raise DatasetError("the data root is 'synthetic' (MINIGRAD_DATA=synthetic): there are "
                           "no files to verify; pass --root DIR or set MINIGRAD_DATA to a folder")
    files = checksum_files(name, checksums)
    folder = Path(root) / name
    if not folder.is_dir():
        return [Check("MISSING", f"{name}/", f"folder not found in {root}")]
    checks = []
    for kind, path in files.items():
        for expected, rel, count in _parse_checksums(path, kind):
            shown = f"{name}/{rel}"
            if kind == ".tree-sha256":
                checks.append(_check_tree(folder, name, rel, expected, count))
                continue
            target = folder / rel
            if not target.is_file():
                if kind == ".git-sha1":
                    checks.append(Check(
                        "ABSENT", shown,
                        f"not here, tolerated (files listed by git blob SHA-1 are optional; "
                        f"see data/README.md). When present it must hash to {expected} "
                        f"(`git hash-object`); the official archive has it: "
                        f"`python -m minigrad.datasets download {name} --force`"))
                else:
                    checks.append(Check("MISSING", shown, "file not found"))
                continue
            actual = git_blob_sha1(target) if kind == ".git-sha1" else file_sha256(target)
            if actual == expected:
                checks.append(Check("OK", shown))
            else:
                what = "git blob SHA-1" if kind == ".git-sha1" else "SHA-256"
                checks.append(Check("MISMATCH", shown,
                                    f"{what} {actual}, expected {expected}"))
    return checks
