"""ReceiptFolder: receipts appended by several processes at once come back whole, in the
form the server's `auditrail verify --receipts` and `log monitor --receipts` read."""

from __future__ import annotations

import multiprocessing
import os
import stat

import pytest

from auditrail_client import ReceiptFolder
from auditrail_client.receipts import split_receipts


def note(writer: int, number: int) -> str:
    """A receipt's shape at its largest: a thousand entry lines, then a signature."""
    lines = "".join(f"evt_{writer:02d}{number:04d}{line:020d} {'A' * 43}=\n"
                    for line in range(1000))
    return (f"log.example/ws_1\ningest receipt\n2026-12-06T09:30:01.250000Z\n{lines}\n"
            f"\u2014 log.example/ws_1 {'B' * 92}\n")


def append(folder: str, writer: int) -> None:
    keep = ReceiptFolder(folder)
    for number in range(25):
        keep(note(writer, number))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_processes_appending_at_once_leave_every_receipt_whole(tmp_path) -> None:
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=append, args=(str(tmp_path), w)) for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    kept = ReceiptFolder(tmp_path).receipts()
    assert sorted(kept) == sorted(note(w, n) for w in range(4) for n in range(25))
    [file] = tmp_path.glob("receipts-*.txt")
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_receipts_split_back_with_blank_lines_between_and_cosignatures() -> None:
    cosigned = note(1, 1) + f"\u2014 log.example/ws_1 {'C' * 92}\n"
    assert split_receipts("\n" + cosigned + "\n\n" + note(2, 2)) == [cosigned, note(2, 2)]
    assert split_receipts("") == []
