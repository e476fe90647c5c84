"""``python -m teaching build`` writes the student edition and autograder;
``python -m teaching grade SUBMISSIONS`` grades a class; ``python -m teaching table --write``
refreshes TEACHING.md's table of exercises. Run from the repository's root."""

import argparse
import sys
from pathlib import Path

from . import table
from .build import build, student_kit
from .grade import grade
from .questions import ExerciseError

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m teaching", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the student edition and the autograder")
    b.add_argument("--out", default="build/course", help="output folder (default: build/course)")
    b.add_argument("--no-wheel", action="store_true",
                   help="don't build the minigrad wheel into the student folder")
    b.add_argument("notebooks", nargs="*", help="teacher's notebooks (default: notebooks/*.ipynb)")
    g = sub.add_parser("grade", help="grade SUBMISSIONS/<student>/<NN_name>.ipynb")
    g.add_argument("submissions")
    g.add_argument("--autograder", default="build/course/autograder")
    g.add_argument("--out", default="reports", help="where reports go (default: reports)")
    t = sub.add_parser("table", help="print the exercise table of TEACHING.md")
    t.add_argument("--write", action="store_true", help="write it into TEACHING.md")
    args = parser.parse_args(argv)
    try:
        if args.command == "table":
            if args.write:
                table.write()
            else:
                print(table.table())
        elif args.command == "build":
            notebooks = args.notebooks or sorted(map(str, (ROOT / "notebooks").glob("*.ipynb")))
            built = build(notebooks, args.out)
            for stem, qs in built.items():
                points = sum(q.points for q in qs)
                print(f"{stem}: {len(qs)} exercises, {points:g} points")
            if not args.no_wheel:
                print(f"package:         {student_kit(Path(args.out) / 'student')}")
            print(f"student edition: {Path(args.out) / 'student'}")
            print(f"autograder:      {Path(args.out) / 'autograder'}")
        else:
            everyone = grade(args.submissions, args.autograder, args.out)
            for student, results in everyone.items():
                total = sum(r.score for r in results)
                possible = sum(r.possible for r in results)
                print(f"{student}: {total:g} / {possible:g}")
            print(f"reports: {Path(args.out)}/<student>.md, grades.csv, questions.csv")
    except ExerciseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
