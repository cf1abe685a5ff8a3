"""Process groups: what plantlake starts in a session of its own (a UI, a Spark driver) it waits for as a group."""

from __future__ import annotations

import os
import time


def group_alive(pgid: int) -> bool:
    """Whether a process of the group is left: children outlive their leader for a moment as they exit."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_group(pgid: int, timeout: float, every: float = 0.1) -> bool:
    """Wait up to ``timeout`` seconds for every process of the group to exit; whether they all did."""
    deadline = time.monotonic() + timeout
    while group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True
