"""The Baton wire protocol as values: frames, JSON bodies, states (Protocol/spec.md).

No sockets here: ``client`` and ``worker`` build on these helpers.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence, Tuple

# Section 1 / 4.1 / 9.1: protocol ids.
CLIENT_PROTOCOL = b"BATON/1"
WORKER_PROTOCOL = b"BATON-W/1"

# Section 4.1: client requests and replies.
REQUEST_COMMANDS = ("SUBMIT", "EXEC", "STATUS", "WATCH", "CANCEL", "LIST", "STOP", "RESUME", "PING", "LIMITS")
REPLY_COMMANDS = ("ID", "STATUS", "EVENTS", "LIST", "OK", "PONG", "ERROR")
#: The reply each request gets when it succeeds.
EXPECTED_REPLY = {
    "SUBMIT": "ID",
    "EXEC": "STATUS",
    "STATUS": "STATUS",
    "WATCH": "EVENTS",
    "CANCEL": "STATUS",
    "LIST": "LIST",
    "STOP": "OK",
    "RESUME": "OK",
    "PING": "PONG",
    "LIMITS": "OK",
}

# Section 9.1: worker commands.
WORKER_COMMANDS = ("READY", "HEARTBEAT", "JOB", "RESULT", "CANCEL", "DISCONNECT")

# Section 6: states.
WORKFLOW_STATES = ("SUBMITTED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "STOPPED", "EXPIRED")
#: Nothing can change these (6.1). STOPPED is not among them: EXEC continues it (4.3.8).
FINAL_STATES = frozenset(("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"))
#: Final, or STOPPED: nothing more happens unless a client acts (EXEC or CANCEL).
SETTLED_STATES = FINAL_STATES | {"STOPPED"}
JOB_STATES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
BLOCK_STATES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")

MAX_TAG_BYTES = 64
MAX_NESTING = 64
MAX_RESULT_ERROR_BYTES = 65536


class WireError(ValueError):
    """A body or message that does not follow the protocol."""


def is_final(state: Optional[str]) -> bool:
    return state in FINAL_STATES


def is_settled(state: Optional[str]) -> bool:
    """Final, or STOPPED by an emergency stop: a client following the workflow stops
    following (4.3.8), since only its own EXEC or CANCEL would change it."""
    return state in SETTLED_STATES


# ---------------------------------------------------------------- JSON bodies (3.2)


def encode_body(body: Dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON with sorted keys, like the reference writer.

    Raises ``WireError`` when the body is not a JSON object or holds values JSON cannot
    represent (NaN, infinities, non-string keys, other Python objects)."""
    if not isinstance(body, dict):
        raise WireError(f"a body must be a JSON object, got {type(body).__name__}")
    try:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise WireError(f"body is not JSON: {e}") from None
    return text.encode("utf-8")


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise WireError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _depth(value: Any) -> int:
    """Nesting depth of arrays and objects, counting the value itself (iterative)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in v)
    return deepest


def decode_body(data: bytes) -> Dict[str, Any]:
    """Parse a body frame: UTF-8 JSON object, no duplicate keys, nesting <= 64."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("body is not valid UTF-8") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except WireError:
        raise
    except (ValueError, RecursionError) as e:
        raise WireError(f"body is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise WireError(f"body must be a JSON object, got {type(value).__name__}")
    if _depth(value) > MAX_NESTING:
        raise WireError(f"body is nested deeper than {MAX_NESTING}")
    return value


# ---------------------------------------------------------------- client frames (4.1)


def _bytes(x: Any) -> bytes:
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode("utf-8")
    return bytes(x)


def client_request(command: str, tag: bytes, body: Dict[str, Any]) -> List[bytes]:
    """The five frames a DEALER client sends (a REQ client sends frames 1-4)."""
    tag = _bytes(tag)
    if len(tag) > MAX_TAG_BYTES:
        raise WireError(f"a tag is at most {MAX_TAG_BYTES} bytes")
    return [b"", CLIENT_PROTOCOL, command.encode("ascii"), tag, encode_body(body)]


def parse_client_reply(frames: Sequence[bytes], with_delimiter: bool = True) -> Tuple[str, bytes, Dict[str, Any]]:
    """(reply name, tag, body) from a reply as a DEALER (or, without frame 0, a REQ)
    socket receives it."""
    frames = [bytes(f) for f in frames]
    if with_delimiter:
        if not frames or frames[0] != b"":
            raise WireError("reply frame 0 is not the empty delimiter")
        frames = frames[1:]
    if len(frames) != 4:
        raise WireError(f"a reply has 5 frames, got {len(frames) + (1 if with_delimiter else 0)}")
    if frames[0] != CLIENT_PROTOCOL:
        raise WireError(f"reply frame 1 is {frames[0]!r}, not BATON/1")
    try:
        name = frames[1].decode("ascii")
    except UnicodeDecodeError:
        raise WireError("reply name is not ASCII") from None
    return name, frames[2], decode_body(frames[3])


# ---------------------------------------------------------------- emergency stop (4.3.8)

#: The STOP/RESUME name that covers every workflow name.
EVERY_NAME = "*"


def stop_body(name: str, reason: str) -> Dict[str, Any]:
    """STOP's body: ``name`` is a workflow name or ``"*"``; ``reason`` is required and
    shown to everyone the stop refuses. The broker checks the sizes."""
    return {"name": name, "reason": reason}


def resume_body(name: str) -> Dict[str, Any]:
    """RESUME's body: lifts exactly the stop of ``name`` (``"*"`` lifts only ``"*"``)."""
    return {"name": name}


# ---------------------------------------------------------------- worker frames (9.1)


def worker_message(command: str, body: Dict[str, Any]) -> List[bytes]:
    return [b"", WORKER_PROTOCOL, command.encode("ascii"), encode_body(body)]


def parse_worker_message(frames: Sequence[bytes]) -> Tuple[str, Dict[str, Any]]:
    frames = [bytes(f) for f in frames]
    if len(frames) != 4:
        raise WireError(f"a worker message has 4 frames, got {len(frames)}")
    if frames[0] != b"":
        raise WireError("frame 0 is not the empty delimiter")
    if frames[1] != WORKER_PROTOCOL:
        raise WireError(f"frame 1 is {frames[1]!r}, not BATON-W/1")
    try:
        command = frames[2].decode("ascii")
    except UnicodeDecodeError:
        raise WireError("command is not ASCII") from None
    if command not in WORKER_COMMANDS:
        raise WireError(f"unknown worker command {command!r}")
    return command, decode_body(frames[3])


# ---------------------------------------------------------------- helpers


def new_key(prefix: str = "py") -> str:
    """A fresh idempotency key."""
    return f"{prefix}-{uuid.uuid4()}"


def timestamp(seconds: Optional[float] = None) -> str:
    """RFC 3339 UTC with milliseconds, like the broker's timestamps (3.2)."""
    if seconds is None:
        seconds = time.time()
    ms = int(seconds * 1000)
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ms % 1000:03d}Z"


# ---------------------------------------------------------------- workflow spec (5)

_DEFAULT_RETRY = {"max_attempts": 3, "backoff_ms": 1000}


def _int_field(value: Any, default: int) -> Any:
    """An integer field as the broker compares it: 3.0 is 3; null is absent."""
    if value is None:
        return default
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def normalize_spec(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The spec as the broker compares it for idempotency (4.3.1): defaults filled in,
    unknown fields dropped, ``3.0`` read as ``3`` in integer fields. ``args`` are kept
    as given. The result has the same shape as the Swift CLI's journal ``spec``.

    This does not validate: the broker does. Values of unexpected types are kept so that
    two different invalid specs still compare unequal."""
    if not isinstance(spec, dict):
        return spec
    out: Dict[str, Any] = {"name": spec.get("name")}
    if spec.get("description") is not None:
        out["description"] = spec["description"]
    blocks = spec.get("blocks")
    if isinstance(blocks, list):
        nb = []
        for b in blocks:
            if not isinstance(b, dict):
                nb.append(b)
                continue
            block: Dict[str, Any] = {"concurrency": _int_field(b.get("concurrency"), 1)}
            if b.get("description") is not None:
                block["description"] = b["description"]
            jobs = b.get("jobs")
            if isinstance(jobs, list):
                nj = []
                for j in jobs:
                    if not isinstance(j, dict):
                        nj.append(j)
                        continue
                    job: Dict[str, Any] = {
                        "type": j.get("type"),
                        "args": {} if j.get("args") is None else j["args"],
                        "timeout_ms": _int_field(j.get("timeout_ms"), 0),
                    }
                    retry = dict(_DEFAULT_RETRY)
                    r = j.get("retry")
                    if isinstance(r, dict):
                        for k in ("max_attempts", "backoff_ms"):
                            retry[k] = _int_field(r.get(k), _DEFAULT_RETRY[k])
                    elif r is not None:
                        retry = r
                    job["retry"] = retry
                    if j.get("name") is not None:
                        job["name"] = j["name"]
                    # Only when set, as the broker's canonical form (specs before it compare unchanged).
                    heartbeat = _int_field(j.get("heartbeat_timeout_ms"), 0)
                    if heartbeat != 0:
                        job["heartbeat_timeout_ms"] = heartbeat
                    nj.append(job)
                block["jobs"] = nj
            else:
                block["jobs"] = jobs
            nb.append(block)
        out["blocks"] = nb
    else:
        out["blocks"] = blocks
    return out


def _canonical(value: Any) -> str:
    # Inside args 3 and 3.0 differ (4.3.1); json.dumps keeps them apart ("3" vs "3.0").
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def same_spec(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    """Whether the broker would count two specs as the same (4.3.1)."""
    return _canonical(normalize_spec(a)) == _canonical(normalize_spec(b))
