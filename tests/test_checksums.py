"""`python -m minigrad.datasets verify`: tiny fake datasets and checksum files in tmp_path,
the committed data/checksums/, then the real data if present."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from realdata import real_data_root

from minigrad.datasets.__main__ import main
from minigrad.datasets.checksums import (
    CHECKSUMS_ENV,
    checksums_dir,
    git_blob_sha1,
    listing_digest,
    tree_listing,
    verify,
)
from minigrad.datasets.download import REGISTRY

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "data" / "checksums"

ML = {"u.data": b"1\t1\t5\t881250949\n", "u.item": b"1|Caf\xe9 (1995)|||u|0\n"}
ML1M = {"users.dat": b"1::F::1::10::48067\n", "ratings.dat": b"1::1::5::978300760\n"}
BOX = {"Summary.txt": b"counts\r\n", "ham/0001.a.ham.txt": b"hello\r\n",
       "ham/0002.b.ham.txt": b"again\n", "spam/0003.c.spam.txt": b"buy\n"}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def box_digest(files):
    """sha256 of the sorted `sha256sum` listing, written out by hand."""
    lines = "".join(f"{sha256(files[p])}  {p}\n" for p in sorted(files))
    return sha256(lines.encode())


def write_files(folder, files):
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)


@pytest.fixture
def data(tmp_path):
    """(data root, checksum folder) holding tiny ml-100k, ml-1m and enron-spam (one box)."""
    root, sums = tmp_path / "data", tmp_path / "sums"
    sums.mkdir()
    write_files(root / "ml-100k", ML)
    write_files(root / "ml-1m", ML1M)
    write_files(root / "enron-spam" / "enron1", BOX)
    (sums / "ml-100k.sha256").write_text(
        "".join(f"{sha256(d)}  {n}\n" for n, d in ML.items()))
    (sums / "ml-1m.sha256").write_text(f"{sha256(ML1M['users.dat'])}  users.dat\n")
    (sums / "ml-1m.git-sha1").write_text(f"{blob_sha1(ML1M['ratings.dat'])}  ratings.dat\n")
    (sums / "enron-spam.tree-sha256").write_text(
        f"# a comment\n{box_digest(BOX)}  {len(BOX)}  enron1/\n")
    return root, sums


def run(capsys, *args):
    status = main(["verify", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def lines_with(out, status):
    return [line.split()[1] for line in out.splitlines() if line.strip().startswith(status)]


# ---------------------------------------------------------------------------------------------
# Hashes


def test_git_blob_sha1_is_what_git_hash_object_prints(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"1::1::5::978300760\n")
    assert git_blob_sha1(path) == blob_sha1(path.read_bytes())
    git = shutil.which("git")
    if git:
        out = subprocess.run([git, "hash-object", str(path)], capture_output=True, text=True,
                             check=True).stdout.strip()
        assert git_blob_sha1(path) == out


def test_tree_digest_is_the_sorted_sha256sum_listing_and_skips_hidden_files(tmp_path):
    write_files(tmp_path / "box", {**BOX, ".DS_Store": b"x", ".git/config": b"y"})

    entries = tree_listing(tmp_path / "box")

    assert [p for p, _ in entries] == sorted(BOX)
    assert listing_digest(entries) == box_digest(BOX)


def test_tree_digest_agrees_with_the_documented_shell_pipeline(tmp_path):
    if not all(shutil.which(t) for t in ("bash", "find", "sort", "xargs", "sha256sum")):
        pytest.skip("needs bash, GNU find, sort, xargs and sha256sum")
    write_files(tmp_path / "box", BOX)
    command = ("find . -type f -not -path '*/.*' -printf '%P\\n' | LC_ALL=C sort "
               "| xargs -d '\\n' sha256sum | sha256sum")
    shell = subprocess.run(["bash", "-c", command], cwd=tmp_path / "box", capture_output=True,
                           text=True, check=True).stdout.split()[0]
    assert shell == listing_digest(tree_listing(tmp_path / "box"))


# ---------------------------------------------------------------------------------------------
# verify on tiny data


def test_everything_matching_is_ok_and_exits_zero(data, capsys):
    root, sums = data

    status, out, _ = run(capsys, "--root", str(root), "--checksums", str(sums))

    assert status == 0
    assert lines_with(out, "OK") == ["ml-100k/u.data", "ml-100k/u.item", "ml-1m/users.dat",
                                     "ml-1m/ratings.dat", "enron-spam/enron1/:"]
    assert "ml-100k: verified (2 OK)" in out and "enron-spam: verified (1 OK)" in out


def test_changed_file_is_a_mismatch_naming_it(data, capsys):
    root, sums = data
    (root / "ml-100k" / "u.item").write_bytes(ML["u.item"].replace(b"\xe9", b"e"))

    status, out, _ = run(capsys, "ml-100k", "--root", str(root), "--checksums", str(sums))

    assert status == 1
    assert lines_with(out, "MISMATCH") == ["ml-100k/u.item:"]
    assert sha256(ML["u.item"]) in out  # the expected digest is shown
    assert "ml-100k: FAILED (1 OK, 1 MISMATCH)" in out


def test_missing_file_is_reported_and_fails(data, capsys):
    root, sums = data
    (root / "ml-100k" / "u.data").unlink()

    status, out, _ = run(capsys, "ml-100k", "--root", str(root), "--checksums", str(sums))

    assert status == 1
    assert lines_with(out, "MISSING") == ["ml-100k/u.data:"]


def test_ratings_listed_by_git_blob_may_be_absent(data, capsys):
    root, sums = data
    (root / "ml-1m" / "ratings.dat").unlink()

    status, out, _ = run(capsys, "ml-1m", "--root", str(root), "--checksums", str(sums))

    assert status == 0
    assert lines_with(out, "ABSENT") == ["ml-1m/ratings.dat:"]
    assert "tolerated" in out and blob_sha1(ML1M["ratings.dat"]) in out
    assert "ml-1m: verified (1 OK, 1 ABSENT)" in out


def test_ratings_listed_by_git_blob_is_checked_when_present(data, capsys):
    root, sums = data
    (root / "ml-1m" / "ratings.dat").write_bytes(b"1::1::4::978300760\n")

    status, out, _ = run(capsys, "ml-1m", "--root", str(root), "--checksums", str(sums))

    assert status == 1
    assert lines_with(out, "MISMATCH") == ["ml-1m/ratings.dat:"]
    assert "git blob SHA-1" in out


def test_changed_mailbox_is_a_mismatch_and_unnamed_without_a_listing(data, capsys):
    root, sums = data
    (root / "enron-spam" / "enron1" / "ham" / "0002.b.ham.txt").write_bytes(b"again\r\n")

    status, out, _ = run(capsys, "enron-spam", "--root", str(root), "--checksums", str(sums))

    assert status == 1
    assert lines_with(out, "MISMATCH") == ["enron-spam/enron1/:"]
    assert "cannot be named" in out


def test_a_listing_that_reproduces_the_digest_names_the_files(data, capsys):
    root, sums = data
    box = root / "enron-spam" / "enron1"
    (root / "enron-spam" / "SHA256SUMS").write_text(
        "".join(f"{sha256(d)}  ./enron1/{p}\n" for p, d in BOX.items()))
    (box / "ham" / "0002.b.ham.txt").write_bytes(b"again\r\n")
    (box / "spam" / "0003.c.spam.txt").unlink()
    (box / "spam" / "0009.z.spam.txt").write_bytes(b"new\n")

    status, out, _ = run(capsys, "enron-spam", "--root", str(root), "--checksums", str(sums))

    assert status == 1
    assert ("changed 1: ham/0002.b.ham.txt; missing 1: spam/0003.c.spam.txt; "
            "unexpected 1: spam/0009.z.spam.txt") in out


def test_a_listing_that_does_not_reproduce_the_digest_is_not_trusted(data, capsys):
    root, sums = data
    box = root / "enron-spam" / "enron1"
    (box / "ham" / "0002.b.ham.txt").write_bytes(b"tampered\n")
    # A listing of the tampered folder would "agree" with it: it must not be believed.
    (root / "enron-spam" / "SHA256SUMS").write_text(
        "".join(f"{h}  ./enron1/{p}\n" for p, h in tree_listing(box)))

    status, out, _ = run(capsys, "enron-spam", "--root", str(root), "--checksums", str(sums))

    assert status == 1
    assert "cannot be named" in out and "changed" not in out


def test_missing_mailbox_folder_is_reported(data, capsys):
    root, sums = data
    shutil.rmtree(root / "enron-spam" / "enron1")

    status, out, _ = run(capsys, "enron-spam", "--root", str(root), "--checksums", str(sums))

    assert status == 1
    assert lines_with(out, "MISSING") == ["enron-spam/enron1/:"]


def test_named_dataset_absent_fails_but_unnamed_ones_are_skipped(data, capsys):
    root, sums = data
    shutil.rmtree(root / "ml-1m")

    status, out, _ = run(capsys, "ml-1m", "--root", str(root), "--checksums", str(sums))
    assert status == 1 and lines_with(out, "MISSING") == ["ml-1m/:"]

    status, out, _ = run(capsys, "--root", str(root), "--checksums", str(sums))
    assert status == 0
    assert "ml-1m: not in" in out and "skipped" in out


def test_no_dataset_present_is_an_error(tmp_path, data, capsys):
    _, sums = data

    status, _, err = run(capsys, "--root", str(tmp_path / "empty"), "--checksums", str(sums))

    assert status == 1
    assert err.startswith("error: ") and "MINIGRAD_DATA" in err


def test_checksum_folder_comes_from_the_environment(data, capsys, monkeypatch):
    root, sums = data
    monkeypatch.setenv(CHECKSUMS_ENV, str(sums))
    monkeypatch.setenv("MINIGRAD_DATA", str(root))

    assert checksums_dir() == sums
    status, out, _ = run(capsys, "ml-100k")
    assert status == 0 and "ml-100k: verified (2 OK)" in out


def test_malformed_checksum_line_names_file_and_line(data, capsys):
    root, sums = data
    (sums / "ml-100k.sha256").write_text(f"{sha256(b'')}  u.data\nnot a checksum\n")

    status, _, err = run(capsys, "ml-100k", "--root", str(root), "--checksums", str(sums))

    assert status == 1
    assert "ml-100k.sha256, line 2" in err and "Traceback" not in err


@pytest.mark.parametrize("content", ["", "# only a comment\n\n   \n# and another\n"])
def test_checksum_file_without_entries_is_refused(data, capsys, content):
    root, sums = data
    (sums / "ml-100k.sha256").write_text(content)

    status, out, err = run(capsys, "ml-100k", "--root", str(root), "--checksums", str(sums))

    assert status == 1 and "verified" not in out
    assert "ml-100k.sha256: no checksum entries" in err and "Traceback" not in err


def test_one_empty_checksum_file_is_refused_even_beside_a_good_one(data, capsys):
    root, sums = data
    (sums / "ml-1m.git-sha1").write_text("# ratings.dat's digest was here\n")

    status, out, err = run(capsys, "--root", str(root), "--checksums", str(sums))

    assert status == 1 and "ml-1m.git-sha1: no checksum entries" in err


def test_dataset_without_checksums_is_an_error(data, capsys):
    root, sums = data
    (sums / "ml-100k.sha256").unlink()

    status, _, err = run(capsys, "ml-100k", "--root", str(root), "--checksums", str(sums))

    assert status == 1 and "no checksums for 'ml-100k'" in err


def test_synthetic_root_and_unknown_name_are_refused(capsys, monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", "synthetic")
    status, _, err = run(capsys)
    assert status == 1 and "synthetic" in err

    with pytest.raises(SystemExit) as exc:
        main(["verify", "ml-20m"])
    assert exc.value.code == 2
    assert "unknown dataset 'ml-20m'" in capsys.readouterr().err


def test_python_dash_m_verify_runs_without_traceback(data):
    root, sums = data
    (root / "ml-100k" / "u.data").write_bytes(b"changed\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MINIGRAD_DATA": str(root),
           CHECKSUMS_ENV: str(sums)}

    result = subprocess.run([sys.executable, "-m", "minigrad.datasets", "verify", "ml-100k"],
                            capture_output=True, text=True, env=env, timeout=60)

    assert result.returncode == 1
    assert "MISMATCH  ml-100k/u.data" in result.stdout and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------
# The committed checksum files


def test_committed_checksums_cover_every_dataset_and_parse(tmp_path):
    for name in REGISTRY:
        # An empty data root: every entry parses, and each dataset reports its folder missing.
        assert [c.status for c in verify(name, tmp_path, checksums=COMMITTED)] == ["MISSING"]
    lines = (COMMITTED / "ml-100k.sha256").read_text().splitlines()
    assert len(lines) == 23 and all(len(line.split("  ")[0]) == 64 for line in lines)


def test_committed_checksums_are_small_and_not_git_ignored():
    files = sorted(COMMITTED.iterdir())
    assert files and all(f.stat().st_size < 1 << 20 for f in files)
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run([git, "check-ignore", *map(str, files)], cwd=REPO,
                             capture_output=True, text=True)
    assert ignored.returncode == 1, f"git ignores: {ignored.stdout}"


# ---------------------------------------------------------------------------------------------
# The real data


def test_real_data_matches_the_committed_checksums(capsys):
    root = real_data_root("ml-100k")
    if root is None or not all((root / n).is_dir() for n in REGISTRY):
        pytest.skip("real data absent: set MINIGRAD_DATA to a folder with ml-100k, ml-1m and "
                    "enron-spam")

    status, out, _ = run(capsys, *REGISTRY, "--root", str(root), "--checksums", str(COMMITTED))

    assert status == 0, out
    assert "ml-100k: verified (23 OK)" in out
    assert "enron-spam: verified (6 OK)" in out
    if not (root / "ml-1m" / "ratings.dat").exists():
        assert "ml-1m: verified (3 OK, 1 ABSENT)" in out
