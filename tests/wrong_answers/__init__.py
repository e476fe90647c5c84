"""One plausible wrong answer per exercise (``WRONG``), and correct answers written differently
from the reference (``OTHER_RIGHT``), for each notebook: ``nbNN.py``.

``tests/test_teaching.py`` puts each into the exercise's answer cell of the solution notebook
and grades it: every wrong answer must lose points on its question, every other right answer
must score full marks. Each value is the whole source of the answer cell.
"""
