"""Talking to the witnesses a log submits its checkpoints to (C2SP tlog-witness)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class WitnessAnswer:
    status: int
    text: str
    """The body, as far as it was read (a cosignature line or two; a size; a reason)."""


class WitnessUnreachable(Exception):
    """No answer: the connection failed, timed out, or its address is refused. The message
    says which, without anything the witness sent."""


class WitnessChannel(Protocol):
    def add_checkpoint(self, url: str, body: str) -> WitnessAnswer:
        """POST ``body`` to ``<url>/add-checkpoint``; ``WitnessUnreachable`` when there
        is no answer."""
        ...

    def refusal(self, url: str) -> str | None:
        """Why ``url``'s host resolves, right now, to an address that would be refused;
        None when it does not (or cannot be resolved yet)."""
        ...
