"""Errors raised by the Baton client (BATON/1, spec section 8).

Every error carries ``code`` (the wire error code, or a local one: ``timeout``,
``bad_reply``) and ``message`` (for people). Branch on the class or on ``code``,
never on ``message``. The other fields of an ERROR body (section 8) are kept in
``details``; the ones the spec names have properties: ``retry_after_ms`` (any error,
set on ``rate_limited``), ``policy`` and ``rule`` (``PolicyDenied``), ``name`` and
``reason`` (``Stopped``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type


class BatonError(Exception):
    """Base class. ``code`` is the wire error code; ``message`` is for people."""

    code = "error"
    #: Whether resending the same request later may succeed (spec section 8).
    retryable = False

    def __init__(self, message: str = "", code: str | None = None, details: Optional[Dict[str, Any]] = None):
        if code is not None:
            self.code = code
        self.message = message
        #: The ERROR body's fields other than ``code`` and ``message`` (empty for local errors).
        self.details: Dict[str, Any] = dict(details or {})
        super().__init__(f"{self.code}: {message}" if message else self.code)

    @property
    def retry_after_ms(self) -> Optional[int]:
        """How long to wait, at least, before sending the same request again (section 8:
        an integer >= 1 on ``rate_limited``); None when the broker gave no valid hint."""
        return _positive_int(self.details.get("retry_after_ms"))

    @property
    def retry_after(self) -> Optional[float]:
        """``retry_after_ms`` in seconds (what ``time.sleep`` takes), or None."""
        ms = self.retry_after_ms
        return None if ms is None else ms / 1000.0

    def _text(self, field: str) -> Optional[str]:
        value = self.details.get(field)
        return value if isinstance(value, str) else None


class BadRequest(BatonError):
    code = "bad_request"


class UnsupportedVersion(BatonError):
    code = "unsupported_version"


class UnknownCommand(BatonError):
    code = "unknown_command"


class TooLarge(BatonError):
    code = "too_large"


class NotFound(BatonError):
    code = "not_found"


class Conflict(BatonError):
    code = "conflict"


class PolicyDenied(BatonError):
    """A policy refused SUBMIT or EXEC (section 4.5). ``message`` names the policy, rule,
    block, job and field."""

    code = "policy_denied"

    @property
    def policy(self) -> Optional[str]:
        """The refusing policy's name; None when the configuration's default refused."""
        return self._text("policy")

    @property
    def rule(self) -> Optional[str]:
        """The refusing rule's kind (``allowed_job_types``, ``window``, ...) or ``default``."""
        return self._text("rule")


class Stopped(BatonError):
    """An emergency stop covers the workflow name (section 4.3.8); retry after it is
    lifted (RESUME, ``Client.go``)."""

    code = "stopped"
    retryable = True

    @property
    def name(self) -> Optional[str]:
        """The stop that applies: the workflow name, or ``"*"``."""
        return self._text("name")

    @property
    def reason(self) -> Optional[str]:
        return self._text("reason")


class Forbidden(BatonError):
    """The caller's key may not do this (spec sections 3.5, 3.6): a ``client`` key sent
    STOP, RESUME or LIMITS (admin commands), or the key was removed from the broker's
    allowlists by a reload. Not retryable: another key is needed."""

    code = "forbidden"


class Unavailable(BatonError):
    """The broker cannot serve the request now (store failing, shutting down, reserved
    command). Also raised for an error code this client does not know (spec section 8:
    unknown codes are treated like ``unavailable``); ``code`` then keeps the real code."""

    code = "unavailable"
    retryable = True


class RateLimited(BatonError):
    """A rate limit refused the request (section 4.5); send it again after
    ``retry_after_ms``."""

    code = "rate_limited"
    retryable = True


class Timeout(BatonError, TimeoutError):
    """No reply after every try (each on a fresh socket): the broker is unreachable.

    Also a built-in ``TimeoutError``, so ``except TimeoutError`` catches it as it
    catches the standard library's timeouts."""

    code = "timeout"
    retryable = True


class ProtocolError(BatonError):
    """The broker's reply did not follow the protocol (wrong frames, wrong reply name)."""

    code = "bad_reply"


ERRORS_BY_CODE: Dict[str, Type[BatonError]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        UnsupportedVersion,
        UnknownCommand,
        TooLarge,
        NotFound,
        Conflict,
        PolicyDenied,
        Stopped,
        Forbidden,
        Unavailable,
        RateLimited,
    )
}


def _positive_int(value: Any) -> Optional[int]:
    # bool is an int in Python; JSON true is not a number of milliseconds.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def error_from_reply(body: Dict[str, Any]) -> BatonError:
    """The exception for an ERROR reply body ``{"code", "message", ...}``; the other
    fields go to ``details``."""
    code = body.get("code")
    message = body.get("message")
    if not isinstance(message, str):
        message = ""
    if not isinstance(code, str) or not code:
        return ProtocolError(f"ERROR reply without a code: {body!r}")
    details = {k: v for k, v in body.items() if k not in ("code", "message")}
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        return Unavailable(message, code=code, details=details)
    return cls(message, details=details)


class JobFailed(Exception):
    """Raised by a job handler to fail its attempt with a chosen message.

    ``retryable=False`` fails the job at once, whatever attempts remain.
    """

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class JobCancelled(Exception):
    """Raised (by ``Job.check_cancelled``) inside a handler whose attempt the broker
    cancelled. Its attempt sends no RESULT."""
