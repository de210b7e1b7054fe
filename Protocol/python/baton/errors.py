"""Errors raised by the Baton client (BATON/1, spec section 8).

Every error carries ``code`` (the wire error code, or a local one: ``timeout``,
``bad_reply``) and ``message`` (for people). Branch on the class or on ``code``,
never on ``message``.
"""

from __future__ import annotations


class BatonError(Exception):
    """Base class. ``code`` is the wire error code; ``message`` is for people."""

    code = "error"
    #: Whether resending the same request later may succeed (spec section 8).
    retryable = False

    def __init__(self, message: str = "", code: str | None = None):
        if code is not None:
            self.code = code
        self.message = message
        super().__init__(f"{self.code}: {message}" if message else self.code)


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
    code = "policy_denied"


class Stopped(BatonError):
    code = "stopped"
    retryable = True


class Forbidden(BatonError):
    code = "forbidden"


class Unavailable(BatonError):
    """The broker cannot serve the request now (store failing, shutting down, reserved
    command). Also raised for an error code this client does not know (spec section 8:
    unknown codes are treated like ``unavailable``); ``code`` then keeps the real code."""

    code = "unavailable"
    retryable = True


class RateLimited(BatonError):
    code = "rate_limited"
    retryable = True


class Timeout(BatonError):
    """No reply after every try (each on a fresh socket): the broker is unreachable."""

    code = "timeout"
    retryable = True


class ProtocolError(BatonError):
    """The broker's reply did not follow the protocol (wrong frames, wrong reply name)."""

    code = "bad_reply"


ERRORS_BY_CODE = {
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


def error_from_reply(body: dict) -> BatonError:
    """The exception for an ERROR reply body ``{"code", "message"}``."""
    code = body.get("code")
    message = body.get("message")
    if not isinstance(message, str):
        message = ""
    if not isinstance(code, str) or not code:
        return ProtocolError(f"ERROR reply without a code: {body!r}")
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        return Unavailable(message, code=code)
    return cls(message)


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
