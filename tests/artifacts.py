"""Figure files under test-artifacts/ that several tests add entries to (RELIABILITY.md).

The suite runs on several pytest-xdist workers at once, so two tests may record into the same
file at the same moment: each read-modify-write happens under an exclusive lock (flock on the
file's folder), and the new text replaces the file in one rename, so a reader never sees half
a file and no entry is lost.
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path


def update_json(path: Path, change: Callable[[dict], None], *, end: str = "", **dumps) -> dict:
    """Load the JSON object in `path` ({} when missing), let `change` edit it, write it back
    with `json.dumps(**dumps)` followed by `end`; returns what was written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        saved = json.loads(path.read_text()) if path.exists() else {}
        change(saved)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(saved, **dumps) + end)
        os.replace(partial, path)
        return saved
    finally:
        os.close(folder)  # releases the lock
