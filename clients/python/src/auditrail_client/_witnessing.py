"""A checked checkpoint submitted to witnesses (C2SP tlog-witness), and their cosignatures
gathered onto it."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from auditrail_client._signers import signed_checkpoint
from auditrail_client.errors import MonitorAlarm
from auditrail_client.proofs import ProofInvalid, SignedCheckpoint, VerifierKey, check_cosignature


class WitnessAhead(Exception):
    """A witness cosigned a newer checkpoint than the one the log served this check."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class WitnessTrouble(Exception):
    """A witness that could not be used this time; says nothing about the log."""


class Cosigning:
    """Submits one checked checkpoint to witnesses (C2SP tlog-witness ``add-checkpoint``)
    and gathers their cosignatures onto it. The API key is never sent to them."""

    def __init__(self, client: Any, latest: SignedCheckpoint, signers: list[VerifierKey],
                 known: dict[str, Any]) -> None:
        self._client, self._latest, self._signers = client, latest, signers
        self.note = latest.note
        self.sizes = {name: size for name, size in known.items()
                      if isinstance(size, int) and not isinstance(size, bool)}
        self.cosigners: list[str] = []
        self.problems: list[str] = []

    def submit(self, key: VerifierKey, key_text: str, url: str) -> None:
        old = self.sizes.get(key_text, 0)
        try:
            with httpx.Client(base_url=url, timeout=30) as witness:
                for _ in range(3):  # another monitor may move it between two requests
                    response = witness.post("/add-checkpoint", content=self._body(old))
                    if response.status_code != 409:
                        break
                    old = self._latest_size(witness, response, key)
                self._cosigned(response, key, key_text)
        except WitnessTrouble as trouble:
            self.problems.append(f"witness {key.name}: {trouble}")
        except httpx.HTTPError as exc:
            self.problems.append(f"could not reach witness {key.name} "
                                 f"({type(exc).__name__})")

    def _body(self, old: int) -> bytes:
        proof: list[str] = []
        if 0 < old < self._latest.tree_size:
            proof = self._client.log.consistency(old, self._latest.tree_size).proof
        return ("\n".join([f"old {old}", *proof]) + "\n\n" + self._latest.note).encode()

    def _latest_size(self, witness: httpx.Client, response: httpx.Response,
                     key: VerifierKey) -> int:
        """The size a 409 names. Above this check's, the witness has seen a newer
        checkpoint: fetched and checked, so that a witness's word alone alarms no one."""
        text = response.text.strip()
        if not text.isdigit():
            raise WitnessTrouble("answered 409 without the size it holds")
        size = int(text)
        if size > self._latest.tree_size:
            origin = hashlib.sha256(self._latest.origin.encode()).hexdigest()
            ahead = signed_checkpoint(witness.get(f"/{origin}/checkpoint").text,
                                       self._signers)
            if ahead is not None and ahead.tree_size > self._latest.tree_size:
                try:
                    check_cosignature(ahead.note, key)
                except ProofInvalid:
                    pass
                else:
                    raise WitnessAhead(ahead.tree_size)
            raise WitnessTrouble(f"says it cosigned size {size}, but serves no such "
                                  "checkpoint signed by the log and by itself")
        return size

    def _cosigned(self, response: httpx.Response, key: VerifierKey, key_text: str) -> None:
        said = "".join(ch for ch in response.text.strip() if ch.isprintable())[:200]
        if response.status_code == 422:
            raise MonitorAlarm(f"witness {key.name} refused to cosign the log's checkpoint "
                               f"of size {self._latest.tree_size}: {said}. The log showed "
                               f"it (or another monitor) another history: a split view")
        if response.status_code == 404:
            raise WitnessTrouble(f"does not follow {self._latest.origin}")
        if response.status_code == 403:
            raise WitnessTrouble(f"does not trust the key that signed the checkpoint "
                                  f"({said})")
        if response.status_code != 200:
            raise WitnessTrouble(f"answered {response.status_code}: {said}")
        own = "".join(f"{line}\n" for line in response.text.split("\n")
                      if line.startswith(f"\u2014 {key.name} "))
        try:
            check_cosignature(self._latest.note + own, key)
        except ProofInvalid:
            raise WitnessTrouble("answered without a cosignature that verifies with its "
                                  "key") from None
        self.note += own
        self.sizes[key_text] = self._latest.tree_size
        self.cosigners.append(key.name)

