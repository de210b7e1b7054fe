"""``python -m baton``: the same as the ``baton-py`` command."""

from .cli import main

raise SystemExit(main())
