"""The client's journal (spec section 10.1), in the Swift CLI's format.

An append-only file of JSON lines, each fsynced before the step it records goes on:

    {"step": "submitting"|"submitted"|"exec"|"finished", "key", "file",
     "id"?, "spec"? (on "submitting"), "state"? (on "finished"), "at"}

Entries are grouped by idempotency key. A torn last line (a crash mid-write) is skipped.
``baton run``/``baton resume`` and this package read each other's journals.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from .wire import normalize_spec, timestamp


@dataclass
class Entry:
    """One workflow started through the handshake."""

    key: str
    file: str
    spec: Dict[str, Any]
    id: Optional[str] = None


class Journal:
    def __init__(self, path: str):
        self.path = os.fspath(path)

    def append(self, entry: Entry, step: str, state: Optional[str] = None) -> None:
        line: Dict[str, Any] = {"step": step, "key": entry.key, "file": entry.file, "at": timestamp()}
        if entry.id is not None:
            line["id"] = entry.id
        if step == "submitting":
            line["spec"] = normalize_spec(entry.spec)
        if state is not None:
            line["state"] = state
        self._write(line)

    def entries(self) -> List[Entry]:
        """Every entry, in the order they were started, with the last id journaled."""
        return [e for e, _ in self._read()]

    def unfinished(self) -> List[Entry]:
        """Entries whose last step is not "finished", in the order they were started."""
        return [e for e, finished in self._read() if not finished]

    def _read(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        order: List[str] = []
        entries: Dict[str, Entry] = {}
        finished: Dict[str, bool] = {}
        for raw in data.split(b"\n"):
            try:
                line = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue  # a torn line
            if not isinstance(line, dict) or not isinstance(line.get("key"), str):
                continue
            key = line["key"]
            step = line.get("step")
            if step == "submitting":
                spec = line.get("spec")
                if not isinstance(spec, dict):
                    continue
                if key not in entries:
                    order.append(key)
                previous = entries.get(key)
                file = line.get("file") if isinstance(line.get("file"), str) else "?"
                entries[key] = Entry(key=key, file=file, spec=spec, id=previous.id if previous else None)
                finished[key] = False
            elif step in ("submitted", "exec"):
                if key in entries and isinstance(line.get("id"), str):
                    entries[key].id = line["id"]
            elif step == "finished":
                finished[key] = True
        return [(entries[k], finished.get(k, False)) for k in order]

    def _write(self, line: Dict[str, Any]) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        data = json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
