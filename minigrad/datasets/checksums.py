"""Verify dataset files already in place against the digests committed in data/checksums/.

    python -m minigrad.datasets verify [ml-100k ml-1m enron-spam] [--root DIR]

Checksum files and their formats: data/checksums/README.md. ``verify`` returns one
``Check`` per listed entry; a folder's digest is that of its ``sha256sum`` listing.
"""

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .paths import REPO_DATA, SYNTHETIC, DatasetError, data_root

__all__ = ["CHECKSUMS_ENV", "CHECKSUM_KINDS", "LISTING_NAME", "checksums_dir", "Check",
           "verify", "checksum_files", "file_sha256", "git_blob_sha1", "tree_listing",
           "listing_digest"]

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
    A dataset folder that does not exist gives a single 'MISSING' check. A checksum file
    with no entries (empty, or only comments) is a DatasetError: it would verify anything.
    """
    root = data_root(root)
    if root == SYNTHETIC:
        raise DatasetError("the data root is 'synthetic' (MINIGRAD_DATA=synthetic): there are "
                           "no files to verify; pass --root DIR or set MINIGRAD_DATA to a folder")
    files = checksum_files(name, checksums)
    folder = Path(root) / name
    if not folder.is_dir():
        return [Check("MISSING", f"{name}/", f"folder not found in {root}")]
    listed = {kind: _parse_checksums(path, kind) for kind, path in files.items()}
    for kind, entries in listed.items():
        if not entries:  # else a blanked checksum file would vouch for anything
            raise DatasetError(f"{files[kind]}: no checksum entries (the file is empty or holds "
                               f"only comments and blank lines); expected at least one line "
                               f"for {name}. Restore it from git or remove it")
    checks = []
    for kind, entries in listed.items():
        for expected, rel, count in entries:
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
