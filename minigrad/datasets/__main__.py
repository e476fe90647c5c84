"""Command line: ``python -m minigrad.datasets download ml-100k ml-1m enron-spam``."""

import argparse
import sys

from minigrad.datasets._common import DatasetError
from minigrad.datasets.download import BASE_URL_ENV, REGISTRY, download


def build_parser():
    """The argument parser, with one sub-command per action."""
    parser = argparse.ArgumentParser(prog="python -m minigrad.datasets",
                                     description="Manage minigrad's datasets.")
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser(
        "download", help="download and verify datasets from their publishers",
        description="Download, verify and unpack datasets into the data folder "
                    "($MINIGRAD_DATA, else <repo>/data). Never commit them: the "
                    "MovieLens licence forbids redistribution.")
    get.add_argument("names", nargs="+", choices=list(REGISTRY), metavar="NAME",
                     help=f"one or more of: {', '.join(REGISTRY)}")
    get.add_argument("--root", metavar="DIR",
                     help="data folder (default: $MINIGRAD_DATA, else <repo>/data)")
    get.add_argument("--force", action="store_true",
                     help="download again even if the dataset is already there")
    get.add_argument("--base-url", metavar="URL",
                     help=f"fetch <URL>/<archive> instead of the publisher's address "
                          f"(default: ${BASE_URL_ENV})")
    return parser


def main(argv=None):
    """Run the command line; return the exit status (0 on success)."""
    args = build_parser().parse_args(argv)
    try:
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
