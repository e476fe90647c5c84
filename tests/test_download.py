"""Downloader: fake archives built here, served from 127.0.0.1; no other network traffic."""

import dataclasses
import hashlib
import io
import os
import random
import socket
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from minigrad.datasets import download as dl
from minigrad.datasets.__main__ import main
from minigrad.datasets.checksums import CHECKSUMS_ENV, listing_digest, tree_listing
from minigrad.datasets.paths import DatasetError

REPO = Path(__file__).resolve().parents[1]

ML100K_FILES = ("README", "u.data", "u.item", "u.user", "u.genre", "u.occupation", "u.info")

# The real enron1 Summary.txt, CRLF endings and its wrong grand total (5975) included.
ENRON_SUMMARY = (
    "Legitimate\r\n----------\r\n- Owner: farmer-d\r\n- Total number: {ham} emails\r\n"
    "- Date of first email: 1999-12-10\r\n- Date of last email: 2002-01-11\r\n"
    "- Similars deletion: No\r\n- Encoding: No\r\n\r\n\r\n"
    "Spam\r\n----\r\n- Owner: GP\r\n- Total number: {spam} emails\r\n"
    "- Date of first email: 2003-12-18\r\n- Date of last email: 2005-09-06\r\n"
    "- Similars deletion: No\r\n- Encoding: No\r\n\r\n"
    "Spam:Legitimate rate = 1:3\r\nTotal number of emails (legitimate + spam): 5975\r\n"
)


# ---------------------------------------------------------------- fake archives

def make_zip(path, members):
    """A zip at ``path`` holding ``members`` (name -> bytes; a name ending in '/' is a folder)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tar(path, members, symlinks=()):
    """A .tar.gz at ``path`` holding ``members`` (name -> bytes) and ``symlinks`` (name, target)."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in symlinks:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return path


def ml100k_members(top="ml-100k/"):
    members = {top: b""}
    members.update({f"{top}{name}": f"fake {name}\n".encode() for name in ML100K_FILES})
    return members


def enron_members(n, ham=3, spam=2, said_ham=None, said_spam=None):
    top = f"enron{n}"
    summary = ENRON_SUMMARY.format(ham=ham if said_ham is None else said_ham,
                                   spam=spam if said_spam is None else said_spam)
    members = {f"{top}/Summary.txt": summary.encode()}
    members.update({f"{top}/ham/{i:04d}.ham.txt": b"Subject: hi\r\n" for i in range(ham)})
    members.update({f"{top}/spam/{i:04d}.spam.txt": b"Subject: buy\r\n" for i in range(spam)})
    return members


def sha256_of(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def register(monkeypatch, name, paths, checksums=True):
    """Point REGISTRY[name] at the fake archives ``paths`` (size and sha256 patched in)."""
    patched = []
    for archive, path in zip(dl.REGISTRY[name], paths, strict=False):
        path = Path(path)
        assert path.name == archive.filename
        if checksums:
            archive = dataclasses.replace(archive, size=path.stat().st_size,
                                          sha256=sha256_of(path))
        patched.append(archive)
    monkeypatch.setitem(dl.REGISTRY, name, patched)


def tree(root):
    """Every path under ``root``, relative, as sorted strings (temp leftovers would show)."""
    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# ---------------------------------------------------------------- local server

class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; announces ``server.extra[name]`` more bytes than it sends;
    for a name in ``server.stall``, sends half the body once and hangs until ``release``."""

    def do_GET(self):
        self.server.requests.append(self.path)
        path = self.server.files / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + self.server.extra.get(path.name, 0)))
        self.end_headers()
        if self.server.stall.pop(path.name, False):  # half the body, then hang (once)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.server.release.wait(timeout=30)
            return
        self.wfile.write(body)  # HTTP/1.0: the connection closes after this

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fail any connection that is not to 127.0.0.1, and bypass proxies for it."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] == "127.0.0.1", f"test tried to reach {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY", dl.BASE_URL_ENV, "MINIGRAD_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server(tmp_path):
    """A ThreadingHTTPServer on 127.0.0.1 serving ``tmp_path/'srv'``; yields its base URL."""
    files = tmp_path / "srv"
    files.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.extra, httpd.requests = files, {}, []
    httpd.stall, httpd.release = {}, threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def root(tmp_path):
    return tmp_path / "data"  # does not exist yet: a failed download must not create it


# ---------------------------------------------------------------- registry and URLs

def test_registry_holds_the_official_addresses_and_checksums():
    (ml100k,) = dl.REGISTRY["ml-100k"]
    (ml1m,) = dl.REGISTRY["ml-1m"]
    assert ml100k.url == "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
    assert (ml100k.size, ml100k.sha256[:8]) == (4_924_029, "50d2a982")
    assert ml1m.url == "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
    assert (ml1m.size, ml1m.sha256[:8]) == (5_917_549, "a6898adb")
    enron = dl.REGISTRY["enron-spam"]
    assert [a.dest for a in enron] == [f"enron-spam/enron{i}" for i in range(1, 7)]
    assert enron[5].url == ("http://www2.aueb.gr/users/ion/data/enron-spam/preprocessed/"
                            "enron6.tar.gz")
    assert all(a.sha256 is None and a.validate is dl.check_enron_counts for a in enron)


def test_base_url_comes_from_the_argument_then_the_environment(monkeypatch):
    (archive,) = dl.REGISTRY["ml-1m"]
    assert dl.archive_url(archive) == archive.url
    monkeypatch.setenv(dl.BASE_URL_ENV, "http://127.0.0.1:1/env")
    assert dl.archive_url(archive) == "http://127.0.0.1:1/env/ml-1m.zip"
    assert dl.archive_url(archive, "http://127.0.0.1:2/arg/") == "http://127.0.0.1:2/arg/ml-1m.zip"


# ---------------------------------------------------------------- success and skipping

def test_ml100k_lands_in_place_with_no_leftovers(server, root, monkeypatch, capsys):
    register(monkeypatch, "ml-100k", [make_zip(server.files / "ml-100k.zip", ml100k_members())])

    folder = dl.download("ml-100k", root, base_url=server.url)

    assert folder == root / "ml-100k"
    assert tree(root) == ["ml-100k"] + [f"ml-100k/{f}" for f in sorted(ML100K_FILES)]
    assert (folder / "u.data").read_text() == "fake u.data\n"
    out = capsys.readouterr().out
    assert str(folder) in out and "redistributed" in out and "commit" in out


def test_enron_archives_are_checked_against_their_summary(server, root, monkeypatch):
    paths = [make_tar(server.files / f"enron{n}.tar.gz", enron_members(n, ham=n + 1))
             for n in (1, 2)]
    register(monkeypatch, "enron-spam", paths, checksums=False)

    dl.download("enron-spam", root, base_url=server.url)

    expected = ["enron-spam"]
    for n in (1, 2):
        expected += [f"enron-spam/{name.rstrip('/')}" for name in enron_members(n, ham=n + 1)]
        expected += [f"enron-spam/enron{n}{sub}" for sub in ("", "/ham", "/spam")]
    assert tree(root) == sorted(expected)
    assert len(list((root / "enron-spam/enron2/ham").iterdir())) == 3


def test_progress_line_goes_to_stderr(server, root, monkeypatch, capsys):
    register(monkeypatch, "ml-100k", [make_zip(server.files / "ml-100k.zip", ml100k_members())])

    dl.download("ml-100k", root, base_url=server.url, progress=True)

    captured = capsys.readouterr()
    assert "\r  ml-100k.zip: 100% of" in captured.err and captured.err.endswith("\n")
    assert "%" not in captured.out


def write_checksums(sums, root, name):
    """Checksum files in ``sums`` for what is now under ``root/name`` (as the lead commits)."""
    sums.mkdir(exist_ok=True)
    folder = Path(root) / name
    if name == "enron-spam":
        lines = [f"{listing_digest(tree_listing(box))}  {len(tree_listing(box))}  {box.name}/\n"
                 for box in sorted(folder.iterdir())]
        (sums / f"{name}.tree-sha256").write_text("".join(lines))
    else:
        lines = [f"{sha256_of(p)}  {p.name}\n" for p in sorted(folder.iterdir())]
        (sums / f"{name}.sha256").write_text("".join(lines))
    return sums


def test_present_dataset_is_verified_then_skipped_unless_forced(server, root, monkeypatch,
                                                                capsys, tmp_path):
    path = make_zip(server.files / "ml-100k.zip", ml100k_members())
    register(monkeypatch, "ml-100k", [path])
    dl.download("ml-100k", root, base_url=server.url)
    monkeypatch.setenv(CHECKSUMS_ENV, str(write_checksums(tmp_path / "sums", root, "ml-100k")))
    capsys.readouterr()

    dl.download("ml-100k", root, base_url=server.url)
    assert "matches ml-100k.sha256 (7 OK); skipping" in capsys.readouterr().out
    assert len(server.requests) == 1

    (root / "ml-100k/u.data").write_text("edited\n")
    with pytest.raises(DatasetError, match=r"ml-100k exists but does not match ml-100k\.sha256: 1 "
                                           r"MISMATCH: MISMATCH ml-100k/u\.data: SHA-256 .*force"):
        dl.download("ml-100k", root, base_url=server.url)
    assert len(server.requests) == 1
    assert (root / "ml-100k/u.data").read_text() == "edited\n"  # the user's file is kept

    dl.download("ml-100k", root, base_url=server.url, force=True)
    assert len(server.requests) == 2
    assert (root / "ml-100k/u.data").read_text() == "fake u.data\n"
    assert tree(root) == ["ml-100k"] + [f"ml-100k/{f}" for f in sorted(ML100K_FILES)]


def test_present_folder_of_junk_is_not_taken_for_the_dataset(server, root, capsys):
    # The review's case: the expected names, junk inside; checked against data/checksums.
    write_members(root, ml100k_members())
    (root / "ml-100k" / "u.data").write_bytes(b"")

    with pytest.raises(DatasetError) as err:
        dl.download("ml-100k", root, base_url=server.url)

    message = str(err.value)
    assert "ml-100k exists but does not match ml-100k.sha256" in message
    # Mismatches are named first (the files the official archive has come after).
    assert ("does not match ml-100k.sha256: 7 MISMATCH, 16 MISSING: MISMATCH ml-100k/README: "
            "SHA-256 ") in message
    assert "--force" in message and server.requests == []
    assert "skipping" not in capsys.readouterr().out


def test_present_enron_box_that_differs_from_the_reference_copy_but_passes_its_summary(
        server, root, capsys, monkeypatch):
    # The committed folder digests describe the course's reference copy; a box that still
    # holds exactly what its Summary.txt states passes, as a fresh download would.
    monkeypatch.setitem(dl.REGISTRY, "enron-spam", dl.REGISTRY["enron-spam"][:1])
    write_members(root / "enron-spam", enron_members(1))

    dl.download("enron-spam", root, base_url=server.url)

    out = capsys.readouterr().out
    assert "enron-spam/enron1: already in" in out
    assert "differs from enron-spam.tree-sha256 (1 MISMATCH: MISMATCH enron-spam/enron1/" in out
    assert "passes the check a fresh download must pass" in out and "keeping it" in out
    assert server.requests == []


def test_present_enron_box_with_wrong_counts_is_an_error(server, root):
    write_members(root / "enron-spam", enron_members(1, spam=2, said_spam=5))

    with pytest.raises(DatasetError, match=r"enron1 exists but does not match "
                                           r"enron-spam\.tree-sha256: 1 MISMATCH: MISMATCH "
                                           r"enron-spam/enron1/: 6 files, expected 5173"):
        dl.download("enron-spam", root, base_url=server.url)
    assert server.requests == []


def test_present_dataset_without_checksums_says_it_is_not_verified(server, root, tmp_path,
                                                                   monkeypatch, capsys):
    write_members(root, ml100k_members())
    (tmp_path / "sums").mkdir()
    monkeypatch.setenv(CHECKSUMS_ENV, str(tmp_path / "sums"))

    dl.download("ml-100k", root, base_url=server.url)

    out = capsys.readouterr().out
    assert "ml-100k: already in" in out and "NOT verified (no checksums for 'ml-100k'" in out


def write_members(root, members):
    for name, data in members.items():
        path = Path(root) / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def test_incomplete_present_dataset_is_not_overwritten_without_force(server, root):
    (root / "ml-1m").mkdir(parents=True)
    (root / "ml-1m/users.dat").write_text("kept\n")

    with pytest.raises(DatasetError, match=r"missing .*ratings\.dat.*--force"):
        dl.download("ml-1m", root, base_url=server.url)

    assert server.requests == []
    assert tree(root) == ["ml-1m", "ml-1m/users.dat"]


# ---------------------------------------------------------------- leftovers of killed runs

posix_only = pytest.mark.skipif(os.name == "nt", reason="asks POSIX whether a process runs")


def _dead_pid():
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True, timeout=60)
    return int(done.stdout)


def _parts(root):
    return sorted(p.name for p in (root / "ml-100k").parent.glob(".ml-100k.zip.*.part"))


@posix_only
def test_killed_download_leaves_a_part_file_that_the_next_run_removes(server, root,
                                                                       monkeypatch, capsys):
    path = make_zip(server.files / "ml-100k.zip", ml100k_members() | {
        "ml-100k/u.data": random.Random(0).randbytes(1 << 20)})  # half of it: 8 chunks
    server.stall["ml-100k.zip"] = True
    code = (f"from minigrad.datasets import download as dl; "
            f"dl.download('ml-100k', {str(root)!r}, base_url={server.url!r})")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(p.stat().st_size for p in root.glob(".ml-100k.zip.*.part")):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the child never started writing its .part file")
    finally:
        child.kill()  # SIGKILL: no finally clause runs in the child
        child.wait(timeout=30)
    (left,) = _parts(root)
    assert left.startswith(f".ml-100k.zip.{child.pid}-")

    register(monkeypatch, "ml-100k", [path])
    dl.download("ml-100k", root, base_url=server.url)

    out = capsys.readouterr().out
    assert (f"ml-100k: removed {left}, left by an interrupted download (process {child.pid} "
            f"is gone)") in out
    assert tree(root) == ["ml-100k"] + [f"ml-100k/{f}" for f in sorted(ML100K_FILES)]


@posix_only
def test_leftovers_of_a_running_download_are_kept_and_old_ones_removed(server, root,
                                                                        monkeypatch):
    register(monkeypatch, "ml-100k", [make_zip(server.files / "ml-100k.zip", ml100k_members())])
    root.mkdir()
    running = root / f".ml-100k.zip.{os.getpid()}-abc123.part"  # this process: it runs
    fresh_legacy = root / ".ml-100k.zip.k2j4_x9q.part"  # an older version's name, no pid
    old_legacy = root / ".ml-100k.q1w2e3r4.tmp"
    dead = root / f".ml-100k.{_dead_pid()}-zz99.tmp"
    unrelated = root / ".ml-1m.zip.1-abc.part"
    for p in (running, fresh_legacy, unrelated):
        p.write_bytes(b"partial")
    for p in (old_legacy, dead):
        (p / "ml-100k").mkdir(parents=True)
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old_legacy, (two_hours_ago, two_hours_ago))

    dl.download("ml-100k", root, base_url=server.url)

    assert running.exists() and fresh_legacy.exists() and unrelated.exists()
    assert not old_legacy.exists() and not dead.exists()
    assert (root / "ml-100k" / "u.data").is_file()


@posix_only
def test_copy_moved_aside_by_a_killed_force_run_is_put_back(server, root, tmp_path,
                                                            monkeypatch, capsys):
    register(monkeypatch, "ml-100k", [make_zip(server.files / "ml-100k.zip", ml100k_members())])
    dl.download("ml-100k", root, base_url=server.url)
    monkeypatch.setenv(CHECKSUMS_ENV, str(write_checksums(tmp_path / "sums", root, "ml-100k")))
    aside = root / f".ml-100k.{_dead_pid()}-old1.old"  # killed between the two renames
    aside.mkdir()
    os.replace(root / "ml-100k", aside / "ml-100k")
    server.requests.clear()
    capsys.readouterr()

    dl.download("ml-100k", root, base_url=server.url)

    out = capsys.readouterr().out
    assert f"ml-100k: put back the previous copy from {aside.name}" in out
    assert "matches ml-100k.sha256 (7 OK); skipping" in out
    assert server.requests == []
    assert tree(root) == ["ml-100k"] + [f"ml-100k/{f}" for f in sorted(ML100K_FILES)]


# ---------------------------------------------------------------- failures leave nothing

def test_truncated_download_is_an_error_and_leaves_nothing(server, root, monkeypatch):
    path = make_zip(server.files / "ml-100k.zip", ml100k_members())
    register(monkeypatch, "ml-100k", [path])
    server.extra["ml-100k.zip"] = 1000  # announce more than is sent, then hang up

    with pytest.raises(DatasetError, match=r"ml-100k\.zip: truncated download: got"):
        dl.download("ml-100k", root, base_url=server.url)

    assert not root.exists()


@pytest.mark.parametrize("name", ["enron-spam", "ml-100k"])
def test_truncated_archive_file_is_a_bad_archive(server, root, monkeypatch, name):
    # The sizes and checksums registered are the truncated file's: the archive check catches it.
    if name == "ml-100k":
        path = make_zip(server.files / "ml-100k.zip", ml100k_members())
    else:
        path = make_tar(server.files / "enron1.tar.gz", enron_members(1))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    register(monkeypatch, name, [path])

    with pytest.raises(DatasetError, match=rf"{path.name}: bad archive"):
        dl.download(name, root, base_url=server.url)

    assert not root.exists()


def test_wrong_size_is_an_error(server, root, monkeypatch):
    path = make_zip(server.files / "ml-100k.zip", ml100k_members())
    register(monkeypatch, "ml-100k", [path])
    (archive,) = dl.REGISTRY["ml-100k"]
    monkeypatch.setitem(dl.REGISTRY, "ml-100k", [dataclasses.replace(archive, size=4_924_029)])

    with pytest.raises(DatasetError, match=r"expected 4,924,029 bytes, got"):
        dl.download("ml-100k", root, base_url=server.url)

    assert not root.exists()


def test_wrong_checksum_names_both_digests_and_writes_nothing(server, root, monkeypatch):
    path = make_zip(server.files / "ml-100k.zip", ml100k_members())
    register(monkeypatch, "ml-100k", [path])
    (archive,) = dl.REGISTRY["ml-100k"]
    monkeypatch.setitem(dl.REGISTRY, "ml-100k", [dataclasses.replace(archive, sha256="0" * 64)])
    root.mkdir()

    with pytest.raises(DatasetError) as err:
        dl.download("ml-100k", root, base_url=server.url)

    assert "ml-100k.zip" in str(err.value)
    assert f"expected {'0' * 64}, got {sha256_of(path)}" in str(err.value)
    assert tree(root) == []


def test_enron_count_mismatch_with_summary_is_an_error(server, root, monkeypatch):
    path = make_tar(server.files / "enron1.tar.gz", enron_members(1, spam=2, said_spam=3))
    register(monkeypatch, "enron-spam", [path], checksums=False)

    with pytest.raises(DatasetError, match=r"spam/ holds 2 files but Summary\.txt says 3"):
        dl.download("enron-spam", root, base_url=server.url)

    assert not root.exists()


def test_missing_top_folder_is_a_bad_archive(server, root, monkeypatch):
    register(monkeypatch, "ml-100k",
             [make_zip(server.files / "ml-100k.zip", ml100k_members(top="movielens/"))])

    with pytest.raises(DatasetError, match=r"expected a top folder ml-100k/, found movielens"):
        dl.download("ml-100k", root, base_url=server.url)

    assert not root.exists()


@pytest.mark.parametrize("bad", ["../evil.txt", "ml-100k/../../evil.txt", "/tmp/evil.txt"])
def test_zip_path_traversal_is_refused(server, root, monkeypatch, bad):
    members = {**ml100k_members(), bad: b"gotcha"}
    register(monkeypatch, "ml-100k", [make_zip(server.files / "ml-100k.zip", members)])

    with pytest.raises(DatasetError, match="refusing unsafe member"):
        dl.download("ml-100k", root, base_url=server.url)

    assert not root.exists()
    assert not (root.parent / "evil.txt").exists()


@pytest.mark.parametrize("kind", ["dotdot", "symlink"])
def test_tar_path_traversal_and_links_are_refused(server, root, monkeypatch, kind):
    members = enron_members(1)
    links = ()
    if kind == "dotdot":
        members["enron1/../../evil.txt"] = b"gotcha"
    else:
        links = [("enron1/ham/link.txt", "/etc/passwd")]
    path = make_tar(server.files / "enron1.tar.gz", members, symlinks=links)
    register(monkeypatch, "enron-spam", [path], checksums=False)

    with pytest.raises(DatasetError, match="refusing"):
        dl.download("enron-spam", root, base_url=server.url)

    assert not root.exists()
    assert not (root.parent / "evil.txt").exists()


def test_http_error_names_the_url(server, root):
    with pytest.raises(DatasetError, match=r"127\.0\.0\.1:\d+/ml-1m\.zip: HTTP error 404"):
        dl.download("ml-1m", root, base_url=server.url)
    assert not root.exists()


def test_synthetic_root_is_refused(monkeypatch):
    with pytest.raises(DatasetError, match="synthetic"):
        dl.download("ml-100k", "synthetic")
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")
    with pytest.raises(DatasetError, match="--root"):
        dl.download("ml-100k")


# ---------------------------------------------------------------- command line

def test_cli_downloads_and_returns_zero(server, root, monkeypatch, capsys):
    register(monkeypatch, "ml-100k", [make_zip(server.files / "ml-100k.zip", ml100k_members())])
    monkeypatch.setenv(dl.BASE_URL_ENV, server.url)

    assert main(["download", "ml-100k", "--root", str(root)]) == 0

    assert (root / "ml-100k/u.item").is_file()
    assert "never commit" in capsys.readouterr().out.lower()


def test_cli_error_is_one_line_and_non_zero(server, root, capsys):
    status = main(["download", "ml-1m", "--root", str(root), "--base-url", server.url])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: ") and "HTTP error 404" in err and "Traceback" not in err


def test_python_dash_m_refuses_synthetic_without_traceback(tmp_path):
    env = {"PATH": "", "PYTHONPATH": str(REPO), "MINIGRAD_DATA": "synthetic"}
    result = subprocess.run([sys.executable, "-m", "minigrad.datasets", "download", "ml-100k"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)

    assert result.returncode == 1
    assert "synthetic" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


# ---------------------------------------------------------------- prepare (the Quick start)

def _serve_both(server, monkeypatch):
    register(monkeypatch, "ml-100k", [make_zip(server.files / "ml-100k.zip", ml100k_members())])
    paths = [make_tar(server.files / f"enron{n}.tar.gz", enron_members(n)) for n in (1, 2)]
    register(monkeypatch, "enron-spam", paths, checksums=False)


def test_prepare_fetches_what_is_missing_and_skips_what_is_there(server, root, monkeypatch,
                                                                  capsys, tmp_path):
    _serve_both(server, monkeypatch)
    dl.download("ml-100k", root, base_url=server.url)
    monkeypatch.setenv(CHECKSUMS_ENV, str(write_checksums(tmp_path / "sums", root, "ml-100k")))
    server.requests.clear()

    status = main(["prepare", "--root", str(root), "--base-url", server.url])

    assert status == 0
    assert server.requests == ["/enron1.tar.gz", "/enron2.tar.gz"]  # ml-100k was there
    assert (root / "enron-spam/enron2/Summary.txt").is_file()
    assert "data ready" in capsys.readouterr().out


def test_prepare_offline_stops_at_once_with_one_message(server, root, monkeypatch, capsys):
    _serve_both(server, monkeypatch)
    dead = f"http://127.0.0.1:{_free_port()}/"  # nothing listens: connection refused

    status = main(["prepare", "--root", str(root), "--base-url", dead])

    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback" not in err and err.count("error:") == 1
    assert "ml-100k" in err and "MINIGRAD_DATA=/path/to/data" in err
    assert "MINIGRAD_DATA=synthetic" in err
    assert tree(root) == []  # nothing half-written, and enron-spam was not tried


def test_prepare_with_synthetic_data_has_nothing_to_fetch(monkeypatch, capsys):
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")

    assert main(["prepare"]) == 0

    assert "nothing to download" in capsys.readouterr().out


def test_prepare_refuses_an_unknown_dataset(capsys):
    with pytest.raises(SystemExit):
        main(["prepare", "ml-10m"])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
