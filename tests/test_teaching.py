"""The course's exercises, end to end: the student edition and the autograder built from the
teacher's notebooks with otter-grader, graded as a teacher would grade them.

- the reference solutions score full marks, the empty stubs score 0;
- one plausible wrong answer per exercise loses points, other right answers do not;
- the student edition holds no solution text and no hidden test, passes ruff, and its cells
  after an empty stub still run;
- the grading command writes a report per student and the class's CSVs.
"""

import copy
import csv
import importlib
import json
import shutil
import subprocess
import sys

import pytest
from teacher import NOTEBOOKS

from teaching import build, grade, questions

TEACHER = sorted(NOTEBOOKS.glob("*.ipynb"))
STEMS = [p.stem for p in TEACHER]
QUESTIONS = {p.stem: questions.questions(questions.load(p), p.name) for p in TEACHER}
ALL = [(stem, q.name) for stem, qs in QUESTIONS.items() for q in qs]
ROOT = NOTEBOOKS.parent


def answers(kind):
    """Every (notebook, question, source) of ``wrong_answers.nbNN.<kind>``."""
    found = []
    for stem in STEMS:
        try:
            module = importlib.import_module(f"wrong_answers.nb{stem[:2]}")
        except ModuleNotFoundError:
            continue
        found += [(stem, name, code) for name, code in getattr(module, kind, {}).items()]
    return found


class Course:
    """The editions, built on first use one notebook at a time (so ``-k 02`` builds only 02)."""

    def __init__(self, out):
        self.out, self.built = out, set()

    def __call__(self, stem=None):
        for s in [stem] if stem else STEMS:
            if s not in self.built:
                build.build([NOTEBOOKS / f"{s}.ipynb"], self.out)
                self.built.add(s)
        return self.out


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    return Course(tmp_path_factory.mktemp("course"))


def grade_cells(course, stem, replace=None):
    """Grade otter's solution notebook of ``stem``, with answer cells replaced as given."""
    grader = course(stem) / "autograder" / stem
    nb = questions.load(grader / "solution.ipynb")
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get(questions.KEY, {})
        if meta.get("role") == "answer" and meta["question"] in (replace or {}):
            cell["source"] = replace[meta["question"]]
    path = course.out / f"submission-{stem}.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return grade.grade_notebook(path, grader)


def test_every_notebook_has_exercises():
    for stem, qs in QUESTIONS.items():
        assert any(q.graded for q in qs), f"{stem}: no graded exercise"
        assert any(not q.graded for q in qs), f"{stem}: no short exercise inside the lesson"


@pytest.mark.parametrize("stem", STEMS)
def test_reference_solutions_score_full_marks(course, stem):
    result = grade_cells(course, stem)
    assert result.notes == []
    for name, q in result.questions.items():
        failed = [c["message"] for c in q["cases"] if not c["passed"]]
        assert q["score"] == q["possible"] > 0, f"{stem} {name}: {failed}"


@pytest.mark.parametrize("stem", STEMS)
def test_empty_stubs_score_zero(course, stem):
    out = course(stem)
    result = grade.grade_notebook(out / "student" / f"{stem}.ipynb", out / "autograder" / stem)
    assert result.score == 0
    assert result.possible == sum(q.points for q in QUESTIONS[stem])


def test_every_exercise_has_a_wrong_answer():
    have = {(stem, name) for stem, name, _ in answers("WRONG")}
    assert sorted(set(ALL) - have) == []
    assert sorted(have - set(ALL)) == []


@pytest.mark.parametrize(("stem", "name", "code"), answers("WRONG"),
                         ids=[f"{s[:2]}-{n}" for s, n, _ in answers("WRONG")])
def test_a_plausible_wrong_answer_loses_points(course, stem, name, code):
    q = grade_cells(course, stem, {name: code}).questions[name]
    assert q["score"] < q["possible"]


@pytest.mark.parametrize(("stem", "name", "code"), answers("OTHER_RIGHT"),
                         ids=[f"{s[:2]}-{n}" for s, n, _ in answers("OTHER_RIGHT")])
def test_a_right_answer_written_differently_scores_full_marks(course, stem, name, code):
    q = grade_cells(course, stem, {name: code}).questions[name]
    assert q["score"] == q["possible"], [c["message"] for c in q["cases"] if not c["passed"]]


@pytest.mark.parametrize("stem", STEMS)
def test_student_edition_holds_no_solution_and_no_hidden_test(course, stem):
    teacher = questions.load(NOTEBOOKS / f"{stem}.ipynb")
    student = questions.load(course(stem) / "student" / f"{stem}.ipynb")
    assert build.leaks(teacher, student, QUESTIONS[stem]) == []
    for cell in student["cells"]:
        if questions.KEY in cell.get("metadata", {}):
            assert cell["metadata"][questions.KEY]["role"] == "answer"
            assert cell.get("outputs", []) == []


def test_the_leak_check_finds_a_planted_solution_line():
    stem = STEMS[0]
    teacher = questions.load(NOTEBOOKS / f"{stem}.ipynb")
    q = QUESTIONS[stem][0]
    line = max(questions.solution_lines(questions.source(teacher["cells"][q.answer])), key=len)
    student = copy.deepcopy(teacher)
    for cell in student["cells"]:
        cell["source"] = questions.source(cell).replace(questions.BEGIN, "").replace(
            questions.END, "")
    student["cells"] = [c for c in student["cells"] if "role" not in
                        c.get("metadata", {}).get(questions.KEY, {})]
    student["cells"].append({"cell_type": "code", "metadata": {}, "source": line, "outputs": []})
    assert any("solution line" in f for f in build.leaks(teacher, student, QUESTIONS[stem]))


def test_student_edition_passes_ruff(course):
    pytest.importorskip("ruff")
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                          str(ROOT / "pyproject.toml"), "--ignore", "E402,E501",
                          str(course() / "student")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("stem", STEMS)
def test_lesson_cells_never_use_what_a_student_writes(stem):
    """The notebook goes on with the package's version, so an empty stub breaks nothing after it."""
    nb = questions.load(NOTEBOOKS / f"{stem}.ipynb")
    answer_names = {}
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        role = cell.get("metadata", {}).get(questions.KEY, {}).get("role")
        bound, used = names(questions.source(cell))
        if role == "answer":
            answer_names.update(dict.fromkeys(bound - defined_by_lesson(nb, i), i))
        elif role is None and questions.BEGIN not in questions.source(cell):
            # (a "going further" cell is stripped in the student edition, so it may use them)
            clash = sorted(n for n in used if n in answer_names)
            assert clash == [], f"{stem} cell {i} uses {clash}, which a student writes"


def names(text):
    import ast

    tree = ast.parse(text)
    bound = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            bound |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return bound, used


def defined_by_lesson(nb, upto):
    """Names that lesson cells before ``upto`` bind (a student's redefinition of them is fine)."""
    bound = set()
    for cell in nb["cells"][:upto]:
        if cell["cell_type"] == "code" and questions.KEY not in cell.get("metadata", {}):
            bound |= names(questions.source(cell))[0]
    return bound


def test_grading_a_class_writes_reports_and_csvs(course, tmp_path):
    stem = STEMS[0]
    course = course()
    subs = tmp_path / "submissions"
    (subs / "ada").mkdir(parents=True)
    (subs / "bo").mkdir()
    shutil.copy(course / "autograder" / stem / "solution.ipynb", subs / "ada" / f"{stem}.ipynb")
    shutil.copy(course / "student" / f"{stem}.ipynb", subs / "bo" / f"{stem}.ipynb")
    (subs / "bo" / "notes.ipynb").write_text("{not json", encoding="utf-8")
    out = tmp_path / "reports"
    run = subprocess.run([sys.executable, "-m", "teaching", "grade", str(subs), "--autograder",
                          str(course / "autograder"), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
    full = sum(q.points for q in QUESTIONS[stem])
    assert float(rows["ada"][stem]) == full and float(rows["bo"][stem]) == 0
    assert float(rows["ada"]["possible"]) == sum(q.points for qs in QUESTIONS.values() for q in qs)
    report = (out / "bo.md").read_text(encoding="utf-8")
    assert "notes.ipynb is not one of the course's notebooks" in report
    assert "not submitted" in report
    assert report.count("not attempted") == len(QUESTIONS[stem])
    assert "not attempted" not in (out / "ada.md").read_text(encoding="utf-8")
    hidden = [t for q in QUESTIONS[stem] for t in q.tests if t.hidden]
    teacher = questions.load(NOTEBOOKS / f"{stem}.ipynb")
    for t in hidden:
        for line in questions.source(teacher["cells"][t.index]).splitlines():
            if len(line.strip()) >= 12:
                assert line.strip() not in report
    lines = list(csv.DictReader(open(out / "questions.csv", encoding="utf-8")))
    assert {r["question"] for r in lines} >= {q.name for q in QUESTIONS[stem]}


@pytest.mark.parametrize("stem", STEMS)
def test_every_exercise_says_its_difficulty_and_time(stem):
    nb = questions.load(NOTEBOOKS / f"{stem}.ipynb")
    for q in QUESTIONS[stem]:
        assert questions.label(nb, q) is not None, (
            f"{stem} {q.name}: the Markdown cell before its answer cell must say e.g. "
            "'easy · ~10 min'")


def test_teaching_md_lists_the_exercises_as_they_are():
    from teaching import table

    text = (ROOT / "TEACHING.md").read_text(encoding="utf-8")
    assert table.current(text, table.table()) == text, "run `python -m teaching table --write`"


def test_the_solutions_are_not_in_the_package():
    import importlib.util

    assert importlib.util.find_spec("minigrad.solutions") is None


def test_the_sandbox_scores_as_otter_does(course):
    """otter's own test runner is the oracle for the grader's faster one."""
    otter_files = pytest.importorskip("otter.test_files")
    from teaching import sandbox

    stem = STEMS[0]
    grader = course(stem) / "autograder" / stem
    for notebook in (grader / "solution.ipynb", grader / "handout.ipynb"):
        nb = questions.load(notebook)
        cells = [{"index": i, "source": questions.source(c)} for i, c in enumerate(nb["cells"])
                 if c.get("metadata", {}).get(questions.KEY, {}).get("role") == "answer"]
        ours_env, otter_env = {}, {}
        sandbox.execute(cells, ours_env)
        sandbox.execute(cells, otter_env)
        ours = sandbox.run_tests(grader / "tests", ours_env)
        for path in sorted((grader / "tests").glob("*.py")):
            tf = otter_files.OKTestFile.from_file(str(path))
            tf.run(otter_env)
            assert ours[tf.name]["score"] == pytest.approx(tf.score)
            assert ours[tf.name]["possible"] == pytest.approx(tf.possible)
            assert [c["passed"] for c in ours[tf.name]["cases"]] == [
                r.passed for r in tf.test_case_results]


def run_notebook(path, cwd):
    """Execute a notebook in a kernel; the cells that raised, as (index, error name)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, allow_errors=True,
                            resources={"metadata": {"path": cwd}})
    client.execute()
    return [(i, o.get("ename")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.parametrize("stem", STEMS)
def test_student_edition_runs_its_exercise_cells_without_error(course, stem, tmp_path):
    """The otter start-up cell, every empty stub and every check run without raising."""
    import nbformat

    student = course(stem) / "student" / f"{stem}.ipynb"
    nb = nbformat.read(student, as_version=4)
    keep = [c for c in nb.cells if c.cell_type == "code" and (
        "otter.Notebook(" in c.source or c.source.startswith("grader.check")
        or questions.KEY in c.metadata)]
    assert len(keep) == 1 + 2 * len(QUESTIONS[stem])
    nb.cells = keep
    path = tmp_path / f"{stem}.ipynb"
    shutil.copy(student, path)
    reduced = tmp_path / "reduced.ipynb"
    nbformat.write(nb, reduced)
    assert run_notebook(reduced, str(tmp_path)) == []


def test_student_edition_of_00_runs_top_to_bottom(course, tmp_path):
    """A whole student notebook, with every stub empty, runs from the first cell to the last."""
    stem = STEMS[0]
    shutil.copy(course(stem) / "student" / f"{stem}.ipynb", tmp_path)
    assert run_notebook(tmp_path / f"{stem}.ipynb", str(tmp_path)) == []


def student_copy(course, stem, edit):
    """The solution notebook of ``stem`` with ``edit(cells)`` applied, saved for grading."""
    nb = questions.load(course(stem) / "autograder" / stem / "solution.ipynb")
    edit(nb["cells"])
    path = course.out / f"edited-{stem}.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return grade.grade_notebook(path, course.out / "autograder" / stem, time_limit=20)


def answer_index(cells, name):
    return next(i for i, c in enumerate(cells)
                if c.get("metadata", {}).get(questions.KEY, {}).get("question") == name
                and c["metadata"][questions.KEY]["role"] == "answer")


def test_the_grader_runs_cells_a_student_added_and_names_a_cell_that_raised(course):
    stem = STEMS[0]
    first, second = QUESTIONS[stem][0].name, QUESTIONS[stem][1].name

    def edit(cells):
        # a helper cell the student added above the first answer, which that answer then uses
        i = answer_index(cells, first)
        original = questions.source(cells[i])
        cells[i]["source"] = "exec(HELPER)\n"
        cells.insert(i, {"cell_type": "code", "id": "added01", "metadata": {}, "outputs": [],
                         "execution_count": None, "source": f"HELPER = {original!r}\n"})
        cells[answer_index(cells, second)]["source"] = "raise RuntimeError('not finished')\n"

    result = student_copy(course, stem, edit)
    assert result.questions[first]["score"] == result.questions[first]["possible"]
    assert result.questions[second]["score"] == 0
    assert any("RuntimeError" in note for note in result.notes)
    others = [q for name, q in result.questions.items() if name not in (first, second)]
    assert all(q["score"] == q["possible"] for q in others)


def test_the_grader_stops_an_answer_that_never_returns(course):
    stem = STEMS[0]

    def edit(cells):
        cells[answer_index(cells, QUESTIONS[stem][0].name)]["source"] = "while True:\n    pass\n"

    result = student_copy(course, stem, edit)
    assert result.score == 0 and any("stopped after" in note for note in result.notes)


def test_an_unreadable_submission_scores_zero_and_says_why(course, tmp_path):
    stem = STEMS[0]
    bad = tmp_path / f"{stem}.ipynb"
    bad.write_text('{"cells": "not a list"}', encoding="utf-8")
    result = grade.grade_notebook(bad, course(stem) / "autograder" / stem)
    assert result.score == 0 and result.possible == sum(q.points for q in QUESTIONS[stem])
    assert any("could not be read" in note for note in result.notes)
