"""Task recipes shared by the notebooks, tests and benchmarks (data prep, train, evaluate)."""
