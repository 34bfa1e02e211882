"""Benchmarks for incidentbot: accuracy on real crashes against plain-git baselines, and speed against git.

Run them with ``make bench`` or ``python benchmarks/run.py``; see docs/benchmarks.md.
"""
