"""atheris fuzz targets for long runs (see README: Tests and benchmarks)."""

from __future__ import annotations

import sys
from collections.abc import Callable


def run(check: Callable[[bytes], None]) -> None:
    """Fuzz `check` with atheris and the command line's libFuzzer flags."""
    import atheris  # an optional extra (pip install ".[fuzz]"): only long runs need it

    atheris.instrument_all()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()
