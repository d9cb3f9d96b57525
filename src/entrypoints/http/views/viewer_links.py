"""``/viewer-links`` (contract §11), scope ``admin``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from dependency_injector.wiring import Provide, inject
from flask import jsonify, request

from application.ports.system import Clock
from application.transparency import TransparencyLog
from application.use_cases.log_witnesses import ListLogWitnesses
from application.use_cases.viewer_links import (
    CreateViewerLink,
    GetViewerLink,
    ListViewerLinks,
    RevokeViewerLink,
)
from domain.cursor import ASC
from domain.log_witnesses import MAX_WITNESSES_PER_WORKSPACE
from domain.scopes import ADMIN
from domain.timestamps import format_timestamp
from domain.viewer_links import ViewerLink
from entrypoints.container.installation import Container
from entrypoints.http.auth import actor, principal, requires
from entrypoints.http.body import json_object
from entrypoints.http.pagination import page_body
from entrypoints.http.query import query_args
from entrypoints.http.schemas.viewer_links import ViewerLinkCreateSchema
from entrypoints.http.schemas.workspace import PageQuerySchema
from entrypoints.http.validation import load
from entrypoints.http.views.api import api


@api.post("/viewer-links")
@requires(ADMIN)
@inject
def create_viewer_link(create: CreateViewerLink = Provide[Container.create_viewer_link],
                       log: TransparencyLog = Provide[Container.transparency_log],
                       witnesses: ListLogWitnesses = Provide[Container.list_log_witnesses],
                       public_url: str | None = Provide[Container.settings.provided.public_url],
                       clock: Clock = Provide[Container.clock]) -> Any:
    """The link's fragment pins the keys its page checks with, as they are now: the log's,
    and its witnesses' (the page then demands their cosignatures)."""
    body = load(ViewerLinkCreateSchema(), json_object())
    workspace_id = principal().workspace_id
    issued = create.execute(workspace_id, body["filters"], body["expires_in_seconds"],
                            body["allow_export"], body.get("title"), actor())
    base = (public_url or request.host_url).rstrip("/")
    fragment = f"token={quote(issued.token)}&key={quote(log.key(workspace_id).verifier_key)}"
    for witness in witnesses.execute(workspace_id, order=ASC,
                                     limit=MAX_WITNESSES_PER_WORKSPACE).items:
        fragment += f"&witness={quote(witness.verifier_key)}"
    if issued.link.allow_export:
        fragment += "&exports=1"  # the page offers exports; the API still decides
    if issued.link.title:
        fragment += f"&title={quote(issued.link.title)}"
    document = viewer_link_document(issued.link, clock.now())
    return jsonify({**document, "url": f"{base}/viewer/#{fragment}"}), 201


@api.get("/viewer-links")
@requires(ADMIN)
@inject
def list_viewer_links(links: ListViewerLinks = Provide[Container.list_viewer_links],
                      clock: Clock = Provide[Container.clock]) -> Any:
    query = query_args(PageQuerySchema())
    page = links.execute(principal().workspace_id, order=query["order"], limit=query["limit"],
                         cursor=query.get("cursor"))
    now = clock.now()
    return jsonify(page_body(page, lambda link: viewer_link_document(link, now)))


@api.get("/viewer-links/<id:link_id>")
@requires(ADMIN)
@inject
def get_viewer_link(link_id: str, get: GetViewerLink = Provide[Container.get_viewer_link],
                    clock: Clock = Provide[Container.clock]) -> Any:
    return jsonify(viewer_link_document(get.execute(principal().workspace_id, link_id),
                                        clock.now()))


@api.delete("/viewer-links/<id:link_id>")
@requires(ADMIN)
@inject
def revoke_viewer_link(link_id: str,
                       revoke: RevokeViewerLink = Provide[Container.revoke_viewer_link],
                       clock: Clock = Provide[Container.clock]) -> Any:
    revoked = revoke.execute(principal().workspace_id, link_id, actor())
    return jsonify(viewer_link_document(revoked, clock.now()))


def viewer_link_document(link: ViewerLink, now: datetime) -> dict[str, Any]:
    status = "revoked" if link.revoked_at else "active" if link.is_active(now) else "expired"
    return {"id": link.id, "filters": link.filters, "allow_export": link.allow_export,
            "title": link.title, "created_at": format_timestamp(link.created_at),
            "expires_at": format_timestamp(link.expires_at),
            "revoked_at": format_timestamp(link.revoked_at) if link.revoked_at else None,
            "status": status}
