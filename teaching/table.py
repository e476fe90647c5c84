"""The table of exercises in TEACHING.md, generated from the teacher's notebooks.

``python -m teaching table`` prints it; ``--write`` puts it between the markers in TEACHING.md
(``tests/test_teaching.py`` fails while the committed table is out of date).
"""

from pathlib import Path

from .questions import label, load, questions, source

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- exercises:start -->", "<!-- exercises:end -->"


def table(notebooks=None):
    """Markdown: per notebook, its words of text and its exercises (points, difficulty, time)."""
    notebooks = notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    rows = ["| notebook | words | try it (in the lesson) | graded (end) | points | minutes |",
            "|---|---|---|---|---|---|"]
    for path in notebooks:
        nb = load(path)
        qs = questions(nb, path.name)
        cells = {True: [], False: []}
        minutes = 0
        for q in qs:
            lab = label(nb, q)
            minutes += lab[1] if lab else 0
            tag = f"`{q.name}` ({lab[0]}, {lab[1]} min)" if lab else f"`{q.name}`"
            cells[q.graded].append(tag)
        points = sum(q.points for q in qs)
        words = sum(len(source(c).split()) for c in nb["cells"] if c["cell_type"] == "markdown")
        rows.append(f"| {path.stem} | {words:,} | {'; '.join(cells[False])} "
                    f"| {'; '.join(cells[True])} | {points:g} | {minutes} |")
    return "\n".join(rows)


def current(text, generated):
    """``text`` with the generated table put between the markers."""
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{generated}\n{END}{tail}"


def write(path=ROOT / "TEACHING.md"):
    path.write_text(current(path.read_text(encoding="utf-8"), table()), encoding="utf-8")
