"""The ``autometa`` command, run from a source checkout (``python cli.py ...``).

The installed console script is ``autometa._cli._app:main``; this file only re-exports it, so that
``import cli; cli.main([...])`` keeps working in a checkout. The wheel does not ship it.
"""

from __future__ import annotations

import sys

from autometa._cli._app import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    sys.exit(main())
