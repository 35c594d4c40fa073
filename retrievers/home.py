"""Where libraries live: the one place that reads RUMMAGE_HOME (as llm's `user_dir()` does).

The library layout is owned by retrievers (`<home>/<name>/library.db`), so the home folder is
resolved here, once, and every entry point (the CLI, the chat, `Agent.open`) asks this function
instead of reading the environment itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV = "RUMMAGE_HOME"


def rummage_home(environ: Mapping[str, str] | None = None) -> Path:
    """$RUMMAGE_HOME, else the platform's data folder for rummage (~/.local/share/rummage)."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV):
        return Path(environ[ENV]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("rummage")).expanduser()
