"""Small helpers of the warehouse: the clock, the user name, the fault-injection hook of the tests."""

from __future__ import annotations

import getpass
import os
from datetime import datetime, timezone


def _now() -> datetime:
    """Current time in UTC, naive (stored as TIMESTAMP: no time-zone library needed to read it)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return ""


def fault(point: str) -> None:
    """Test hook: ``PRST_FAULT=<point>`` makes the process die at that point (like a kill -9)."""
    if os.environ.get("PRST_FAULT") == point:
        os._exit(137)
    if os.environ.get("PRST_FAULT") == point + ":raise":
        raise RuntimeError(f"fault injected at {point}")
