"""Durations: every duration this SDK takes is in seconds (a float), like ``time.sleep``
and the standard library's timeouts. The ``*_ms`` keywords of version 1.0 still work,
with a ``DeprecationWarning``. Fields of wire bodies keep the wire's milliseconds."""

from __future__ import annotations

import warnings
from typing import Optional


def seconds(value: Optional[float], legacy_ms: Optional[float], name: str, legacy_name: str,
            default: Optional[float] = None, stacklevel: int = 3) -> Optional[float]:
    """``value`` (seconds), or ``legacy_ms`` converted with a DeprecationWarning, or
    ``default``. Giving both is a mistake: ``TypeError``."""
    if legacy_ms is not None:
        if value is not None:
            raise TypeError(f"give {name} (seconds) or {legacy_name} (deprecated, milliseconds), not both")
        warnings.warn(f"{legacy_name} (milliseconds) is deprecated: use {name} (seconds)",
                      DeprecationWarning, stacklevel=stacklevel)
        return float(legacy_ms) / 1000.0
    return default if value is None else float(value)


def to_ms(value: float) -> int:
    """Seconds as whole milliseconds for the wire (rounded, never negative)."""
    return max(0, int(round(value * 1000)))
