"""The client's journal (spec section 10.1), in the Swift CLI's format.

An append-only file of JSON lines, each fsynced before the step it records goes on:

    {"step": "submitting"|"submitted"|"exec"|"finished", "key", "file",
     "id"?, "spec"? (on "submitting"), "state"? (on "finished"), "at"}

Entries are grouped by idempotency key. A torn last line (a crash mid-write) is skipped;
the next append first ends it with a newline, as the Swift CLI does, so that the new
line is not glued to the torn one (and lost with it). ``baton run``/``baton resume`` and
this package read each other's journals.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from .wire import normalize_spec, timestamp


@dataclass
class Entry:
    """One workflow started through the handshake."""

    key: str
    file: str
    spec: Dict[str, Any]
    id: Optional[str] = None
    #: The last event ``seq`` a follower journaled (a "seen" line); 0: none.
    seen_seq: int = 0


def encode_line(line: Dict[str, Any]) -> bytes:
    """One journal line: compact JSON with sorted keys, unescaped UTF-8, and a newline
    (byte for byte what the Swift CLI's JSONWriter writes)."""
    return json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


class Journal:
    def __init__(self, path: Union[str, "os.PathLike[str]"]):
        self.path = os.fspath(path)

    def append(self, entry: Entry, step: str, state: Optional[str] = None) -> None:
        """Append one line and fsync it: when this returns, the step survives a crash."""
        line: Dict[str, Any] = {"step": step, "key": entry.key, "file": entry.file, "at": timestamp()}
        if entry.id is not None:
            line["id"] = entry.id
        if step == "submitting":
            line["spec"] = normalize_spec(entry.spec)
        if state is not None:
            line["state"] = state
        if step == "seen":
            line["seq"] = entry.seen_seq
        self._write(encode_line(line))

    def entries(self) -> List[Entry]:
        """Every entry, in the order they were started, with the last id journaled."""
        return [e for e, _ in self._read()]

    def unfinished(self) -> List[Entry]:
        """Entries whose last step is not "finished", in the order they were started."""
        return [e for e, finished in self._read() if not finished]

    def _read(self) -> List[Tuple[Entry, bool]]:
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
                file = line.get("file")
                entries[key] = Entry(key=key, file=file if isinstance(file, str) else "?", spec=spec,
                                     id=previous.id if previous else None)
                finished[key] = False
            elif step in ("submitted", "exec"):
                if key in entries and isinstance(line.get("id"), str):
                    entries[key].id = line["id"]
            elif step == "seen":
                seq = line.get("seq")
                if key in entries and isinstance(seq, int) and not isinstance(seq, bool) and seq > entries[key].seen_seq:
                    entries[key].seen_seq = seq
            elif step == "finished":
                finished[key] = True
        return [(entries[k], finished.get(k, False)) for k in order]

    def _write(self, data: bytes) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        created = False
        try:
            # O_EXCL tells whether this call made the file, race-free.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            created = True
        except FileExistsError:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        try:
            if _ends_torn(fd):
                # A crash mid-write left a torn last line. Appended to it, this line would
                # be torn too, and skipped: a "submitting" line lost that way would hide
                # every later line of its entry. Ending the torn line first keeps the
                # loss to the step that was being written (as the Swift CLI does).
                data = b"\n" + data
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            # The file's name lives in its directory: without this, a crash could lose
            # the new journal (and the key it holds) even though its line was fsynced.
            _fsync_directory(directory)


def _ends_torn(fd: int) -> bool:
    """Whether the file is not empty and its last byte is not a newline."""
    size = os.lseek(fd, 0, os.SEEK_END)
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _fsync_directory(directory: str) -> None:
    """fsync a directory, where the platform can (POSIX; Windows cannot open one)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory: nothing more to do
    finally:
        os.close(fd)
