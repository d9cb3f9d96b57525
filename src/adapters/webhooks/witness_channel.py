"""The ``WitnessChannel`` port on httpx, behind the same guard as every delivery: a
witness is a URL a workspace typed in, so its address is checked on each connection."""

from __future__ import annotations

import httpx

from adapters.webhooks.deliverer import UNANSWERED, guarded_client, read_at_most, unanswered
from adapters.webhooks.guard import GuardedBackend, deadline
from application.ports.witnesses import WitnessAnswer, WitnessUnreachable

ANSWER_BYTES = 16 * 1024
"""What is read of an answer at most: a cosignature line is some 150 bytes."""


class HttpWitnessChannel:
    def __init__(self, allow_private: bool, timeout_seconds: float, user_agent: str) -> None:
        self._backend = GuardedBackend(allow_private)
        self._timeout = timeout_seconds
        self._client = guarded_client(self._backend, timeout_seconds, user_agent,
                                      httpx.Limits(max_connections=50,
                                                   max_keepalive_connections=20,
                                                   keepalive_expiry=30))

    def add_checkpoint(self, url: str, body: str) -> WitnessAnswer:
        try:
            with deadline(self._timeout), self._client.stream(
                    "POST", url.rstrip("/") + "/add-checkpoint", content=body.encode(),
                    headers={"Content-Type": "text/plain; charset=utf-8"}) as response:
                read = read_at_most(response, ANSWER_BYTES)
        except UNANSWERED as exc:
            raise WitnessUnreachable(unanswered(exc, self._timeout)[1]) from None
        return WitnessAnswer(response.status_code, read.decode("utf-8", "replace"))

    def refusal(self, url: str) -> str | None:
        return self._backend.refusal(url)
