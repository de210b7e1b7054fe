"""Baton SDK for Python: a client and a worker for the Baton workflow broker.

Written from Protocol/spec.md alone (BATON/1 for clients, BATON-W/1 for workers);
the only dependency is pyzmq. ``baton.aio.Client`` is the asyncio client; ``baton-py
worker module:object`` runs a worker from the command line. Durations are in seconds.
Logging goes to ``logging.getLogger("baton")`` (a ``NullHandler`` until configured).
"""

__version__ = "1.1.0"  # the one version string: pyproject.toml reads it from here

from . import _log  # noqa: E402,F401 - the "baton" logger and its NullHandler first
from .client import Client, Submitted  # noqa: E402
from .errors import (  # noqa: E402
    BadRequest,
    BatonError,
    Conflict,
    Forbidden,
    JobCancelled,
    JobFailed,
    NotFound,
    PolicyDenied,
    ProtocolError,
    RateLimited,
    Stopped,
    Timeout,
    TooLarge,
    Unavailable,
    UnknownCommand,
    UnsupportedVersion,
)
from .journal import Journal  # noqa: E402
from .transport import load_certificate  # noqa: E402
from .types import (  # noqa: E402
    BlockStatus,
    Event,
    Events,
    JobStatus,
    Limits,
    ListPage,
    Pong,
    Status,
    WorkflowSummary,
)
from .wire import (  # noqa: E402
    EVERY_NAME,
    FINAL_STATES,
    SETTLED_STATES,
    is_final,
    is_settled,
    new_key,
    normalize_spec,
    same_spec,
)
from .worker import Job, Worker  # noqa: E402

__all__ = [
    "__version__",
    "Client",
    "Submitted",
    "Worker",
    "Job",
    "Journal",
    "load_certificate",
    "BatonError",
    "BadRequest",
    "UnsupportedVersion",
    "UnknownCommand",
    "TooLarge",
    "NotFound",
    "Conflict",
    "PolicyDenied",
    "Stopped",
    "Forbidden",
    "Unavailable",
    "RateLimited",
    "Timeout",
    "ProtocolError",
    "JobFailed",
    "JobCancelled",
    "FINAL_STATES",
    "SETTLED_STATES",
    "EVERY_NAME",
    "is_final",
    "is_settled",
    "new_key",
    "normalize_spec",
    "same_spec",
    "Status",
    "BlockStatus",
    "JobStatus",
    "Event",
    "Events",
    "ListPage",
    "WorkflowSummary",
    "Pong",
    "Limits",
]
