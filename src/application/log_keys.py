"""The keys that sign the transparency log: the installation's key, the keys it replaced,
and each workspace's name for them.

One Ed25519 key per installation signs every workspace's checkpoints; each workspace's log
has its own origin, ``<log name>/<workspace id>``, which is also the key's name in its
signatures. Keys it replaced (rotation) still sign beside it, so whatever pinned one of
them keeps checking what the log signs, and each hands its log over to the current key in
a rotation note that monitors follow. The notes are kept once signed (``countersign``), so
the chain of hand-overs outlives the keys that signed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from application.ports.signing import SignatureChecker, Signer
from domain.checkpoints import KeyRotation, origin_of
from domain.signed_notes import (
    InvalidNote,
    Note,
    b64,
    key_id,
    parse_note,
    parse_verifier_key,
    rotation_text,
    signature_by,
    signature_line,
    verifier_key,
)
from domain.signed_notes import VerifierKey as ParsedVerifierKey


@dataclass(frozen=True)
class RetiredKey:
    """A key the log's key replaced: while configured it co-signs, and its rotation note
    (signed by it) names its successor - the current key, or the next of an earlier
    rotation, whose note was kept."""

    key_id: str
    public_key: str
    verifier_key: str
    rotation: str


@dataclass(frozen=True)
class LogKey:
    origin: str
    key_name: str
    key_id: str
    public_key: str
    verifier_key: str
    previous: tuple[RetiredKey, ...] = ()


class LogKeys:
    def __init__(self, signer: Signer, previous: Sequence[Signer], checker: SignatureChecker,
                 log_name: str) -> None:
        self._signer = signer
        self.previous = tuple(previous)
        self._checker = checker
        self._log_name = log_name

    def origin(self, workspace_id: str) -> str:
        return origin_of(self._log_name, workspace_id)

    def key(self, workspace_id: str, kept: Sequence[KeyRotation] = ()) -> LogKey:
        """The workspace's key, and the keys it replaced: those configured, then those
        whose rotation notes were ``kept`` after they left the settings."""
        origin, public = self.origin(workspace_id), self._signer.public_key()
        current = verifier_key(origin, public)
        previous = [self._retired(origin, signer, current) for signer in self.previous]
        listed = {old.key_id for old in previous} | {key_id(origin, public).hex()}
        previous += [_kept(rotation) for rotation in kept if rotation.key_id not in listed]
        return LogKey(origin, origin, key_id(origin, public).hex(), b64(public), current,
                      tuple(previous))

    def rotations(self, workspace_id: str, at: datetime) -> list[KeyRotation]:
        """The rotation notes of the configured previous keys, to keep."""
        return [KeyRotation(workspace_id, old.key_id, old.verifier_key, old.rotation, at)
                for old in self.key(workspace_id).previous]

    @staticmethod
    def _retired(origin: str, signer: Signer, successor: str) -> RetiredKey:
        public = signer.public_key()
        text = rotation_text(origin, successor)
        rotation = f"{text}\n{signature_line(origin, public, signer.sign(text.encode()))}"
        return RetiredKey(key_id(origin, public).hex(), b64(public),
                          verifier_key(origin, public), rotation)

    def sign_text(self, workspace_id: str, text: str) -> str:
        """``text`` as a note signed by the log's key, and co-signed by the keys it
        replaced (for checkpoints and anchors)."""
        origin, message = self.origin(workspace_id), text.encode("utf-8")
        lines = "".join(signature_line(origin, signer.public_key(), signer.sign(message))
                        for signer in self._all())
        return f"{text}\n{lines}"

    def signed_by_log(self, workspace_id: str, note: str) -> str | None:
        """The note's text when the log's key, or one it replaced, signed it, else None."""
        try:
            parsed = parse_note(note)
        except InvalidNote:
            return None
        return self._verified(workspace_id, parsed)

    def names_current(self, workspace_id: str, note: str) -> bool:
        """Whether the note carries a signature line of the current key (not checked:
        whoever relies on it checks it)."""
        try:
            parsed = parse_note(note)
        except InvalidNote:
            return False
        return self._signature(workspace_id, parsed, self._signer) is not None

    def signed_first_by_own(self, workspace_id: str, note: str) -> bool:
        """Whether the note's first signature line - the key that signed it; the others
        co-sign - names the current key or one it replaced (not checked)."""
        try:
            first = parse_note(note).signatures[0]
        except InvalidNote:
            return False
        origin = self.origin(workspace_id)
        return any((first.name, first.key_id) == (origin, key_id(origin, signer.public_key()))
                   for signer in self._all())

    def countersigned_after_rotation(self, workspace_id: str, note: str,
                                     retired: set[str]) -> bool:
        """Whether the note was signed first by a key the log retired (one of the ``retired``
        key ids, whose rotation notes were kept) and last by the current key, as
        ``countersign`` leaves a checkpoint signed before a rotation (not checked). A
        process left on a key retired since finds another key's signature last."""
        try:
            signatures = parse_note(note).signatures
        except InvalidNote:
            return False
        origin = self.origin(workspace_id)
        first, last = signatures[0], signatures[-1]
        return first.name == origin and first.key_id.hex() in retired and \
            (last.name, last.key_id) == (origin, key_id(origin, self._signer.public_key()))

    def countersigned(self, workspace_id: str, note: str) -> str | None:
        """The note (a checkpoint or an anchor) with the current key's signature, added
        when a key it replaced signed it; None when no key of the log's did (a note
        planted in the database is never vouched for)."""
        try:
            parsed = parse_note(note)
        except InvalidNote:
            return None
        if self._signature(workspace_id, parsed, self._signer) is not None:
            return note
        text = self._verified(workspace_id, parsed)
        if text is None:
            return None
        return note + signature_line(self.origin(workspace_id), self._signer.public_key(),
                                     self._signer.sign(text.encode("utf-8")))

    def adopted(self, workspace_id: str, note: str, text: str) -> str | None:
        """The note with the current key's signature over ``text`` - what the stored tree
        and chain give - when that is what the note says; None when it says anything else.
        For what a key lost for good signed (``AUDITRAIL_SIGNING_KEY_LOST``): nothing can
        check its signature any more, so the log takes on the database as it is, once, as
        it did when it backfilled the tree (and as signing on does anyway)."""
        try:
            parsed = parse_note(note)
        except InvalidNote:
            return None
        if parsed.text != text:
            return None
        if self._signature(workspace_id, parsed, self._signer) is not None:
            return note
        return note + signature_line(self.origin(workspace_id), self._signer.public_key(),
                                     self._signer.sign(text.encode("utf-8")))

    def _verified(self, workspace_id: str, parsed: Note) -> str | None:
        message = parsed.text.encode("utf-8")
        for signer in self._all():
            signature = self._signature(workspace_id, parsed, signer)
            if signature is not None and self._checker.verify(signer.public_key(), message,
                                                              signature):
                return parsed.text
        return None

    def _signature(self, workspace_id: str, parsed: Note, signer: Signer) -> bytes | None:
        """The signature the note carries from ``signer``'s key, unchecked."""
        origin, public = self.origin(workspace_id), signer.public_key()
        try:
            return signature_by(parsed, ParsedVerifierKey(origin, key_id(origin, public),
                                                          public))
        except InvalidNote:
            return None

    def _all(self) -> tuple[Signer, ...]:
        return (self._signer, *self.previous)


def _kept(rotation: KeyRotation) -> RetiredKey:
    public = parse_verifier_key(rotation.verifier_key).public_key
    return RetiredKey(rotation.key_id, b64(public), rotation.verifier_key, rotation.note)
