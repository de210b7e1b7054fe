"""Baton SDK for Python: a client and a worker for the Baton workflow broker.

Written from Protocol/spec.md alone (BATON/1 for clients, BATON-W/1 for workers);
the only dependency is pyzmq.
"""

from .client import Client, Submitted
from .errors import (
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
from .journal import Journal
from .transport import load_certificate
from .wire import EVERY_NAME, FINAL_STATES, SETTLED_STATES, is_final, is_settled, new_key, normalize_spec, same_spec
from .worker import Job, Worker

__version__ = "1.0.0"

__all__ = [
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
]
