"""The reference solutions, read from the teacher's notebooks (they are not in the package).

``solutions("02")`` runs, in a fresh namespace, every code cell of ``notebooks/02_*.ipynb``
that holds a solution (the exercises' answer cells, and the worked code of the open-ended
explorations), and returns the namespace as a module-like object: ``solutions("02").infer_label``.
Those cells are self-contained (they import what they use), so no dataset is loaded.
"""

import functools
from pathlib import Path
from types import SimpleNamespace

from teaching.questions import BEGIN, load, source

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def notebook(number):
    """The path of the teacher's notebook ``NN_*.ipynb``."""
    (path,) = NOTEBOOKS.glob(f"{number}_*.ipynb")
    return path


@functools.cache
def solutions(number):
    """The namespace of notebook ``number``'s solution cells, run in order."""
    path = notebook(number)
    env = {"__name__": f"solutions_nb{number}"}
    for i, cell in enumerate(load(path)["cells"]):
        text = source(cell)
        if cell["cell_type"] == "code" and BEGIN in text:
            exec(compile(text, f"{path.name}, cell {i}", "exec"), env)
    return SimpleNamespace(**{k: v for k, v in env.items() if not k.startswith("__")})
