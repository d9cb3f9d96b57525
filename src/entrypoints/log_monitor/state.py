"""The monitor's state file: the pinned key and what earlier runs proved."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from entrypoints.log_monitor.failures import MonitorFailed


def read_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except ValueError:
        raise MonitorFailed(f"the state file {path} is not JSON") from None
    return state if isinstance(state, dict) else {}


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically: a run killed while writing leaves the previous state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".monitor-")
    with os.fdopen(descriptor, "w") as handle:
        json.dump(state, handle, indent=1)
    os.replace(temporary, path)
