"""The export state machine, signed links, CSV safety and the export use cases."""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from application.errors import Conflict, NotFound
from application.use_cases.export_upkeep import ExportUpkeep
from application.use_cases.exports import (
    CreateDownloadLink,
    CreateExport,
    GetExport,
    ListExports,
)
from application.use_cases.run_export import RunExport
from domain.errors import ValidationFailed
from domain.export_rows import CSV_COLUMNS, spreadsheet_safe
from domain.exports import (
    ExportExpired,
    ExportFailed,
    ExportFile,
    ExportNotReady,
    InvalidTransition,
)
from domain.scopes import EXPORTS
from domain.signed_links import InvalidSignature, LinkExpired, check, sign
from domain.verification import verify_documents
from domain.viewer_links import ViewerLink
from tests.factories import ExportFactory
from tests.fakes import FakeBlobStore
from tests.unit.test_use_cases import World

NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def exported(world: World, format_: str = "ndjson", filters: dict | None = None,
             gzip_: bool = False):  # type: ignore[no-untyped-def]
    blobs = FakeBlobStore()
    export = CreateExport(world.uow, world.clock, world.ids, world.queue, world.activity).execute(
        world.workspace.id, format_, filters or {}, gzip_)
    done = RunExport(world.uow, blobs, world.clock, DAY).execute(export.id)
    return done, blobs


@pytest.fixture
def world() -> World:
    world = World()
    world.ingest.execute(world.workspace.id, [
        world.event(action="user.login", metadata={"formula": "=SUM(A1:A9)"}),
        world.event(action="user.logout"), world.event(action="admin.user.delete"),
        world.event(action="user.login"), world.event(action="user.login")], batch=True)
    world.process.execute(world.workspace.id)
    return world


def test_lifecycle_transitions() -> None:
    export = ExportFactory()
    with pytest.raises(ExportNotReady):
        export.check_downloadable(NOW)
    running = export.start(NOW)
    with pytest.raises(InvalidTransition):
        running.start(NOW)
    done = running.complete(NOW, ExportFile(3, 10, "ab" * 32), DAY)
    done.check_downloadable(NOW)
    assert done.expires_at == NOW + DAY
    with pytest.raises(ExportExpired):
        done.check_downloadable(NOW + DAY)
    with pytest.raises(ExportExpired):
        done.expire().check_downloadable(NOW)
    with pytest.raises(ExportFailed, match="disk full"):
        running.fail(NOW, "disk full").check_downloadable(NOW)
    with pytest.raises(InvalidTransition):
        done.fail(NOW, "late")


def test_interrupted_exports_are_retried_then_given_up() -> None:
    export = ExportFactory()
    for _ in range(2):
        export = export.start(NOW).interrupted(NOW)
        assert export.status == "queued"
    assert export.start(NOW).interrupted(NOW).status == "failed"


def test_signed_links() -> None:
    secret = b"s" * 32
    expires = int((NOW + timedelta(minutes=5)).timestamp())
    signature = sign(secret, "exp_1", expires)
    check(secret, "exp_1", str(expires), signature, NOW)
    for export_id, given_expires, given_signature in [
        ("exp_2", str(expires), signature), ("exp_1", str(expires + 1), signature),
        ("exp_1", str(expires), signature[:-1] + "0"), ("exp_1", None, signature),
        ("exp_1", str(expires), None), ("exp_1", "-5", signature),
        # not ASCII: compare_digest raised TypeError, int("²") ValueError (500s)
        ("exp_1", str(expires), "é" * 64), ("exp_1", "²", signature),
        ("exp_1", "\u0663" * 10, signature)]:
        with pytest.raises(InvalidSignature):
            check(secret, export_id, given_expires, given_signature, NOW)
    with pytest.raises(InvalidSignature):
        check(b"t" * 32, "exp_1", str(expires), signature, NOW)
    check(b"t" * 32, "exp_1", str(expires), signature, NOW, previous=[b"u" * 32, secret])
    with pytest.raises(InvalidSignature):  # a previous key signs only its own links
        check(b"t" * 32, "exp_2", str(expires), signature, NOW, previous=[secret])
    with pytest.raises(LinkExpired):
        check(secret, "exp_1", str(expires), signature, NOW + timedelta(minutes=5))


@pytest.mark.parametrize(("cell", "safe"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM", "'@SUM"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("plain", "plain"), (None, ""), (3, "3"),
])
def test_spreadsheet_safe(cell: object, safe: str) -> None:
    assert spreadsheet_safe(cell) == safe


def test_ndjson_export_verifies_offline(world: World) -> None:
    done, blobs = exported(world)
    assert done.status == "completed" and done.row_count == 5
    data = blobs.blobs[done.blob_key]
    assert done.size_bytes == len(data)
    import hashlib
    assert done.sha256 == hashlib.sha256(data).hexdigest()
    documents = [json.loads(line) for line in data.splitlines()]
    assert [d["sequence"] for d in documents] == [1, 2, 3, 4, 5]
    assert verify_documents(documents).valid


def test_filtered_gzip_csv_export(world: World) -> None:
    done, blobs = exported(world, "csv", {"action": "user.*"}, gzip_=True)
    text = gzip.decompress(blobs.blobs[done.blob_key]).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 5 and done.row_count == 4
    metadata = rows[1][CSV_COLUMNS.index("metadata")]
    assert metadata.startswith('{"formula"')
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_create_export_validates(world: World) -> None:
    create = CreateExport(world.uow, world.clock, world.ids, world.queue, world.activity)
    with pytest.raises(ValidationFailed):
        create.execute(world.workspace.id, "xml", {})
    with pytest.raises(ValidationFailed) as failure:
        create.execute(world.workspace.id, "csv", {"since": "yesterday"})
    assert failure.value.errors[0].field == "filters.since"
    with pytest.raises(ValidationFailed) as failure:  # it could only be an empty file
        create.execute(world.workspace.id, "csv", {"status": "pending"})
    assert failure.value.errors[0].field == "filters.status"
    create.execute(world.workspace.id, "csv", {"status": "processed"})
    export = create.execute(world.workspace.id, "csv", {})
    assert len(world.queue.exports) == 2 and world.queue.exports[-1] == export.id


def test_a_workspace_has_at_most_five_exports_in_flight(world: World) -> None:
    create = CreateExport(world.uow, world.clock, world.ids, world.queue, world.activity)
    first, *_ = [create.execute(world.workspace.id, "csv", {}) for _ in range(5)]
    with pytest.raises(Conflict, match="5 exports of this workspace are already queued"):
        create.execute(world.workspace.id, "csv", {})
    assert len(world.queue.exports) == 5  # the refused one was neither stored nor queued
    RunExport(world.uow, FakeBlobStore(), world.clock, DAY).execute(first.id)
    assert create.execute(world.workspace.id, "csv", {}).status == "queued"


def test_a_viewer_links_export_is_bounded_by_its_filters_and_is_its_own(
        world: World) -> None:
    link = ViewerLink(id="vwl_1", workspace_id=world.workspace.id,
                      filters={"action": "user.*"}, allow_export=True, created_at=NOW,
                      expires_at=NOW + DAY)
    create = CreateExport(world.uow, world.clock, world.ids, world.queue, world.activity)
    with pytest.raises(ValidationFailed) as refused:
        create.execute(world.workspace.id, "csv", {"action": "admin.*"}, link=link)
    assert refused.value.errors[0].field == "filters.action"
    theirs = create.execute(world.workspace.id, "ndjson", {}, link=link)
    assert theirs.filters == {"action": "user.*"} and theirs.viewer_link_id == "vwl_1"
    with pytest.raises(Conflict, match="An export of this link is already queued"):
        create.execute(world.workspace.id, "csv", {}, link=link)
    ours = create.execute(world.workspace.id, "csv", {})  # the workspace's own still can
    done = RunExport(world.uow, FakeBlobStore(), world.clock, DAY).execute(theirs.id)
    assert done.row_count == 4  # three logins and a logout, not the admin's delete
    with pytest.raises(NotFound):
        GetExport(world.uow).execute(world.workspace.id, ours.id, viewer_link_id="vwl_1")
    listed = ListExports(world.uow).execute(world.workspace.id, viewer_link_id="vwl_1")
    assert [e.id for e in listed.items] == [theirs.id] and listed.total_count == 1
    assert ListExports(world.uow).execute(world.workspace.id).total_count == 2
    assert link.grants(EXPORTS) and not replace(link, allow_export=False).grants(EXPORTS)


def test_download_link_follows_the_state(world: World) -> None:
    create = CreateExport(world.uow, world.clock, world.ids, world.queue, world.activity)
    export = create.execute(world.workspace.id, "ndjson", {})
    link = CreateDownloadLink(GetExport(world.uow), world.clock, b"k" * 32,
                              timedelta(minutes=5))
    with pytest.raises(ExportNotReady):
        link.execute(world.workspace.id, export.id)
    RunExport(world.uow, FakeBlobStore(), world.clock, DAY).execute(export.id)
    signed = link.execute(world.workspace.id, export.id)
    check(b"k" * 32, export.id, str(signed.expires), signed.signature, world.clock.now())


def test_upkeep_expires_and_retries(world: World) -> None:
    done, blobs = exported(world)
    upkeep = ExportUpkeep(world.uow, blobs, world.clock, world.queue, timedelta(seconds=30))
    assert upkeep.execute().expired == 0
    world.clock.advance(days=1)
    assert upkeep.execute().expired == 1
    assert blobs.blobs == {}
    assert GetExport(world.uow).execute(world.workspace.id, done.id).status == "expired"
