"""Export endpoints (contract §6)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dependency_injector.wiring import Provide, inject
from flask import jsonify, redirect, request, send_file

from application.use_cases.exports import (
    CreateDownloadLink,
    CreateExport,
    GetExport,
    ListExports,
    OpenExportFile,
)
from domain.exports import CSV
from domain.scopes import EXPORTS
from entrypoints.container.installation import Container
from entrypoints.http.auth import actor, principal, requires
from entrypoints.http.body import json_object
from entrypoints.http.documents import export_document
from entrypoints.http.pagination import page_body
from entrypoints.http.query import query_args
from entrypoints.http.schemas.exports import ExportCreateSchema, FileLinkSchema
from entrypoints.http.schemas.workspace import PageQuerySchema
from entrypoints.http.validation import load
from entrypoints.http.views.api import PUBLIC_ENDPOINTS, api


@api.post("/exports")
@requires(EXPORTS, viewer=True)
@inject
def create_export(create: CreateExport = Provide[Container.create_export]) -> Any:
    body = load(ExportCreateSchema(), json_object())
    caller = principal()
    export = create.execute(caller.workspace_id, body["format"], body["filters"],
                            body["gzip"], caller.viewer, actor())
    return jsonify(export_document(export)), 202


@api.get("/exports")
@requires(EXPORTS, viewer=True)
@inject
def list_exports(list_: ListExports = Provide[Container.list_exports]) -> Any:
    query = query_args(PageQuerySchema())
    caller = principal()
    page = list_.execute(caller.workspace_id, order=query["order"], limit=query["limit"],
                         cursor=query.get("cursor"), viewer_link_id=caller.viewer_link_id)
    return jsonify(page_body(page, export_document))


@api.get("/exports/<id:export_id>")
@requires(EXPORTS, viewer=True)
@inject
def get_export(export_id: str, get: GetExport = Provide[Container.get_export]) -> Any:
    caller = principal()
    return jsonify(export_document(get.execute(caller.workspace_id, export_id,
                                               caller.viewer_link_id)))


@api.get("/exports/<id:export_id>/download")
@requires(EXPORTS, viewer=True)
@inject
def download_export(export_id: str,
                    link: CreateDownloadLink = Provide[Container.create_download_link],
                    public_url: str | None = Provide[Container.settings.provided.public_url],
                    ) -> Any:
    caller = principal()
    signed = link.execute(caller.workspace_id, export_id, caller.viewer_link_id)
    base = (public_url or request.host_url).rstrip("/")
    query = urlencode({"expires": signed.expires, "signature": signed.signature})
    return redirect(f"{base}/api/v1/exports/{signed.export_id}/file?{query}", code=302)


@api.get("/exports/<id:export_id>/file")
@inject
def export_file(export_id: str,
                open_file: OpenExportFile = Provide[Container.open_export_file]) -> Any:
    link = query_args(FileLinkSchema())
    download = open_file.execute(export_id, link.get("expires"), link.get("signature"))
    export = download.export
    mimetype = "text/csv" if export.format == CSV else "application/x-ndjson"
    if export.gzip:
        mimetype = "application/gzip"
    response = send_file(download.content, mimetype=mimetype, as_attachment=True,
                         download_name=export.file_name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    if export.sha256:
        response.headers["X-Content-SHA256"] = export.sha256
    return response


PUBLIC_ENDPOINTS.add("api.export_file")
