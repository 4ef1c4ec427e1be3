"""ferryd's benchmark harness: ferryd and reference servers side by side on loopback.

Run it with `python -m bench.run` (or `python bench/run.py`); docs/performance.md explains it.
"""
