from __future__ import annotations

from datetime import UTC, datetime

from domain.retention_marks import Mark, OccurrenceMarks

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def marks_of(*events: tuple[int, str]) -> OccurrenceMarks:
    marks = OccurrenceMarks()
    marks.read(events)
    return marks


def test_a_mark_where_the_latest_time_read_first_reaches_each_hour() -> None:
    marks = marks_of((1, "2026-01-01T10:15:00Z"), (2, "2026-01-01T10:59:59Z"),
                     (3, "2025-06-01T00:00:00Z"),  # a late event: the maximum holds
                     (4, "2026-01-01T11:00:00.000001Z"), (5, "not a time"),
                     (6, "2026-03-01T08:30:00+02:00"))
    assert marks.to_state() == [[1, "2026-01-01T10:00:00.000000Z"],
                                [4, "2026-01-01T11:00:00.000000Z"],
                                [6, "2026-03-01T06:00:00.000000Z"]]
    marks.read([(2, "2026-12-01T00:00:00Z")])  # read again, out of order: adds nothing
    assert len(marks.marks) == 3
    marks.read([(7, "2026-03-01T06:59:59.999999Z"),  # as the API writes them
                (8, "2026-03-01T07:00:00.000000Z"), (9, "2026-03-01T07:00:00.000000+01:00")])
    assert marks.to_state()[3:] == [[8, "2026-03-01T07:00:00.000000Z"]]


def test_retention_past_an_event_younger_than_the_period_is_early() -> None:
    marks = marks_of((1, "2026-05-01T00:00:00Z"), (300, "2026-05-02T00:00:00Z"),
                     (301, "2026-12-05T00:00:00Z"))
    assert marks.removed_too_early(300, NOW, days=90) is None  # May is 200 days back
    assert marks.removed_too_early(300, NOW, days=365) == \
        Mark(300, datetime(2026, 5, 2, tzinfo=UTC))
    assert marks.removed_too_early(0, NOW, days=365) is None  # nothing removed
    assert marks.removed_too_early(301, NOW, days=90) == \
        Mark(301, datetime(2026, 12, 5, tzinfo=UTC))
    # an event in the hour straddling the cutoff is not said early: clocks differ
    edge = marks_of((1, "2026-09-07T12:30:00Z"))
    assert edge.removed_too_early(1, NOW, days=90) is None


def test_what_is_gone_keeps_bounding_later_anchors() -> None:
    marks = marks_of((1, "2026-01-01T00:00:00Z"), (5, "2026-11-30T00:00:00Z"),
                     (9, "2026-12-01T00:00:00Z"))
    marks.forget_below(6)
    assert [mark.sequence for mark in marks.marks] == [5, 9]
    assert marks.removed_too_early(7, NOW, days=30) == \
        Mark(5, datetime(2026, 11, 30, tzinfo=UTC))


def test_marks_round_trip_through_the_state_and_bad_ones_are_dropped() -> None:
    marks = marks_of((1, "2026-01-01T00:00:00Z"), (5, "2026-02-01T00:00:00Z"))
    assert OccurrenceMarks.from_state(marks.to_state()) == marks
    for kept in (None, "x", [[1]], [[1, "noon"]], [[5, "2026-02-01T00:00:00Z"],
                                                    [1, "2026-03-01T00:00:00Z"]]):
        assert OccurrenceMarks.from_state(kept).marks == []
