"""Viewer links as the API answers them (contract §11)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from entrypoints.http.schemas.json_fields import timestamp
from entrypoints.http.schemas.responses.pages import page_of


class ViewerLinkOutSchema(Schema):
    id = fields.String(required=True)
    filters = fields.Dict(required=True)
    allow_export = fields.Boolean(required=True)
    title = fields.String(required=True, allow_none=True)
    created_at = timestamp(required=True)
    expires_at = timestamp(required=True)
    revoked_at = timestamp(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(
        ["active", "expired", "revoked"]))


class ViewerLinkCreatedSchema(ViewerLinkOutSchema):
    url = fields.String(required=True, metadata={
        "description": "opens the viewer; the token and the log's verifier key travel in "
                       "its fragment, which browsers never send to a server. Shown once."})


ViewerLinkPageSchema = page_of(ViewerLinkOutSchema, "ViewerLinkPage")
