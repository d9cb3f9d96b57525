"""PostgreSQL renders export rows itself; they must equal the domain's rendering."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
import threading
import time
from pathlib import Path

import pytest

from adapters.sql import export_writer
from domain.event_search import EventFilters
from domain.export_rows import CSV_COLUMNS, csv_row, ndjson_line
from domain.exports import Export, WrittenRows
from tests.geo_db import LONDON_V4, build_city_database
from tests.integration.stacks import production_stack

TRICKY = [
    {"action": "user.login", "actor": {"id": "=cmd|' /C calc'!A0", "type": "user",
                                       "name": "Zoë «quotes» \"and\" commas, too",
                                       "metadata": {"n": 1.0, "big": 9007199254740991,
                                                    "neg": -0.5, "nested": {"a": [1, "x"]}}},
     "targets": [{"id": "+doc", "type": "-file", "name": "@me"}],
     "context": {"ip_address": LONDON_V4, "user_agent": "line one\nline two\r\ttab"},
     "metadata": {"formula": "=1+1", "emoji": "🙂", "empty": "", "null": None}},
    {"action": "a", "actor": {"id": "u", "type": "t"}},
]


@pytest.mark.parametrize("halves", [False, True], ids=["one-statement", "two-halves"])
def test_sql_rendering_equals_domain_rendering(postgres_url: str, redis_url: str,
                                               tmp_path: Path, halves: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Large exports are rendered in two halves on two connections: the file must be the
    same, byte for byte in meaning, whichever way it was rendered."""
    if halves:
        monkeypatch.setattr(export_writer, "SPLIT_FROM", 2)
    stack = production_stack(postgres_url, redis_url,
                             geoip_db=str(build_city_database(tmp_path / "c.mmdb")))
    try:
        workspace_id, _ = stack.new_workspace()
        stack.container.ingest_events().execute(workspace_id, TRICKY * 3, batch=True)
        stack.drain()
        with stack.container.uow(snapshot=True) as uow:
            events = list(uow.events.iter_chain(workspace_id, 1, None, 100))
            rendered = {}
            for format_ in ("ndjson", "csv"):
                sink = io.BytesIO()
                written = uow.events.write_export(workspace_id, EventFilters(), format_, sink,
                                                  lambda: None)
                assert written == WrittenRows(6, 1, 6)
                rendered[format_] = sink.getvalue().decode()
        assert [json.loads(line) for line in rendered["ndjson"].splitlines()] == \
            [json.loads(ndjson_line(event)) for event in events]
        expected = io.StringIO(newline="")
        writer = csv.writer(expected)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_row(event) for event in events)
        assert list(csv.reader(io.StringIO(rendered["csv"], newline=""))) == \
            list(csv.reader(io.StringIO(expected.getvalue(), newline="")))
    finally:
        stack.close()


def test_both_halves_read_the_exports_snapshot(postgres_url: str, redis_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Events linked after the export's snapshot was taken are in neither half, though the
    upper half is read on another connection, after they were committed."""
    monkeypatch.setattr(export_writer, "SPLIT_FROM", 2)
    stack = production_stack(postgres_url, redis_url)
    try:
        workspace_id, _ = stack.new_workspace()
        ingest = stack.container.ingest_events()
        ingest.execute(workspace_id, TRICKY * 3, batch=True)
        stack.drain()
        with stack.container.uow(snapshot=True) as uow:
            assert uow.events.count(workspace_id, EventFilters()) == 6  # the snapshot
            ingest.execute(workspace_id, TRICKY * 3, batch=True)
            stack.drain()
            for format_ in ("ndjson", "csv"):
                sink = io.BytesIO()
                assert uow.events.write_export(workspace_id, EventFilters(), format_, sink,
                                               lambda: None) == WrittenRows(6, 1, 6)
                lines = sink.getvalue().decode().splitlines()
                if format_ == "ndjson":
                    assert [json.loads(line)["sequence"] for line in lines] == [1, 2, 3, 4, 5, 6]
        with stack.container.uow(snapshot=True) as uow:
            assert uow.events.write_export(workspace_id, EventFilters(), "csv", io.BytesIO(),
                                           lambda: None) == WrittenRows(12, 1, 12)
    finally:
        stack.close()


@pytest.mark.parametrize("format_", ["ndjson", "csv"])
def test_an_export_in_two_halves_is_the_file_of_one(postgres_url: str, redis_url: str,
                                                    format_: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Through ``RunExport`` with gzip: the file, its row count, size and digest are those
    of the same export rendered by one statement."""
    stack = production_stack(postgres_url, redis_url)
    try:
        workspace_id, _ = stack.new_workspace()
        stack.container.ingest_events().execute(workspace_id, TRICKY * 50, batch=True)
        stack.drain()
        done = {}
        for halves, split_from in (("one", 10**9), ("two", 2)):
            monkeypatch.setattr(export_writer, "SPLIT_FROM", split_from)
            export = Export(id=f"exp_halves{halves}{format_}", workspace_id=workspace_id,
                            format=format_, created_at=stack.container.clock().now(),
                            gzip=True)
            with stack.container.uow() as uow:
                uow.exports.add(export)
                uow.commit()
            finished = stack.container.run_export().execute(export.id)
            assert finished is not None and finished.status == "completed"
            with stack.container.blob_store().open(finished.blob_key) as file:
                done[halves] = (finished.row_count, finished.size_bytes, finished.sha256,
                                gzip.decompress(file.read()))
        assert done["one"][0] == 100
        assert done["two"] == done["one"]
    finally:
        stack.close()


def test_a_half_that_fails_stops_the_other(postgres_url: str, redis_url: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails (a full disk) fails the export at once, and the other half's
    rendering is cancelled and waited for rather than left running on its connection (its
    spool is slowed here, so that it is still running when the first half fails)."""
    monkeypatch.setattr(export_writer, "SPLIT_FROM", 2)
    stack = production_stack(postgres_url, redis_url)
    spool_file = tempfile.TemporaryFile

    class FullDisk(io.BytesIO):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            raise OSError(28, "No space left on device")

    class SlowSpool:
        def __init__(self, **options: object) -> None:
            self._file = spool_file(**options)  # type: ignore[call-overload]

        def __enter__(self) -> SlowSpool:
            return self

        def __exit__(self, *exc_info: object) -> None:
            self._file.close()

        def write(self, data: bytes) -> int:
            time.sleep(0.5)
            return self._file.write(data)

    monkeypatch.setattr(tempfile, "TemporaryFile", SlowSpool)

    try:
        workspace_id, _ = stack.new_workspace()
        stack.container.ingest_events().execute(workspace_id, TRICKY * 50, batch=True)
        stack.drain()
        started = time.monotonic()
        with stack.container.uow(snapshot=True) as uow, pytest.raises(OSError):
            uow.events.write_export(workspace_id, EventFilters(), "ndjson", FullDisk(),
                                    lambda: None)
        assert time.monotonic() - started < 5  # not the 25 s the upper half's rows take
        assert not [thread for thread in threading.enumerate()
                    if thread.name == "export-upper-half"]
    finally:
        stack.close()
