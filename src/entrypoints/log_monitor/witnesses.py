"""Witnesses (C2SP tlog-witness): submitting the checked checkpoint for cosignatures, and
holding the checkpoint the log's own witnesses cosigned to the history this monitor is
served."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from application.witness import origin_hash
from domain.cosignatures import cosigned_at, cosigner_key, parse_cosigner_key
from domain.signed_notes import (
    SIGNATURE_PREFIX,
    InvalidNote,
    SignatureCheck,
    VerifierKey,
    parse_note,
)
from domain.witnessing import MAX_PROOF_LINES, add_checkpoint_body
from entrypoints.log_monitor.asking import get
from entrypoints.log_monitor.failures import LogUnreachable, MonitorFailed
from entrypoints.log_monitor.history import COSIGNED, consistent, signed_checkpoint


class WitnessesUnavailable(LogUnreachable):
    """The log was checked and its state kept (``checked`` says so), but a witness could
    not be asked or gave no usable answer: nothing is known to be wrong with the log, and
    the next run submits again."""

    def __init__(self, checked: str, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.checked = checked
        self.problems = problems


@dataclass(frozen=True)
class WitnessTarget:
    """A witness to submit checkpoints to: its cosigner key (type 0x04) and the URL its
    add-checkpoint and monitoring paths are under."""

    key: VerifierKey
    url: str


def witness_target(key: str, url: str) -> WitnessTarget:
    try:
        parsed = parse_cosigner_key(key)
    except InvalidNote as exc:
        raise MonitorFailed(f"the witness key {key[:60]}: {exc}") from None
    if not url.startswith(("http://", "https://")):
        raise MonitorFailed(f"the witness URL {url[:60]} is not http(s)")
    return WitnessTarget(parsed, url.rstrip("/"))


class WitnessAhead(Exception):
    """A witness cosigned a checkpoint newer than the one the log served this run."""

    def __init__(self, note: str, size: int) -> None:
        super().__init__(size)
        self.note, self.size = note, size


def log_cosigned_note(client: httpx.Client, cosigners: Sequence[VerifierKey],
                   problems: list[str]) -> str | None:
    """The checkpoint the log's witnesses cosigned, when this monitor trusts some; None
    (and a problem said) when the log has none to serve."""
    if not cosigners:
        return None
    try:
        return get(client, "/api/v1/log/cosigned-checkpoint").text
    except LogUnreachable as exc:
        problems.append(f"the log's cosigned checkpoint: {exc}")
        return None


def cosigned_in_history(client: httpx.Client, note: str | None, signers: list[VerifierKey],
                         cosigners: Sequence[VerifierKey], verify: SignatureCheck,
                         origin: str, size: int, root: bytes, problems: list[str]) -> str:
    """The checkpoint the log's witnesses cosigned (``note``, asked for before the tree
    of ``size`` was), checked with the keys of those this monitor trusts, must be in the
    history this monitor is served: a log showing its witnesses one history and this
    reader another is caught here, by either side's signatures. A log without such a
    checkpoint (no witness, not cosigned yet) is a problem to report, not evidence of
    anything."""
    if note is None:
        return ""
    checkpoint = signed_checkpoint(note, signers, verify)
    if checkpoint is None or checkpoint.origin != origin:
        problems.append("the log's cosigned checkpoint is not a checkpoint its key signed")
        return ""
    parsed = parse_note(note)
    missing = [key.name for key in cosigners if cosigned_at(parsed, key, verify) is None]
    if missing:
        problems.append(f"the log's cosigned checkpoint of size {checkpoint.tree_size} "
                        f"carries no valid cosignature by {', '.join(missing)}")
        return ""
    consistent(client, checkpoint.tree_size, checkpoint.root_hash, size, root, COSIGNED)
    names = ", ".join(key.name for key in cosigners)
    return f"; the checkpoint its witnesses cosigned (size {checkpoint.tree_size}, by " \
           f"{names}) is in its history"


class Cosigning:
    """Submits one checkpoint, already checked, to witnesses (C2SP tlog-witness), and
    gathers their cosignatures onto it. The Auditrail API key is never sent to them."""

    def __init__(self, log: httpx.Client, note: str, size: int,
                 signers: list[VerifierKey], verify: SignatureCheck,
                 known: dict[str, Any]) -> None:
        self._log, self._size = log, size
        self._signers, self._verify = signers, verify
        self._served = note
        self.note = note
        """The checkpoint with the cosignatures gathered so far."""
        self.sizes = {name: value for name, value in known.items()
                      if isinstance(value, int) and not isinstance(value, bool)}
        """The size each witness cosigned last, as far as this monitor knows."""
        self.cosigners: list[str] = []
        self.problems: list[str] = []

    def submit(self, witness: WitnessTarget) -> None:
        name = cosigner_key(witness.key.name, witness.key.public_key)
        old = self.sizes.get(name, 0)
        try:
            with httpx.Client(base_url=witness.url, timeout=30) as client:
                for _ in range(3):  # another monitor may move it between two requests
                    response = self._post(client, old)
                    if response.status_code != 409:
                        break
                    old = self._latest_size(client, response, witness)
                self._cosigned(client, response, witness, name)
        except _WitnessTrouble as trouble:
            self.problems.append(f"witness {witness.key.name}: {trouble}")
        except httpx.HTTPError as exc:
            self.problems.append(f"could not reach witness {witness.key.name} "
                                 f"({type(exc).__name__})")

    def summary(self) -> str:
        if not self.cosigners:
            return ""
        return f"; cosigned by {', '.join(self.cosigners)}"

    def _post(self, client: httpx.Client, old: int) -> httpx.Response:
        proof: list[bytes] = []
        if 0 < old < self._size:
            answer = get(self._log, "/api/v1/log/consistency",
                          params={"from_size": old, "to_size": self._size}).json()
            proof = [base64.b64decode(h) for h in answer.get("proof", [])][:MAX_PROOF_LINES]
        body = add_checkpoint_body(old, proof, self._served)
        return client.post("/add-checkpoint", content=body.encode(),
                           headers={"Content-Type": "text/plain; charset=utf-8"})

    def _latest_size(self, client: httpx.Client, response: httpx.Response,
                     witness: WitnessTarget) -> int:
        """The size a 409 names; above this run's, the witness has seen a newer
        checkpoint (fetched and checked, so that a witness's word alone alarms no one)."""
        text = response.text.strip()
        if not text.isdigit():
            raise _WitnessTrouble("answered 409 without the size it holds")
        size = int(text)
        if size > self._size:
            ahead = client.get(f"/{origin_hash(self._signers[0].name)}/checkpoint").text
            signed = signed_checkpoint(ahead, self._signers, self._verify)
            if signed is not None and signed.tree_size > self._size and \
                    cosigned_at(parse_note(ahead), witness.key, self._verify) is not None:
                raise WitnessAhead(ahead, signed.tree_size)
            raise _WitnessTrouble(f"says it cosigned size {size}, but serves no such "
                                  "checkpoint signed by the log and by itself")
        return size

    def _cosigned(self, client: httpx.Client, response: httpx.Response,
                  witness: WitnessTarget, name: str) -> None:
        if response.status_code == 422:
            raise MonitorFailed(
                f"witness {witness.key.name} refused to cosign the log's checkpoint of size "
                f"{self._size}: {_plain(response.text)}. The log showed it (or another "
                f"monitor) another history: a split view")
        if response.status_code != 200:
            raise _WitnessTrouble(_refused(response, self._signers[0].name))
        own = "".join(f"{line}\n" for line in response.text.split("\n")
                      if line.startswith(f"{SIGNATURE_PREFIX}{witness.key.name} "))
        try:
            cosigned = cosigned_at(parse_note(self._served + own), witness.key, self._verify)
        except InvalidNote:
            cosigned = None
        if cosigned is None:
            raise _WitnessTrouble("answered without a cosignature that verifies with its key")
        self.note += own
        self.sizes[name] = self._size
        self.cosigners.append(witness.key.name)


class _WitnessTrouble(Exception):
    """A witness that could not be used this run; says nothing about the log."""


def _refused(response: httpx.Response, origin: str) -> str:
    """What a witness's refusal means for whoever runs the monitor."""
    said = _plain(response.text)
    if response.status_code == 404:
        return f"does not follow {origin} (start it with --log and this log's verifier key)"
    if response.status_code == 403:
        return f"does not trust the key that signed the checkpoint ({said}): give it the " \
               "log's current verifier key"
    return f"answered {response.status_code}" + (f": {said}" if said else "")


def _plain(text: str) -> str:
    """A witness's words, printable and short: it is not trusted to write to a terminal."""
    return "".join(ch for ch in text.strip() if ch.isprintable())[:200]
