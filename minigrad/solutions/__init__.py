"""Reference solutions to the notebooks' exercises: ``nbNN.py`` answers notebook NN.

They live outside the notebooks so the tests can exercise them; try the exercise first.
"""
