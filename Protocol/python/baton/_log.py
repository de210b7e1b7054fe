"""The package's loggers: children of ``logging.getLogger("baton")``, which carries a
``NullHandler`` so that an application without logging configured prints nothing (the
library convention); configure ``"baton"`` to see the client's and worker's lines."""

from __future__ import annotations

import logging

ROOT = logging.getLogger("baton")
if not any(isinstance(h, logging.NullHandler) for h in ROOT.handlers):
    ROOT.addHandler(logging.NullHandler())


def get(name: str) -> logging.Logger:
    """``baton.<name>``: a child of the package logger."""
    return ROOT.getChild(name)
