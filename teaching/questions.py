"""Read the exercises of a teacher's notebook from its cells' metadata.

Each exercise is a *question*: one answer cell, then one or more test cells, all labelled
in their metadata under the key ``exercise``::

    answer cell: {"question": "weighted_fedavg", "role": "answer"}
    test cell:   {"question": "weighted_fedavg", "role": "test",
                  "hidden": false, "points": 1, "failure_message": "..."}

The answer cell holds the stub the student sees, with the solution between
``# BEGIN SOLUTION`` / ``# END SOLUTION``. A test cell is a check: plain Python that raises
(an ``AssertionError`` with a message saying which case failed, expected against got) when
the answer is wrong, and prints nothing when it is right. Visible tests go to the student;
hidden ones only to the autograder. Question names starting with ``try_`` are the short
exercises inside a lesson; the others are the graded exercises at the end of a notebook,
which must have at least one hidden test.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

KEY = "exercise"
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
TEST_FIELDS = {"question", "role", "hidden", "points", "failure_message"}


class ExerciseError(ValueError):
    """A teacher's notebook whose exercise cells are not labelled as ``questions.py`` says."""


@dataclass
class Test:
    """One test cell of a question: its index in the notebook and its settings."""

    index: int
    hidden: bool
    points: float
    failure_message: str | None


@dataclass
class Question:
    """One exercise: its answer cell, then its test cells (indices into the notebook)."""

    name: str
    answer: int
    tests: list[Test] = field(default_factory=list)

    @property
    def graded(self):
        """Graded exercises (end of a notebook) have hidden tests; ``try_`` ones need not."""
        return not self.name.startswith("try_")

    @property
    def points(self):
        return sum(t.points for t in self.tests)


def source(cell):
    """A cell's source as one string (notebooks may store it as a list of lines)."""
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def load(path):
    """The notebook at ``path`` as a dict, with a clear error if it is not one."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExerciseError(f"{path}: not a readable notebook ({exc})") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ExerciseError(f"{path}: not a notebook (no list of cells)")
    return nb


def solution_lines(text):
    """The lines strictly between the solution markers of ``text``."""
    lines, inside = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            inside = True
        elif stripped.startswith(END):
            inside = False
        elif inside:
            lines.append(line)
    return lines


def questions(nb, where="notebook"):
    """The questions of notebook ``nb`` in order, checked; ``where`` names it in errors."""
    found, seen = [], set()
    current = None
    for i, cell in enumerate(nb["cells"]):
        meta = cell.get("metadata", {}).get(KEY)
        if meta is None:
            current = None
            continue
        at = f"{where}, cell {i}"
        if cell.get("cell_type") != "code":
            raise ExerciseError(f"{at}: only code cells can be exercise cells")
        if not isinstance(meta, dict) or not isinstance(meta.get("question"), str):
            raise ExerciseError(f"{at}: metadata '{KEY}' must name its question")
        name, role = meta["question"], meta.get("role")
        if not NAME.match(name):
            raise ExerciseError(f"{at}: question name {name!r} must be lower_snake_case")
        text = source(cell)
        if role == "answer":
            if name in seen:
                raise ExerciseError(f"{at}: question {name!r} has a second answer cell")
            if BEGIN not in text or END not in text:
                raise ExerciseError(f"{at}: the answer to {name!r} needs {BEGIN!r} and {END!r}")
            seen.add(name)
            current = Question(name, i)
            found.append(current)
        elif role == "test":
            if current is None or current.name != name:
                raise ExerciseError(
                    f"{at}: a test of {name!r} must follow its answer cell or another of its tests")
            unknown = set(meta) - TEST_FIELDS
            if unknown:
                raise ExerciseError(f"{at}: unknown test settings {sorted(unknown)}")
            points = meta.get("points", 1)
            if not isinstance(points, int | float) or isinstance(points, bool) or points <= 0:
                raise ExerciseError(f"{at}: points must be a positive number, got {points!r}")
            if BEGIN in text:
                raise ExerciseError(f"{at}: a test cell of {name!r} holds a solution marker")
            current.tests.append(Test(i, bool(meta.get("hidden", False)), points,
                                      meta.get("failure_message")))
        else:
            raise ExerciseError(f"{at}: role must be 'answer' or 'test', got {role!r}")
    for q in found:
        if not q.tests:
            raise ExerciseError(f"{where}: question {q.name!r} has no test cell")
        if q.graded and not any(t.hidden for t in q.tests):
            raise ExerciseError(f"{where}: graded question {q.name!r} has no hidden test")
        if all(t.hidden for t in q.tests):
            raise ExerciseError(f"{where}: question {q.name!r} has no visible test")
    return found


LABEL = re.compile(r"\b(easy|medium|hard)\b[^\n]*?~?(\d+)\s*min")


def label(nb, question):
    """(difficulty, minutes) from the Markdown cell before the question's answer cell, or None."""
    before = [c for c in nb["cells"][:question.answer] if c.get("cell_type") == "markdown"]
    found = LABEL.search(source(before[-1])) if before else None
    return (found[1], int(found[2])) if found else None
