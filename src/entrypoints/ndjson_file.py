"""Reading an exported NDJSON file for offline verification: line by line, in constant
memory, gzip-compressed or not, from a path or standard input - or a folder of an S3
stream's objects, one after another in name order."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast


class UnreadableFile(ValueError):
    """A line that is not a JSON object, or compressed data that ends too soon."""


_GZIP_MAGIC = b"\x1f\x8b"


ARCHIVE_OBJECT = re.compile(r"^[0-9]+\.ndjson(\.gz)?$")
"""An S3 stream's delivery object (``000000000042.ndjson``, gzipped or not); its test
objects, in ``test/``, are not the archive's."""


def documents(file: Path) -> Iterator[dict[str, Any]]:
    """Each line's JSON object, streamed so a multi-gigabyte export verifies in constant
    memory; ``-`` reads standard input, and a folder its archive objects in name order
    (as an S3 stream numbers them), each inflated if gzipped: years of archive verify
    without being laid end to end on disk first."""
    if file.is_dir():
        objects = sorted(path for path in file.iterdir()
                         if path.is_file() and ARCHIVE_OBJECT.match(path.name))
        if not objects:
            raise UnreadableFile(f"{file} holds no archive objects (<number>.ndjson or "
                                 f"<number>.ndjson.gz)")
        for path in objects:
            try:
                yield from _file_documents(path)
            except UnreadableFile as exc:
                raise UnreadableFile(f"{path.name}: {exc}") from None
        return
    yield from _file_documents(file)


def _file_documents(file: Path) -> Iterator[dict[str, Any]]:
    with _opened(file) as handle:
        number = 0
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                yield _document(line, number)
        except (EOFError, gzip.BadGzipFile, zlib.error):
            # a download cut short ends the gzip stream early: never "valid" for what is left
            raise UnreadableFile(f"the gzip data is cut short or corrupt after {number} "
                                 "line(s); download the export again") from None


@contextlib.contextmanager
def _opened(file: Path) -> Iterator[io.BufferedIOBase]:
    """The file's bytes, decompressed when they start with gzip's magic number: an export
    made with "gzip": true is recognised by its content, whatever the file is called."""
    with contextlib.ExitStack() as stack:
        source = sys.stdin.buffer if str(file) == "-" else stack.enter_context(file.open("rb"))
        # a pipe is a BufferedReader; a test's BytesIO is not, yet reads as a raw stream does
        raw = source if isinstance(source, io.BufferedReader) \
            else io.BufferedReader(cast(io.RawIOBase, source))
        if raw.peek(2)[:2] == _GZIP_MAGIC:
            yield stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        else:
            yield raw


def _document(line: bytes, number: int) -> dict[str, Any]:
    try:
        document = json.loads(line)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, endless digits, depth
        hint = "; a CSV export cannot be verified, export NDJSON" \
            if number == 1 and line.startswith(b"id,") else ""
        raise UnreadableFile(f"line {number} is not valid JSON{hint}") from None
    if not isinstance(document, dict):
        raise UnreadableFile(f"line {number} is not a JSON object")
    return document
