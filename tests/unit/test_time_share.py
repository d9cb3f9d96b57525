"""How a worker divides its time between kinds of jobs while every kind waits."""

from __future__ import annotations

from application.time_share import TimeShare


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_kind_gets_its_share_and_no_more() -> None:
    share = TimeShare(half_life=600.0, clock=Clock())
    assert share.below(0.1)  # from nothing, at once
    share.spend(True, 1.0)
    assert not share.below(0.1)  # never two in a row
    share.spend(False, 8.0)
    assert not share.below(0.1)  # 1 of 9 s
    share.spend(False, 1.0)
    assert share.below(0.1)  # 1 of 10 s


def test_the_others_have_their_patience_first() -> None:
    """A burst of other work is done before the kind starts, however long it waited."""
    share = TimeShare(half_life=600.0, clock=Clock())
    assert not share.below(0.1, after=30.0)
    share.spend(False, 29.0)
    assert not share.below(0.1, after=30.0)
    share.spend(False, 1.0)
    assert share.below(0.1, after=30.0)


def test_what_was_spent_long_ago_fades() -> None:
    """An hour-old run of the kind does not hold it back now, nor an old backlog of
    other work let it jump ahead of a new one."""
    clock = Clock()
    share = TimeShare(half_life=10.0, clock=clock)
    share.spend(True, 100.0)
    clock.now = 100.0  # ten half-lives: 100 s count as 0.1
    share.spend(False, 1.0)
    assert share.below(0.1)
    clock.now = 200.0
    assert not share.below(0.1, after=0.5)  # the others' 1 s has faded to 0.001
