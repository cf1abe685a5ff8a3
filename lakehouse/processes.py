"""Process groups: what plantlake starts in a session of its own (a UI, a Spark driver) it waits for as a group."""

from __future__ import annotations

import os


def group_alive(pgid: int) -> bool:
    """Whether a process of the group is left: children outlive their leader for a moment as they exit."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
