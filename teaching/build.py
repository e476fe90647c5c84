"""Build the student edition and the autograder from the teacher's notebooks, with otter-grader.

For each teacher's notebook the build writes an otter "master notebook" (the same cells, with
otter's raw boundary cells placed around each question as ``questions.py`` reads them), runs
``otter assign`` on it, and checks what came out: the student notebook holds no line of any
solution and no hidden test, and keeps the outputs of the lesson's own cells (otter clears
every output; the answer cells' outputs stay cleared). Layout of ``out``::

    student/NN_name.ipynb              what students get
    autograder/NN_name/tests/*.py      every test, hidden ones too (otter's format)
    autograder/NN_name/handout.ipynb   the student notebook as handed out (for grading)
    autograder/NN_name/solution.ipynb  otter's solution notebook
    autograder/NN_name.zip             otter's autograder zip (for ``otter run`` or Gradescope)
"""

import copy
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .questions import BEGIN, END, KEY, ExerciseError, load, questions, solution_lines, source

CONFIG = """\
# ASSIGNMENT CONFIG
name: {name}
init_cell: true
check_all_cell: false
export_cell: false
run_tests: false
strip_solutions_from_all_cells: true
tests:
  files: false
  ok_format: true
"""


def raw(text):
    return {"cell_type": "raw", "metadata": {}, "source": text}


def test_cell(cell, test):
    """A test cell with otter's per-test configuration block prepended."""
    lines = [f"hidden: {'true' if test.hidden else 'false'}", f"points: {test.points}"]
    if test.failure_message:
        lines.append("failure_message: " + json.dumps(test.failure_message))
    header = '""" # BEGIN TEST CONFIG\n' + "\n".join(lines) + '\n""" # END TEST CONFIG\n'
    cell = copy.deepcopy(cell)
    cell["source"] = header + source(cell)
    cell["outputs"], cell["execution_count"] = [], None
    return cell


def otter_master(nb, name, where):
    """The teacher's notebook ``nb`` rewritten in otter's master-notebook format."""
    qs = questions(nb, where)
    by_start = {q.answer: q for q in qs}
    tests = {t.index: t for q in qs for t in q.tests}
    for i in tests:
        if nb["cells"][i].get("outputs"):
            raise ExerciseError(f"{where}, cell {i}: a test cell must print nothing when it passes")
    cells = [raw(CONFIG.format(name=name))]
    for i, cell in enumerate(nb["cells"]):
        q = by_start.get(i)
        if q is not None:
            cells += [raw(f"# BEGIN QUESTION\nname: {q.name}\npoints: {q.points}"),
                      raw("# BEGIN SOLUTION"), copy.deepcopy(cell), raw("# END SOLUTION"),
                      raw("# BEGIN TESTS")]
            cells += [test_cell(nb["cells"][t.index], t) for t in q.tests]
            cells += [raw("# END TESTS"), raw("# END QUESTION")]
        elif i not in tests:
            cells.append(copy.deepcopy(cell))
    master = copy.deepcopy(nb)
    master["cells"] = cells
    return master, qs


def distinctive(lines, elsewhere):
    """The lines worth looking for in a leak: long enough, and found nowhere else in the lesson."""
    return {s for s in (line.strip() for line in lines) if len(s) >= 12 and s not in elsewhere}


def student_lines(student):
    """Every line a student can read: cell sources, and the visible tests in the metadata."""
    lines = set()
    for cell in student["cells"]:
        lines.update(line.strip() for line in source(cell).splitlines())
    tests = student.get("metadata", {}).get("otter", {}).get("tests", {})
    for test in tests.values():
        for suite in test.get("suites", []):
            for case in suite.get("cases", []):
                for line in case.get("code", "").splitlines():
                    lines.add(line.strip().removeprefix(">>> ").removeprefix("... ").strip())
    return lines


def leaks(teacher, student, qs):
    """Solution or hidden-test lines of ``teacher`` that appear in ``student`` (should be none).

    A line leaks if a student could read it whole; the lesson's own lines don't count, and the
    markers count only in code (the lesson's prose may name them).
    """
    solution, hidden, lesson = [], [], set()
    hidden_cells = {t.index for q in qs for t in q.tests if t.hidden}
    for i, cell in enumerate(teacher["cells"]):
        text = source(cell)
        inside = solution_lines(text)
        if i in hidden_cells:
            hidden += text.splitlines()
            continue
        solution += inside
        lesson.update(s.strip() for s in text.splitlines() if s not in inside)
    readable = student_lines(student)
    found = []
    for kind, lines in (("solution", solution), ("hidden test", hidden)):
        for line in sorted(distinctive(lines, lesson)):
            if line in readable:
                found.append(f"{kind} line {line!r}")
    for cell in student["cells"]:
        if cell.get("cell_type") == "code" and (BEGIN in source(cell) or END in source(cell)):
            found.append("a solution marker")
    return found


def restore_lesson_outputs(student, teacher):
    """Give back the outputs otter cleared from the lesson's own, unchanged cells."""
    by_id = {c.get("id"): c for c in teacher["cells"] if c.get("id")}
    for cell in student["cells"]:
        origin = by_id.get(cell.get("id"))
        if (cell["cell_type"] == "code" and origin is not None
                and "otter_answer_cell" not in cell.get("metadata", {}).get("tags", [])
                and source(origin) == source(cell)):
            cell["outputs"] = copy.deepcopy(origin.get("outputs", []))
            cell["execution_count"] = origin.get("execution_count")
    return student


def tidy(student):
    """Mark answer cells as otter does for students; drop run-time metadata (timestamps)."""
    for cell in student["cells"]:
        meta = cell.get("metadata", {})
        meta.pop("execution", None)
        text = source(cell)
        if text.startswith("# Initialize Otter\nimport otter\ngrader"):
            # a blank line after the import, as ruff's import sorting wants
            cell["source"] = text.replace("import otter\ngrader", "import otter\n\ngrader")
        if meta.get(KEY, {}).get("role") == "answer":
            tags = [t for t in meta.get("tags", []) if t != "otter_assign_solution_cell"]
            meta["tags"] = tags + ["otter_answer_cell"]
    return student


def write_json(path, nb):
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def otter_assign(master, result, where):
    """``otter assign`` in this process (otter takes seconds to import: once, not per notebook)."""
    import contextlib
    import io

    from otter.assign import main as assign_main

    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            assign_main(str(master), str(result), no_pdfs=True, no_run_tests=True)
    except Exception as exc:
        raise ExerciseError(f"{where}: otter assign failed: {exc}\n{log.getvalue()}") from exc


def assign(teacher_path, out):
    """Run otter assign on one teacher's notebook; return its questions."""
    teacher_path = Path(teacher_path)
    stem = teacher_path.stem
    teacher = load(teacher_path)
    master, qs = otter_master(teacher, stem, str(teacher_path))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_json(tmp / teacher_path.name, master)
        otter_assign(tmp / teacher_path.name, tmp / "dist", str(teacher_path))
        student = tidy(restore_lesson_outputs(
            load(tmp / "dist" / "student" / teacher_path.name), teacher))
        found = leaks(teacher, student, qs)
        if found:
            raise ExerciseError(f"{teacher_path}: the student edition would leak "
                                + "; ".join(found[:5]))
        (out / "student").mkdir(parents=True, exist_ok=True)
        write_json(out / "student" / teacher_path.name, student)
        grader = out / "autograder" / stem
        if grader.exists():
            shutil.rmtree(grader)
        (grader / "tests").mkdir(parents=True)
        (zip_path,) = (tmp / "dist" / "autograder").glob("*.zip")
        with zipfile.ZipFile(zip_path) as zf:
            for member in zf.namelist():
                if member.startswith("tests/") and member.endswith(".py"):
                    (grader / member).write_bytes(zf.read(member))
        shutil.copy(zip_path, out / "autograder" / f"{stem}.zip")
        write_json(grader / "handout.ipynb", student)
        shutil.copy(tmp / "dist" / "autograder" / teacher_path.name, grader / "solution.ipynb")
    return qs


def build(notebooks, out):
    """Build every notebook in ``notebooks`` into ``out``; returns {stem: questions}."""
    out = Path(out)
    return {Path(p).stem: assign(p, out) for p in notebooks}


STUDENT_README = """\
# minigrad: the student edition

Install (Python 3.10 or later), from this folder, in a fresh virtual environment:

    python3 -m pip install -r requirements.txt

Data: notebooks 01-06 read MovieLens-100K and Enron-Spam. `python3 -m minigrad.datasets prepare`
downloads them (or set `MINIGRAD_DATA` to a folder that has them). Then `jupyter lab`.

Each exercise is a cell to complete; run the check under it (`grader.check(...)`) for feedback.
The grader runs only your answer cells, on its own small inputs, and hidden tests try more cases:
keep each answer self-contained and don't rely on the notebook's variables. Hand in the
notebooks themselves, saved, under their own names.
"""


# what a student installs: the package's own dependencies, JupyterLab, and otter for the checks
STUDENT_PACKAGES = {"numpy", "pandas", "matplotlib", "jupyterlab", "otter-grader"}


def student_kit(student_dir):
    """Add the minigrad wheel, a requirements file and a README to the student folder."""
    student_dir = Path(student_dir)
    root = Path(__file__).resolve().parent.parent
    for old in student_dir.glob("minigrad-*.whl"):
        old.unlink()
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                          str(student_dir), str(root)], capture_output=True, text=True)
    if run.returncode != 0:
        raise ExerciseError(f"building the minigrad wheel failed (offline? `build --no-wheel` "
                            f"skips it):\n{run.stdout}{run.stderr}")
    (wheel,) = student_dir.glob("minigrad-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        leaked = [n for n in zf.namelist() if "solution" in n]
    if leaked:
        raise ExerciseError(f"{wheel.name} holds {leaked}: solutions must not ship in the package")
    requirements = [line for line in (root / "requirements.txt").read_text().splitlines()
                    if re.match(r"[A-Za-z0-9_.-]+", line)
                    and re.match(r"[A-Za-z0-9_.-]+", line)[0] in STUDENT_PACKAGES]
    (student_dir / "requirements.txt").write_text(
        "\n".join([*requirements, f"./{wheel.name}"]) + "\n", encoding="utf-8")
    (student_dir / "README.md").write_text(STUDENT_README, encoding="utf-8")
    return wheel
