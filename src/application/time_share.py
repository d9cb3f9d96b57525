"""How a worker divides its time between kinds of jobs while every kind has some waiting."""

from __future__ import annotations

import time
from collections.abc import Callable


class TimeShare:
    """The seconds a worker spent lately on one kind of job and on everything else, each
    halved every ``half_life`` seconds, so that an hour-old backlog does not decide now."""

    def __init__(self, half_life: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._half_life = half_life
        self._clock = clock
        self._at = clock()
        self._kind = self._other = 0.0

    def spend(self, on_kind: bool, seconds: float) -> None:
        self._decay()
        if on_kind:
            self._kind += seconds
        else:
            self._other += seconds

    def below(self, share: float, after: float = 0.0) -> bool:
        """Whether the kind had at most ``share`` of the time lately, once the others had
        ``after`` seconds of it (from nothing, at once)."""
        self._decay()
        return self._other >= after and self._kind <= share * (self._kind + self._other)

    def _decay(self) -> None:
        now = self._clock()
        factor = 0.5 ** ((now - self._at) / self._half_life)
        self._kind *= factor
        self._other *= factor
        self._at = now
