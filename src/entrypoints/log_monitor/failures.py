"""What a monitor run can end in besides a line to print: an alarm, or nothing checked."""

from __future__ import annotations


class MonitorFailed(Exception):
    """What did not hold; the log must not be trusted until someone finds out why."""


class LogUnreachable(MonitorFailed):
    """The log could not be asked (network, an error answer): nothing was checked, so
    nothing is known to be wrong either; the next run tries again from the same state."""
