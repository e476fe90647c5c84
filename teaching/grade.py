"""Grade a folder of filled-in student notebooks against the autograder the build wrote.

Layout read: ``submissions/<student>/<NN_name>.ipynb``, one folder per student, each
notebook named as it was handed out. For every notebook the grader runs, in a fresh process
with a time limit, only the student's answer cells and any cells the student added (never the
lesson's cells, so no dataset is needed), then every test of every question. Written:

    <out>/<student>.md   a report per student: score per question, and for each failed check
                         what it tried and what went wrong (hidden tests: only their message)
    <out>/grades.csv     one row per student: points per notebook, total
    <out>/questions.csv  one row per student, notebook and question
"""

import csv
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .questions import KEY, ExerciseError, load, source
from .sandbox import case_points, read_test_file

TIME_LIMIT = 300  # seconds per notebook; the checks themselves take a few
NOT_SUBMITTED = "not submitted"


@dataclass
class NotebookResult:
    """The grade of one notebook of one student."""

    notebook: str
    possible: float
    questions: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def score(self):
        return sum(q["score"] for q in self.questions.values())


def cells_to_run(submission, handout):
    """The student's answer cells and added cells, in order, as the sandbox wants them."""
    handed_out = {c.get("id") for c in handout["cells"] if c.get("id")}
    cells = []
    for i, cell in enumerate(submission["cells"]):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {})
        is_answer = isinstance(meta.get(KEY), dict) and meta[KEY].get("role") == "answer"
        if is_answer or cell.get("id") not in handed_out:
            text = source(cell)
            if "otter.Notebook(" in text or text.strip().startswith("grader.check"):
                continue
            cells.append({"index": i, "source": text})
    return cells


def answer_sources(nb):
    """{question: source of its answer cell}, in the notebook's order."""
    found = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get(KEY)
        if isinstance(meta, dict) and meta.get("role") == "answer":
            found.setdefault(meta.get("question"), source(cell))
    return found


def possible_points(tests_dir):
    """Each question's maximum, read from the autograder's test files without running them."""
    tests = [read_test_file(p) for p in sorted(Path(tests_dir).glob("*.py"))]
    return {t["name"]: sum(case_points(t)) for t in tests}


def zero(notebook, tests_dir, note):
    result = NotebookResult(notebook, 0.0, notes=[note])
    for name, possible in possible_points(tests_dir).items():
        result.questions[name] = {"score": 0.0, "possible": possible, "cases": [],
                                  "attempted": True}
    result.possible = sum(q["possible"] for q in result.questions.values())
    return result


def grade_notebook(path, grader_dir, time_limit=TIME_LIMIT):
    """Grade the notebook at ``path`` with the autograder folder ``grader_dir``."""
    grader_dir = Path(grader_dir)
    tests_dir = grader_dir / "tests"
    try:
        submission = load(path)
    except ExerciseError as exc:
        return zero(grader_dir.name, tests_dir, f"could not be read: {exc}")
    handout = load(grader_dir / "handout.ipynb")
    cells = cells_to_run(submission, handout)
    with tempfile.TemporaryDirectory() as tmp:
        cells_path, result_path = Path(tmp, "cells.json"), Path(tmp, "result.json")
        cells_path.write_text(json.dumps(cells), encoding="utf-8")
        env = dict(os.environ, MPLBACKEND="Agg")
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        try:
            run = subprocess.run(
                [sys.executable, "-m", "teaching.sandbox", str(cells_path),
                 str(tests_dir.resolve()), str(result_path)],
                cwd=tmp, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=time_limit)
        except subprocess.TimeoutExpired:
            return zero(grader_dir.name, tests_dir,
                        f"stopped after {time_limit} s: an answer cell runs too long")
        if run.returncode != 0 or not result_path.exists():
            tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            return zero(grader_dir.name, tests_dir, f"the grader's process failed: {tail[0]}")
        report = json.loads(result_path.read_text(encoding="utf-8"))
    stubs, answers = answer_sources(handout), answer_sources(submission)
    order = [name for name in stubs if name in report["questions"]]
    order += [name for name in report["questions"] if name not in order]
    result = NotebookResult(grader_dir.name, 0.0,
                            questions={name: report["questions"][name] for name in order})
    for name, q in result.questions.items():
        q["attempted"] = name in answers and answers[name].strip() != stubs.get(name, "").strip()
    result.possible = sum(q["possible"] for q in result.questions.values())
    for err in report["cell_errors"]:
        result.notes.append(f"cell {err['index']} raised {err['error']} (the grader runs only "
                            "your answer cells and cells you added: keep them self-contained)")
    return result


def first_failure(log):
    """(the example that failed first, its error or its wrong output) from a doctest log."""
    lines = [line.strip() for line in log.splitlines()]
    if "Failed example:" not in lines:
        return "", "failed"
    at = lines.index("Failed example:")
    block = []
    for line in lines[at + 1:]:
        if line.startswith("*****") or line == "Trying:":
            break
        if line:
            block.append(line)
    tried = block[0] if block else ""
    if "Exception raised:" in block:
        return tried, block[-1]
    if "Got:" in block:
        got = block[block.index("Got:") + 1:]
        return tried, "printed " + " ".join(got) if got else "printed nothing"
    return tried, block[-1] if block else "failed"


def feedback(case, number):
    """What a student is told about one failed test case; hidden tests show only their message."""
    if case["hidden"]:
        why = case.get("failure_message") or "no hint for this one: re-read the exercise"
        return f"hidden test {number} failed: {why}"
    tried, last = first_failure(case["message"])
    if case.get("failure_message"):
        last = f"{last} ({case['failure_message']})"
    return f"check {number} failed" + (f" at `{tried}`" if tried else "") + f": {last}"


def student_report(student, results):
    """A Markdown report for one student."""
    total = sum(r.score for r in results)
    possible = sum(r.possible for r in results)
    out = [f"# {student}: {total:g} / {possible:g} points", ""]
    for r in results:
        out += [f"## {r.notebook}: {r.score:g} / {r.possible:g}", ""]
        out += [f"- note: {note}" for note in r.notes]
        if r.notes == [NOT_SUBMITTED]:
            out.append("")
            continue
        for name, q in r.questions.items():
            if not q.get("attempted", True) and q["score"] == 0:
                out.append(f"- **{name}**: 0 / {q['possible']:g} (not attempted: the stub as "
                           "handed out)")
                continue
            mark = "passed" if q["score"] == q["possible"] else "to do"
            out.append(f"- **{name}**: {q['score']:g} / {q['possible']:g} ({mark})")
            for k, case in enumerate(q["cases"], 1):
                if not case["passed"]:
                    out.append(f"  - {feedback(case, k)}")
        out.append("")
    return "\n".join(out)


def grade(submissions, autograder, out):
    """Grade every student folder in ``submissions``; write the reports; return all results."""
    submissions, autograder, out = Path(submissions), Path(autograder), Path(out)
    graders = sorted(p for p in autograder.iterdir() if (p / "tests").is_dir())
    if not graders:
        raise ExerciseError(f"{autograder}: no autograder folders (run `python -m teaching build`)")
    students = sorted(p for p in submissions.iterdir() if p.is_dir())
    if not students:
        raise ExerciseError(
            f"{submissions}: no student folders (expected <student>/<NN_name>.ipynb)")
    out.mkdir(parents=True, exist_ok=True)
    everyone = {}
    for student in students:
        results = []
        known = {g.name for g in graders}
        for g in graders:
            path = student / f"{g.name}.ipynb"
            results.append(grade_notebook(path, g) if path.exists()
                           else zero(g.name, g / "tests", NOT_SUBMITTED))
        for extra in sorted(student.glob("*.ipynb")):
            if extra.stem not in known:
                results[0].notes.append(f"{extra.name} is not one of the course's notebooks")
        (out / f"{student.name}.md").write_text(student_report(student.name, results) + "\n",
                                                encoding="utf-8")
        everyone[student.name] = results
    write_csvs(everyone, [g.name for g in graders], out)
    return everyone


def write_csvs(everyone, notebooks, out):
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", *notebooks, "total", "possible"])
        for student, results in everyone.items():
            w.writerow([student, *(f"{r.score:g}" for r in results),
                        f"{sum(r.score for r in results):g}",
                        f"{sum(r.possible for r in results):g}"])
    with open(out / "questions.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "notebook", "question", "score", "possible"])
        for student, results in everyone.items():
            for r in results:
                for name, q in r.questions.items():
                    w.writerow([student, r.notebook, name, f"{q['score']:g}", f"{q['possible']:g}"])
