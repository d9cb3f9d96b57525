"""``auditrail verify``: an export checked offline, by anyone holding the file, with no
access to the service that made it."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from domain.canonical_json import canonical_json
from domain.cosignatures import parse_cosigner_key
from domain.evidence import EvidenceCheck, EvidenceFailed, cosigned_extension
from domain.hash_chain import ChainHead, document_core
from domain.merkle import leaf_hash
from domain.receipts import ReceiptBroken, ReceiptLedger
from domain.signed_notes import Checkpoint, InvalidNote, VerifierKey, parse_verifier_key
from domain.signed_notes import verifier_key as verifier_key_text
from domain.verification import (
    GENESIS,
    PREV_HASH_MISMATCH,
    SEQUENCE_GAP,
    STATUS,
    ChainVerifier,
    VerificationReport,
    verify_partial,
)
from entrypoints import ndjson_file
from entrypoints.container.offline import OfflineContainer
from entrypoints.seen_checkpoints import UnreadableFile, receipt_notes


@click.command("verify")
@click.argument("file", type=click.Path(exists=True, allow_dash=True, path_type=Path))
@click.option("--partial", is_flag=True,
              help="The file is a filtered export: check every event against its own "
                   "prev_hash instead of one unbroken chain from sequence 1.")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="SEQUENCE:HASH",
              callback=lambda _ctx, _param, values: _checkpoints(values),
              help="A head recorded earlier (to_sequence and head_hash of GET "
                   "/events/verify): the file must hold that event with that hash, so the "
                   "chain up to it was not rewritten since. Repeatable.")
@click.option("--evidence", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The export's evidence (GET /exports/{id}/evidence): prove the rows are "
                   "in the signed log, and for an unfiltered export that none is missing.")
@click.option("--verifier-key", "verifier_key",
              help="The log's verifier key, as you pinned it (GET /log/key once, kept "
                   "safe): needed with --evidence and --signed-checkpoint.")
@click.option("--signed-checkpoint", "signed_checkpoint",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A checkpoint the log signed (an S3 stream object's auditrail-checkpoint, "
                   "GET /log/checkpoint): the file, from sequence 1, must rebuild its tree; "
                   "rows past it are chained to those.")
@click.option("--rotations", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --signed-checkpoint: GET /log/key's answer (JSON), whose "
                   "previous_keys carry the log's rotation notes, to prove a checkpoint "
                   "signed after the key you pinned was rotated (each note is checked "
                   "from that key on).")
@click.option("--receipts", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Ingest receipts the log signed (Prefer: receipt) in a file - one after "
                   "another, or JSON holding them as 'receipt' - checked with "
                   "--verifier-key: every event they name that the file holds must be as "
                   "the log accepted it.")
@click.option("--cosigned-by", "cosigned_by", multiple=True, metavar="WKEY",
              callback=lambda _ctx, _param, values: _cosigners(values),
              help="The cosigner key of a witness of the log you trust (with --evidence): "
                   "the evidence's checkpoint cosigned by the log's witnesses must carry "
                   "its valid cosignature and extend the export's. Repeatable.")
def verify(file: Path, partial: bool, checkpoints: tuple[ChainHead, ...],
           evidence: Path | None, verifier_key: str | None,
           signed_checkpoint: Path | None, rotations: Path | None, receipts: Path | None,
           cosigned_by: tuple[VerifierKey, ...]) -> None:
    """Verify the hash chain of an NDJSON export offline (exit 0 when valid); with
    --evidence (or --signed-checkpoint, for a whole chain) and --verifier-key, also that it
    is in the log the key signed; with --cosigned-by, also that it is in the history the
    log's witnesses cosigned; with --receipts, also that its events are as accepted.

    FILE may be gzip-compressed (an export made with "gzip": true), - for standard input,
    or a folder of an S3 stream's objects (<number>.ndjson, gzipped or not), read one
    after another in name order.
    """
    if cosigned_by and evidence is None:
        raise click.UsageError("--cosigned-by goes with --evidence")
    if evidence is not None and file.is_dir():
        raise click.UsageError("--evidence proves an export's file, not a folder of "
                               "archive objects (prove those with --signed-checkpoint)")
    if signed_checkpoint is not None and (evidence is not None or partial):
        raise click.UsageError("--signed-checkpoint proves a whole chain from sequence 1: "
                               "not with --evidence or --partial")
    if rotations is not None and signed_checkpoint is None and receipts is None:
        raise click.UsageError("--rotations goes with --signed-checkpoint or --receipts "
                               "(evidence carries its own)")
    ledger = _ledger(receipts, verifier_key, _rotation_notes(rotations))
    check = _evidence(file, evidence, verifier_key, receipts is not None) \
        if signed_checkpoint is None else \
        _signed(signed_checkpoint, verifier_key, _rotation_notes(rotations))
    partial = partial or (check is not None and check.frontier is None)
    seen: dict[int, Any] = {}
    cosigned = None
    documents = _noting(ndjson_file.documents(file), {c.sequence for c in checkpoints},
                        seen, ledger)
    try:
        first = next(documents, None)
        stream = itertools.chain([first] if first is not None else [], documents)
        if partial:
            report = verify_partial(_proved(stream, check))
        else:  # a chain trimmed by retention starts after its anchor, not at genesis
            report = _verify_whole(stream, GENESIS if _at_genesis(first) else None, check)
        if check is not None and report.valid:
            check.finish()
            cosigned = _cosigned(check, cosigned_by)
    except ndjson_file.UnreadableFile as exc:
        _invalid(str(exc))
    except EvidenceFailed as exc:
        _invalid(f"{'checkpoint' if check is not None and check.prefix else 'evidence'}: "
                 f"{exc}")
    except ReceiptBroken as exc:
        _invalid(f"receipts: {exc}")
    if not report.valid:
        hint = not partial and report.reason in (SEQUENCE_GAP, PREV_HASH_MISMATCH)
        why = (": its hash matches, but its status is not processed, and only a linked "
               "event has a place in the chain" if report.detail == STATUS else "")
        _invalid(f"{report.reason} at {_failed_event(report)}{why}; {report.checked} events "
                 f"checked", "(if this is a filtered export, verify it with --partial)"
                 if hint else None)
    _require_checkpoints(checkpoints, seen)
    click.echo(_valid(report, partial, first))
    if checkpoints:
        click.echo(f"checkpoints matched: {', '.join(str(c.sequence) for c in checkpoints)}")
    if check is not None and check.prefix:
        beyond = report.checked - check.rows
        click.echo(f"checkpoint: the first {check.rows} rows rebuild the signed tree of size "
                   f"{check.checkpoint.tree_size} of the log {check.checkpoint.origin}"
                   + (f"; the {beyond} after them are chained to them" if beyond else ""))
        _say_rotated(check, verifier_key)
    elif check is not None:
        proved = "none is missing: they rebuild" if check.frontier is not None \
            else "each is included in"
        click.echo(f"evidence: {check.rows} rows are in the log {check.checkpoint.origin}, "
                   f"{proved} its signed tree of size {check.checkpoint.tree_size}")
        if cosigned is not None:
            click.echo(f"cosigned: {', '.join(key.name for key in cosigned_by)} cosigned "
                       f"the log's tree of size {cosigned.tree_size}, which extends it")
        _say_rotated(check, verifier_key)
    if ledger is not None:
        _say_receipts(ledger)


def _say_receipts(ledger: ReceiptLedger) -> None:
    absent = ledger.absent()
    click.echo(f"receipts: {ledger.receipts} receipt(s) promised {len(ledger.promised)} "
               f"event(s); the {len(ledger.met)} in the file are as the log accepted them")
    if absent:
        named = ", ".join(absent[:5]) + (", …" if len(absent) > 5 else "")
        click.echo(f"not in the file: {len(absent)} ({named}): linked after it, filtered "
                   f"out, removed by retention before it, or never linked - the client's "
                   f"verify_receipt asks the log")


def _ledger(receipts: Path | None, verifier_key: str | None,
            rotations: list[str]) -> ReceiptLedger | None:
    if receipts is None:
        return None
    if verifier_key is None:
        raise click.UsageError("--receipts needs --verifier-key: the key you pinned")
    try:
        key = parse_verifier_key(verifier_key)
        with receipts.open(encoding="utf-8-sig", errors="replace") as handle:
            notes = list(receipt_notes(handle))
        return ReceiptLedger.of(notes, key,
                                OfflineContainer().signature_checker().verify,
                                rotations)
    except InvalidNote as exc:
        raise click.BadParameter(str(exc), param_hint="--verifier-key") from None
    except (UnreadableFile, ReceiptBroken) as exc:
        _invalid(f"receipts: {exc}")


def _say_rotated(check: EvidenceCheck, verifier_key: str | None) -> None:
    signer = check.signed_by
    if signer is not None and signer != parse_verifier_key(verifier_key or ""):
        click.echo(f"the verifier key given has since been replaced: its rotation "
                   f"notes lead to {verifier_key_text(signer.name, signer.public_key)}, which "
                   f"signed the checkpoint")


def _rotation_notes(path: Path | None) -> list[str]:
    """The notes in GET /log/key's answer (``previous_keys[].rotation``); the check of each
    is the evidence's, so an answer from anywhere proves nothing the pinned key did not."""
    if path is None:
        return []
    try:
        document = json.loads(path.read_text())
        previous = document.get("previous_keys") if isinstance(document, dict) else None
        if not isinstance(previous, list):
            raise ValueError("no previous_keys")
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"not GET /log/key's answer ({exc})",
                                 param_hint="--rotations") from None
    return [key["rotation"] for key in previous
            if isinstance(key, dict) and isinstance(key.get("rotation"), str)]


def _signed(note: Path, verifier_key: str | None, rotations: list[str]) -> EvidenceCheck:
    if verifier_key is None:
        raise click.UsageError("--signed-checkpoint needs --verifier-key: the key you pinned")
    try:
        key = parse_verifier_key(verifier_key)
        check_signature = OfflineContainer().signature_checker().verify
        return EvidenceCheck.of_checkpoint(note.read_text(), key, check_signature, rotations)
    except InvalidNote as exc:
        raise click.BadParameter(str(exc), param_hint="--verifier-key") from None
    except (UnicodeDecodeError, EvidenceFailed) as exc:
        _invalid(f"checkpoint: {exc}")


def _evidence(file: Path, evidence: Path | None, verifier_key: str | None,
              receipts: bool) -> EvidenceCheck | None:
    if evidence is None:
        if verifier_key is not None and not receipts:
            raise click.UsageError("--verifier-key goes with --evidence, "
                                   "--signed-checkpoint or --receipts")
        return None
    if verifier_key is None:
        raise click.UsageError("--evidence needs --verifier-key: the key you pinned, not "
                               "one the evidence could bring along")
    try:
        key = parse_verifier_key(verifier_key)
        document = json.loads(evidence.read_text())
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        check = EvidenceCheck.of(document, key, OfflineContainer().signature_checker().verify)
    except InvalidNote as exc:
        raise click.BadParameter(str(exc), param_hint="--verifier-key") from None
    except ValueError as exc:
        _invalid(f"evidence: the file is not evidence ({exc})")
    except EvidenceFailed as exc:
        _invalid(f"evidence: {exc}")
    expected = document.get("file_sha256")
    if str(file) != "-" and expected and _sha256(file) != expected:
        _invalid("evidence: the file is not the one the evidence describes (its sha256 "
                 "differs)")
    return check


def _cosigners(values: tuple[str, ...]) -> tuple[VerifierKey, ...]:
    try:
        return tuple(parse_cosigner_key(value) for value in values)
    except InvalidNote as exc:
        raise click.BadParameter(str(exc), param_hint="--cosigned-by") from None


def _cosigned(check: EvidenceCheck, cosigners: tuple[VerifierKey, ...]) -> Checkpoint | None:
    """The evidence's cosigned checkpoint, once it holds (``EvidenceFailed`` otherwise)."""
    if not cosigners or check.signed_by is None:
        return None
    return cosigned_extension(check.cosigned, check.checkpoint, check.signed_by, cosigners,
                              OfflineContainer().signature_checker().verify)


def _sha256(file: Path) -> str:
    """In constant memory: an export may be larger than the machine's memory."""
    with file.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _verify_whole(stream: Iterator[dict[str, Any]], anchor: ChainHead | None,
                  check: EvidenceCheck | None) -> VerificationReport:
    """One pass: each row's canonical bytes serve the chain hash and the leaf hash."""
    verifier = ChainVerifier(anchor)
    for document in stream:
        if not verifier.feed(document):
            break
        if check is not None:
            check.feed(document, verifier.leaf)
    return verifier.finish()


def _proved(stream: Iterator[dict[str, Any]],
            check: EvidenceCheck | None) -> Iterator[dict[str, Any]]:
    for document in stream:
        if check is not None:
            check.feed(document, leaf_hash(canonical_json(document_core(document))))
        yield document


def _at_genesis(first: dict[str, Any] | None) -> bool:
    """An export that starts after sequence 1 starts at the workspace's retained anchor."""
    return first is None or not isinstance(first.get("sequence"), int) or first["sequence"] <= 1


def _valid(report: VerificationReport, partial: bool, first: dict[str, Any] | None) -> str:
    if not report.checked:
        return ("valid: the file holds no events (an export of an empty workspace or "
                "filter); compare with GET /events/verify")
    kind = "partial chain, every event intact" if partial else "whole chain"
    if first is not None and not partial and not _at_genesis(first):
        kind = (f"chain from the retention anchor at sequence {first['sequence'] - 1}, "
                f"hash {first.get('prev_hash')}: compare it with GET /events/verify")
    return (f"valid ({kind}): {report.checked} events, sequences "
            f"{report.from_sequence}-{report.to_sequence}, head hash {report.head_hash}")


def _invalid(message: str, note: str | None = None) -> NoReturn:
    click.echo(f"invalid: {message}", err=True)
    if note:
        click.echo(note, err=True)
    sys.exit(1)


_CHECKPOINT = re.compile(r"([1-9][0-9]{0,18}):([0-9a-fA-F]{64})")


def _checkpoints(values: tuple[str, ...]) -> tuple[ChainHead, ...]:
    parsed = []
    for value in values:
        match = _CHECKPOINT.fullmatch(value)
        if match is None:
            raise click.BadParameter(f"{value!r} is not SEQUENCE:HASH (a sequence, a colon "
                                     "and the 64 hex digits of its hash)")
        parsed.append(ChainHead(int(match[1]), match[2].lower()))
    return tuple(parsed)


def _noting(documents: Iterator[dict[str, Any]], sequences: set[int],
            seen: dict[int, Any], ledger: ReceiptLedger | None
            ) -> Iterator[dict[str, Any]]:
    """Pass the documents on, keeping the hash of each one a checkpoint names, and
    holding each one a receipt names to its promise."""
    for document in documents:
        sequence = document.get("sequence")
        if type(sequence) is int and sequence in sequences:
            seen[sequence] = document.get("hash")
        if ledger is not None:
            ledger.feed(document)
        yield document


def _require_checkpoints(checkpoints: tuple[ChainHead, ...], seen: dict[int, Any]) -> None:
    """An intact chain can still be a rewritten one, recomputed from the first change on;
    a head recorded before the change tells."""
    for checkpoint in checkpoints:
        if checkpoint.sequence not in seen:
            _invalid(f"the file holds no event at the checkpoint's sequence "
                     f"{checkpoint.sequence}")
        if seen[checkpoint.sequence] != checkpoint.hash:
            _invalid(f"the event at sequence {checkpoint.sequence} has hash "
                     f"{seen[checkpoint.sequence]}, not the checkpoint's {checkpoint.hash}: "
                     f"the chain up to it was rewritten")


def _failed_event(report: VerificationReport) -> str:
    """Where the chain broke, with what the file says of that event."""
    where = (f"sequence {report.first_invalid_sequence}"
             if report.first_invalid_sequence is not None
             else f"the file's event {report.checked}, which has no whole-number sequence")
    return f"{where} (event {report.event_id})" if report.event_id else where
