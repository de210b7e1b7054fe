"""The shapes of the broker's replies, as ``TypedDict``s for type checkers.

At run time every reply is a plain ``dict`` (what ``json.loads`` made): these classes
only name its fields, so that ``mypy`` and editors know ``status["blocks"]`` is a list
of blocks and ``event["seq"]`` an int. Fields marked optional in the spec are not
required keys here; fields a later broker adds are still in the dict, just not named.
Durations keep the wire's milliseconds (``*_ms``) and timestamps are RFC 3339 strings
(spec section 3.2), as the broker sent them.
"""

from __future__ import annotations

from typing import Any, List, TypedDict

__all__ = [
    "JobStatus",
    "BlockStatus",
    "Status",
    "Event",
    "Events",
    "WorkflowSummary",
    "ListPage",
    "Pong",
    "Limits",
]


class _JobStatusRequired(TypedDict):
    job_id: str
    type: str
    state: str
    attempt: int


class JobStatus(_JobStatusRequired, total=False):
    """One job in a STATUS reply (spec 4.3.3). ``output`` is any JSON value."""

    name: str
    output: Any
    error: str
    started_at: str
    finished_at: str
    waiting_for: str


class BlockStatus(TypedDict):
    """One block of a STATUS reply: its state and (this page's) jobs."""

    state: str
    jobs: List[JobStatus]


class _StatusRequired(TypedDict):
    id: str
    name: str
    state: str
    blocks: List[BlockStatus]
    submitted_at: str


class Status(_StatusRequired, total=False):
    """A STATUS reply (spec 4.3.3): what ``status``, ``exec``, ``cancel`` and ``run``
    return (whole: every page read, so without ``jobs_next``)."""

    reason: str
    started_at: str
    finished_at: str
    owner: str
    jobs_next: int


class _EventRequired(TypedDict):
    seq: int
    at: str
    kind: str


class Event(_EventRequired, total=False):
    """One event of a workflow's log (spec 7). Each ``kind`` adds some of the optional
    fields; kinds this SDK does not know may add others (ignore what you do not know)."""

    name: str
    reason: str
    block: int
    job: int
    job_id: str
    attempt: int
    worker: str
    error: str
    retry_at: str


class _EventsRequired(TypedDict):
    id: str
    events: List[Event]


class Events(_EventsRequired, total=False):
    """An EVENTS reply (spec 4.3.4): one WATCH page."""

    state: str


class _SummaryRequired(TypedDict):
    id: str
    name: str
    state: str
    submitted_at: str


class WorkflowSummary(_SummaryRequired, total=False):
    """One workflow of a LIST reply (spec 4.3.6)."""

    reason: str
    started_at: str
    finished_at: str
    owner: str


class _ListPageRequired(TypedDict):
    workflows: List[WorkflowSummary]


class ListPage(_ListPageRequired, total=False):
    """A LIST reply: newest first; ``next`` (pass it as ``before``) when more match."""

    next: str


class Pong(TypedDict, total=False):
    """A PONG reply: the broker's clock (``time``), and on newer brokers its limits and
    features."""

    time: str


class Limits(TypedDict, total=False):
    """A LIMITS reply (spec 4.3.9): the limits and stops in force, with live levels."""

    job_types: List[Any]
    workflows: List[Any]
    clients: Any
    stops: List[Any]
