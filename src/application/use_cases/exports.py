"""Create, list and read exports, and hand out their signed, short-lived links."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from application.activity import ActivityLog
from application.errors import Conflict, NotFound
from application.pages import Page, list_page
from application.ports.blobs import BlobStore
from application.ports.jobs import JobQueue
from application.ports.repositories.exports import ExportRepository
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.activity import Actor, Change
from domain.cursor import DESC, Position
from domain.errors import FieldError, ValidationFailed
from domain.event_search import InvalidFilter, parse_filters
from domain.events import PENDING
from domain.exports import (
    FORMATS,
    MAX_ACTIVE_PER_VIEWER_LINK,
    MAX_ACTIVE_PER_WORKSPACE,
    Export,
)
from domain.signed_links import check, sign
from domain.viewer_links import ViewerLink, narrowed

log = logging.getLogger(__name__)

PENDING_NOT_EXPORTED = ("Exports hold processed events only: leave status out, or use "
                        "GET /events?status=pending for the events still pending.")


def _position(export: Export) -> Position:
    return Position(export.created_at, export.id)


class CreateExport:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator,
                 queue: JobQueue, activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids
        self._queue = queue
        self._activity = activity

    def execute(self, workspace_id: str, format_: str, filters: dict[str, Any],
                gzip: bool = False, link: ViewerLink | None = None,
                actor: Actor | None = None) -> Export:
        """``link``: the viewer link whose reader asks; its forced filters bound the file's
        rows, and the export is that link's alone."""
        if format_ not in FORMATS:
            raise ValidationFailed([FieldError("format", f"One of: {', '.join(FORMATS)}.")])
        try:
            if link is not None:
                filters = narrowed(link.filters, filters)
            parsed = parse_filters(filters)
        except InvalidFilter as exc:
            raise ValidationFailed([FieldError(f"filters.{exc.parameter}", str(exc))]) \
                from None
        if parsed.status == PENDING:  # a file holds linked events, in sequence order
            raise ValidationFailed([FieldError("filters.status", PENDING_NOT_EXPORTED)])
        export = Export(id=self._ids.new("exp"), workspace_id=workspace_id, format=format_,
                        created_at=self._clock.now(), filters=dict(filters), gzip=gzip,
                        viewer_link_id=link.id if link is not None else None)
        with self._uow_factory() as uow:
            if uow.exports.count_active(workspace_id) >= MAX_ACTIVE_PER_WORKSPACE:
                raise Conflict(f"{MAX_ACTIVE_PER_WORKSPACE} exports of this workspace are "
                               f"already queued or running; request another when one has "
                               f"finished.")
            if link is not None and uow.exports.count_active(
                    workspace_id, link.id) >= MAX_ACTIVE_PER_VIEWER_LINK:
                raise Conflict("An export of this link is already queued or running; "
                               "request another when it has finished.")
            uow.exports.add(export)
            # Who took a copy of the log, and of which part: asked of every audit log.
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "export.created", "export", export.id, None,
                {"format": format_, "filters": dict(filters)}))
            uow.commit()
        self._queue.enqueue_export(export.id)
        if recorded:
            self._activity.wake(workspace_id)
        return export


class GetExport:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, export_id: str,
                viewer_link_id: str | None = None) -> Export:
        """``viewer_link_id``: a link's reader finds only the exports it asked for."""
        with self._uow_factory(read_only=True) as uow:
            export = uow.exports.get(workspace_id, export_id, viewer_link_id)
        if export is None:
            raise NotFound("export", export_id)
        return export


class ListExports:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, *, order: str = DESC, limit: int = 50,
                cursor: str | None = None, viewer_link_id: str | None = None) -> Page[Export]:
        return list_page(self._uow_factory,
                         lambda uow: _LinkExports(uow.exports, viewer_link_id), workspace_id,
                         order, limit, cursor, _position)


class _LinkExports:
    """The workspace's exports as one viewer link's reader may list them."""

    def __init__(self, exports: ExportRepository, viewer_link_id: str | None) -> None:
        self._exports = exports
        self._link = viewer_link_id

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[Export]:
        return self._exports.page(workspace_id, order, after, limit, self._link)

    def count(self, workspace_id: str) -> int:
        return self._exports.count(workspace_id, self._link)


@dataclass(frozen=True)
class DownloadLink:
    export_id: str
    expires: int
    signature: str


class CreateDownloadLink:
    """``GET /exports/{id}/download``: the export decides; a link is signed only if it can."""

    def __init__(self, get_export: GetExport, clock: Clock, secret: bytes,
                 lifetime: timedelta) -> None:
        self._get_export = get_export
        self._clock = clock
        self._secret = secret
        self._lifetime = lifetime

    def execute(self, workspace_id: str, export_id: str,
                viewer_link_id: str | None = None) -> DownloadLink:
        export = self._get_export.execute(workspace_id, export_id, viewer_link_id)
        now = self._clock.now()
        export.check_downloadable(now)
        expires = int((now + self._lifetime).timestamp())
        return DownloadLink(export.id, expires, sign(self._secret, export.id, expires))


@dataclass(frozen=True)
class ExportDownload:
    export: Export
    content: Any
    """An open binary file; the caller streams and closes it."""


class OpenExportFile:
    """``GET /exports/{id}/file``: no API key - the signature is the credential."""

    def __init__(self, uow_factory: UnitOfWorkFactory, blobs: BlobStore, clock: Clock,
                 secret: bytes, previous_secrets: Sequence[bytes] = ()) -> None:
        self._uow_factory = uow_factory
        self._blobs = blobs
        self._clock = clock
        self._secret = secret
        self._previous = previous_secrets

    def execute(self, export_id: str, expires: str | None,
                signature: str | None) -> ExportDownload:
        now = self._clock.now()
        check(self._secret, export_id, expires, signature, now, self._previous)
        with self._uow_factory(read_only=True) as uow:
            export = uow.exports.find(export_id)
        if export is None:
            raise NotFound("export", export_id)
        export.check_downloadable(now)
        try:
            return ExportDownload(export, self._blobs.open(export.blob_key))
        except FileNotFoundError:
            # Not the caller's doing: the file left the blob store before its expiry.
            log.warning("export file missing from the blob store", extra={
                "export_id": export_id, "workspace_id": export.workspace_id})
            raise NotFound("export file", export_id) from None
