"""Evaluation suites of deconstruct, each runnable as ``python -m eval <suite> ...`` and writing a report folder."""
