"""Signed checkpoints an auditor gathered outside the log, for ``auditrail log monitor
--seen``, and the ingest receipts an application kept, for ``--receipts``.

Log-stream deliveries and alert notifications carry the log's latest checkpoint, other
auditors keep theirs in state files, readers save pages of ``GET /log/checkpoints``: each
is a signature the log cannot take back. A log that showed different histories to
different readers (a split view) is caught as soon as one of them is checked against the
history it serves now, which is why these are read from whatever form they were kept in.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from domain.signed_notes import SIGNATURE_PREFIX

NOTE_KEYS = ("checkpoint", "note")
"""Where JSON documents hold a signed note: webhook and alert bodies and a monitor's
state file (``checkpoint``), a page of ``GET /log/checkpoints`` (``note``)."""
RECEIPT_KEYS = ("receipt",)
"""Where JSON documents hold a receipt: the answers of POST /events and /events/batch."""

_LONGEST_NOTE = 1_000
"""Lines; a checkpoint has a handful, so more is a file of something else."""
_LONGEST_RECEIPT = 1_010
"""Lines: a receipt names at most a batch's 1,000 events, below a few more lines."""


class UnreadableFile(ValueError):
    """The file is neither signed notes nor JSON holding them."""


def files_under(path: Path) -> list[Path]:
    """``path`` itself, or every file under the folder ``path``, in name order: a receiver
    that keeps each body in a file of its own (by day, say) is read as one. Hidden files
    and folders (``.cache``, editors' swap files) are left out."""
    if not path.is_dir():
        return [path]
    return sorted(file for file in path.rglob("*") if file.is_file() and not any(
        part.startswith(".") for part in file.relative_to(path).parts))


def checkpoint_notes(handle: IO[str]) -> Iterator[str]:
    """The signed notes in ``handle``: notes one after another (as ``GET /log/checkpoint``
    serves them), or JSON - one document a line (NDJSON), documents run together (bodies
    saved without a newline, then concatenated), or documents over several lines; notes
    are found in JSON under ``checkpoint`` or ``note`` at any depth, and in JSON held as a
    string. Read a line at a time, except documents spread over several lines."""
    return signed_notes(handle, NOTE_KEYS, _LONGEST_NOTE)


def receipt_notes(handle: IO[str]) -> Iterator[str]:
    """The receipts in ``handle``, kept in any of the forms ``checkpoint_notes`` reads:
    notes one after another (as the Python client's ``ReceiptFolder`` keeps them), or
    JSON holding them under ``receipt`` (the ingest answers, saved whole)."""
    return signed_notes(handle, RECEIPT_KEYS, _LONGEST_RECEIPT)


def signed_notes(handle: IO[str], keys: tuple[str, ...], longest: int) -> Iterator[str]:
    """The notes in ``handle``: as text, each at most ``longest`` lines, or in JSON under
    one of ``keys``."""
    lines = iter(handle)
    for first in lines:
        if first.strip():
            break
    else:
        return
    if not first.lstrip().startswith(("{", "[")):
        yield from _text_notes(itertools.chain([first], lines), longest)
        return
    try:
        values = _json_values(first)
    except UnreadableFile:  # documents over several lines, as state files are written
        for value in _json_values(first + "".join(lines), "neither signed notes nor JSON"):
            yield from _json_notes(value, keys)
        return
    for value in values:
        yield from _json_notes(value, keys)
    for number, line in enumerate(lines, start=2):
        for value in _json_values(line, f"line {number} is not JSON"):
            yield from _json_notes(value, keys)


def _json_values(text: str, problem: str = "not JSON") -> list[Any]:
    """Every JSON value in ``text``, one after another, whitespace between them or not."""
    decoder, at = json.JSONDecoder(), 0
    values: list[Any] = []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return values
        try:
            value, at = decoder.raw_decode(text, at)
        except (ValueError, RecursionError):
            raise UnreadableFile(problem) from None
        values.append(value)


def _text_notes(lines: Iterable[str], longest: int) -> Iterator[str]:
    """Notes end with their signature lines: the first other line after them begins the
    next note (blank lines between notes are skipped)."""
    note: list[str] = []
    below_blank = signed = False
    for raw in lines:
        line = raw.rstrip("\r\n") + "\n"
        if signed and not line.startswith(SIGNATURE_PREFIX):
            yield "".join(note)
            note, below_blank, signed = [], False, False
        if not note and line == "\n":
            continue
        if line == "\n":
            below_blank = True
        elif below_blank and line.startswith(SIGNATURE_PREFIX):
            signed = True
        note.append(line)
        if len(note) > longest:
            raise UnreadableFile(f"not signed notes: {longest} lines without a signature")
    if signed:
        yield "".join(note)


def _json_notes(document: Any, keys: tuple[str, ...]) -> Iterator[str]:
    """Also inside strings that hold a JSON object: a SIEM's export keeps each record's
    raw text (Splunk's ``_raw``, Datadog's ``message``) beside, or instead of, its fields."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key in keys and isinstance(item, str):
                    yield item
                elif isinstance(item, (dict, list)):
                    pending.append(item)
                elif isinstance(item, str) and _holds_json_note(item, keys):
                    with contextlib.suppress(ValueError, RecursionError):
                        pending.append(json.loads(item))
        elif isinstance(value, list):
            pending.extend(reversed(value))


def _holds_json_note(text: str, keys: tuple[str, ...]) -> bool:
    return text.lstrip().startswith("{") and any(f'"{key}"' in text for key in keys)
