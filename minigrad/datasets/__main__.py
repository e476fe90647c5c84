"""Command line: ``python -m minigrad.datasets prepare|download|verify [NAME ...]``."""

import argparse
import sys
from pathlib import Path

from minigrad.datasets.checksums import (
    CHECKSUM_KINDS,
    CHECKSUMS_ENV,
    checksum_files,
    checksums_dir,
    verify,
)
from minigrad.datasets.download import BASE_URL_ENV, REGISTRY, download
from minigrad.datasets.paths import SYNTHETIC, DatasetError, data_root

NOTEBOOK_DATASETS = ("ml-100k", "enron-spam")
"""What the numbered notebooks read (ml-1m is optional: no notebook needs it by default)."""


def _add_command(commands, name, summary, description, names_help, **names):
    """Sub-command ``name``: dataset NAMEs (``names``: nargs, choices), then ``--root``."""
    command = commands.add_parser(name, help=summary, description=description)
    command.add_argument("names", metavar="NAME", help=names_help, **names)
    command.add_argument("--root", metavar="DIR",
                         help="data folder (default: $MINIGRAD_DATA, else <repo>/data)")
    return command


def _add_base_url(command):
    command.add_argument("--base-url", metavar="URL",
                         help=f"fetch <URL>/<archive> instead of the publisher's address "
                              f"(default: ${BASE_URL_ENV})")


def build_parser():
    """The argument parser, with one sub-command per action."""
    parser = argparse.ArgumentParser(prog="python -m minigrad.datasets",
                                     description="Manage minigrad's datasets.")
    commands = parser.add_subparsers(dest="command", required=True)
    prep = _add_command(
        commands, "prepare",
        "make sure the notebooks' datasets are there: download what is missing",
        "Download (size- and checksum-verified) every dataset the notebooks need "
        f"({', '.join(NOTEBOOK_DATASETS)}) that is not already in the data folder; "
        "datasets already there are left alone. Stops at the first one that "
        "cannot be had, with one message saying how to point MINIGRAD_DATA at a "
        "copy or use the synthetic stand-ins. With MINIGRAD_DATA=synthetic there "
        "is nothing to fetch.",
        f"datasets (default: {' '.join(NOTEBOOK_DATASETS)})", nargs="*")
    _add_base_url(prep)
    get = _add_command(
        commands, "download", "download and verify datasets from their publishers",
        "Download, verify and unpack datasets into the data folder "
        "($MINIGRAD_DATA, else <repo>/data). Never commit them: the "
        "MovieLens licence forbids redistribution.",
        f"one or more of: {', '.join(REGISTRY)}", nargs="+", choices=list(REGISTRY))
    get.add_argument("--force", action="store_true",
                     help="download again even if the dataset is already there")
    _add_base_url(get)
    check = _add_command(
        commands, "verify", "check the datasets in place against data/checksums",
        "Check the files under the data folder against the digests in "
        "data/checksums/. Prints OK, MISMATCH or MISSING for each file (Enron-Spam: "
        "each mailbox folder); exits 1 if anything mismatches or is missing. "
        "Without names, checks every dataset present in the data folder.",
        f"zero or more of: {', '.join(REGISTRY)} (default: those present)", nargs="*")
    check.add_argument("--checksums", metavar="DIR",
                       help=f"folder of checksum files (default: ${CHECKSUMS_ENV}, else "
                            f"<repo>/data/checksums)")
    return parser


def run_verify(names, root=None, checksums=None, out=None):
    """Verify each dataset (all present ones when ``names`` is empty); return the exit status.

    A dataset named explicitly must be present; with no names, absent ones are skipped.
    Prints to ``out`` (default: sys.stdout at call time).
    """
    out = out or sys.stdout
    root_dir = data_root(root)
    if root_dir == SYNTHETIC:
        raise DatasetError("the data root is 'synthetic' (MINIGRAD_DATA=synthetic): there are "
                           "no files to verify; pass --root DIR or set MINIGRAD_DATA to a folder")
    if not names:
        folder = checksums_dir(checksums)
        known = [n for n in REGISTRY if any((folder / f"{n}{k}").is_file()
                                            for k in CHECKSUM_KINDS)]
        names = [n for n in known if (Path(root_dir) / n).is_dir()]
        for n in known:
            if n not in names:
                print(f"{n}: not in {root_dir}, skipped", file=out)
        if not names:
            raise DatasetError(f"none of {', '.join(known) or 'the datasets'} is in "
                               f"{root_dir}; set MINIGRAD_DATA or pass --root DIR")
    problems = 0
    for name in dict.fromkeys(names):
        checks = verify(name, root, checksums=checksums)
        against = ", ".join(p.name for p in checksum_files(name, checksums).values())
        print(f"{name}: checking {Path(root_dir) / name} against {against}", file=out)
        for c in checks:
            print(f"  {c.status:<9} {c.path}{': ' + c.detail if c.detail else ''}", file=out)
        failed = sum(c.failed for c in checks)
        tally = {s: sum(c.status == s for c in checks) for s in ("OK", "MISMATCH", "MISSING",
                                                                  "ABSENT")}
        summary = ", ".join(f"{n} {s}" for s, n in tally.items() if n)
        print(f"{name}: {'FAILED' if failed else 'verified'} ({summary})", file=out)
        problems += failed
    if problems:
        print(f"verify: {problems} problem(s); see MISMATCH / MISSING above", file=out)
    return 1 if problems else 0


def run_prepare(names, root=None, base_url=None, out=None, err=None):
    """Download each dataset in ``names`` that is missing; return the exit status.

    On the first failure, prints one message to ``err`` (default: sys.stderr) with what
    went wrong and the two ways on without a download, and returns 1.
    """
    out, err = out or sys.stdout, err or sys.stderr
    names = list(dict.fromkeys(names or NOTEBOOK_DATASETS))
    root_dir = data_root(root)
    if root_dir == SYNTHETIC:
        print("MINIGRAD_DATA=synthetic: the notebooks run on generated stand-ins; nothing to "
              "download", file=out)
        return 0
    for name in names:
        try:
            download(name, root_dir, base_url=base_url)
        except DatasetError as e:
            others = [n for n in names if n != name]
            print(f"error: {name} is not ready in {root_dir}: {e}\n"
                  f"Without a download, either point MINIGRAD_DATA at a folder that holds "
                  f"{'/, '.join(names)}/:\n"
                  f"    export MINIGRAD_DATA=/path/to/data\n"
                  f"or run on generated stand-ins (figures will differ from the real data's):\n"
                  f"    export MINIGRAD_DATA=synthetic\n"
                  f"then run the same command again (see data/README.md)."
                  + (f" Not tried: {', '.join(others)}." if others else ""), file=err)
            return 1
    print(f"data ready in {root_dir}: {', '.join(names)}", file=out)
    return 0


def main(argv=None):
    """Run the command line; return the exit status (0 on success)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in ("verify", "prepare"):
            unknown = [n for n in args.names if n not in REGISTRY]
            if unknown:  # checked here: argparse rejects an empty list for nargs='*' + choices
                parser.error(f"{args.command}: unknown dataset {', '.join(map(repr, unknown))}; "
                             f"choose from {', '.join(REGISTRY)}")
        if args.command == "prepare":
            return run_prepare(args.names, args.root, args.base_url)
        if args.command == "verify":
            return run_verify(args.names, args.root, args.checksums)
        for name in dict.fromkeys(args.names):  # each once, in the order given
            download(name, args.root, force=args.force, base_url=args.base_url)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; nothing half-written was left behind", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
