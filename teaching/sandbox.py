"""Run one submission's answer cells and its question's tests; print the results as JSON.

Run as ``python -m teaching.sandbox CELLS.json TESTS_DIR RESULT.json`` in a fresh process, so a
student's code cannot touch the grader's state; ``grade.py`` starts it with a time limit.
CELLS.json is a list of ``{"index": cell number, "source": code}``.
"""

import contextlib
import doctest
import io
import json
import sys
import traceback
from pathlib import Path


def runnable(text):
    """The cell's code without IPython's magics and shell escapes, which plain Python rejects."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("%", "!")))


def execute(cells, env):
    """Run the cells in ``env`` in order; one cell's error is recorded and the next still runs."""
    errors = []
    for cell in cells:
        try:
            quiet = io.StringIO()
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                exec(compile(runnable(cell["source"]), f"<cell {cell['index']}>", "exec"), env)
        except BaseException as exc:  # a student's cell may raise anything, SystemExit too
            if isinstance(exc, KeyboardInterrupt):
                raise
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            errors.append({"index": cell["index"], "error": last})
    return errors


def read_test_file(path):
    """The ``test`` dict of one of otter's OK-format test files (a Python file of literals)."""
    env = {}
    exec(compile(Path(path).read_text(encoding="utf-8"), str(path), "exec"), env)
    if not env.get("OK_FORMAT") or "test" not in env:
        raise ValueError(f"{path}: not an OK-format test file")
    return env["test"]


def case_points(test):
    """Each case's points: its own if every case has them, else the question's split evenly."""
    cases = [c for suite in test["suites"] for c in suite["cases"]]
    if all(c.get("points") is not None for c in cases):
        return [float(c["points"]) for c in cases]
    return [float(test.get("points") or 1) / len(cases)] * len(cases)


def run_case(name, code, env):
    """One case as otter runs it: its doctest examples in ``env``; it passes if none fails."""
    examples = doctest.DocTestParser().parse(code, name)
    test = doctest.DocTest([e for e in examples if isinstance(e, doctest.Example)], env, name,
                           None, None, code)
    runner = doctest.DocTestRunner(verbose=True)
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        runner.run(test, out=log.write, clear_globs=False)
    failed = runner.failures
    return failed == 0, log.getvalue()


def run_tests(tests_dir, env):
    """Every question's test file run against ``env``: scores and per-case results."""
    results = {}
    for path in sorted(Path(tests_dir).glob("*.py")):
        test = read_test_file(path)
        cases = [c for suite in test["suites"] for c in suite["cases"]]
        points = case_points(test)
        out = []
        for i, (case, pts) in enumerate(zip(cases, points, strict=True)):
            passed, log = run_case(f"{test['name']} {i}", case["code"], env)
            out.append({"hidden": bool(case.get("hidden")), "passed": passed, "points": pts,
                        "message": "" if passed else log,
                        "failure_message": case.get("failure_message")})
        score = sum(c["points"] for c in out if c["passed"])
        if test.get("all_or_nothing") and not all(c["passed"] for c in out):
            score = 0.0
        results[test["name"]] = {"score": score, "possible": sum(points), "cases": out}
    return results


def main(argv):
    cells_path, tests_dir, result_path = argv
    cells = json.loads(Path(cells_path).read_text(encoding="utf-8"))
    env = {"__name__": "__main__"}
    errors = execute(cells, env)
    report = {"cell_errors": errors, "questions": run_tests(tests_dir, env)}
    Path(result_path).write_text(json.dumps(report), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
