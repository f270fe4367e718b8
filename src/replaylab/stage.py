"""What every DVC stage script shares: run its ``main`` so that bad input ends with the message alone.

A typo in params.yaml, a bad data file or an unreadable video is the user's to fix, not a bug: the stage
prints ``<stage>: <message>`` to stderr and exits with status 2, without a traceback. Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from .data.samples import AdapterError
from .params.base import ParamsError

USER_ERRORS: tuple[type[BaseException], ...] = (ParamsError, AdapterError)


def run_stage(main: Callable[..., None], *args: str) -> None:
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    name = Path(sys.argv[0]).stem + "".join(f"@{a}" for a in args)
    try:
        main(*args)
    except USER_ERRORS as err:
        print(f"{name}: {err}", file=sys.stderr)
        raise SystemExit(2) from None
