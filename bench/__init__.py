"""Benchmarks of byom against hand-written pipelines; run with ``make bench``.

Not tests: nothing here asserts, every figure is printed and written to
``docs/benchmarks.md``.
"""
