"""The teacher's side of the course: student editions, autograders and grading.

The teacher's notebooks are the lesson notebooks in ``notebooks/``. Their exercises carry the
reference solutions between ``# BEGIN SOLUTION`` / ``# END SOLUTION`` markers, and each
exercise's cells are labelled in their metadata (see ``questions.py``). ``python -m teaching
build`` turns them into a student edition and an autograder with otter-grader;
``python -m teaching grade`` grades a folder of filled-in notebooks. None of this is part of
the installed ``minigrad`` package, so a student cannot import the solutions.
"""
