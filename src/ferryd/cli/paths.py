"""Where ferryd keeps its data when the configuration does not say otherwise."""

from __future__ import annotations

import os
from collections.abc import Mapping

DATA_DIR_ENVIRONMENT_VARIABLE = "FERRYD_HOME"
DEFAULT_DATA_DIR_NAME = "ferryd-data"


def default_data_dir(environ: Mapping[str, str] | None = None) -> str:
    """`$FERRYD_HOME` when set and not empty, else `./ferryd-data`; always absolute."""
    environment = os.environ if environ is None else environ
    configured = environment.get(DATA_DIR_ENVIRONMENT_VARIABLE, "")
    return os.path.abspath(os.path.expanduser(configured or DEFAULT_DATA_DIR_NAME))
