"""Where the optional shared data lives: ``$LIVENESS_SHARED_DATA`` or ``../shared/data`` beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data() -> Path:
    """The shared data folder (it may not exist: callers skip or say so)."""
    return Path(os.environ.get("LIVENESS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
