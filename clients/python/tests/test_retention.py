"""The marks the Monitor keeps of when the events it read occurred (no server needed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from auditrail_client._retention import OccurrenceMarks


def test_marks_hold_the_latest_hour_read_and_say_an_early_removal() -> None:
    now = datetime.now(timezone.utc)
    old, recent = now - timedelta(days=200), now - timedelta(days=2)
    marks = OccurrenceMarks()
    marks.read([(1, old.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
                (2, (old - timedelta(days=9)).isoformat()),  # late: the maximum holds
                (3, "not a time"), (4, None),
                (5, recent.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
                (6, recent.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))])
    assert [sequence for sequence, _ in marks.marks] == [1, 5]
    assert marks.removed_too_early(4, days=90) is None  # only the old ones removed
    assert marks.removed_too_early(4, days=365)[0] == 1
    assert marks.removed_too_early(5, days=90)[0] == 5
    marks.forget_below(4)
    kept = OccurrenceMarks(marks.to_state())
    assert kept.marks == marks.marks and kept.removed_too_early(4, days=365)[0] == 1
    assert OccurrenceMarks([[5, "2026-01-01T00:00:00Z"], [1, "2026-02-01T00:00:00Z"]]
                           ).marks == []  # out of order: dropped, not trusted
