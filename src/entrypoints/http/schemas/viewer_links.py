"""Viewer link shapes (contract §11)."""

from __future__ import annotations

from functools import cache

from marshmallow import Schema, fields, validate

from domain.viewer_links import MAX_LIFETIME_SECONDS, MAX_TITLE_LENGTH, MIN_LIFETIME_SECONDS
from entrypoints.http.schemas.events import EventFiltersSchema


class ViewerLinkCreateSchema(Schema):
    filters = fields.Nested(EventFiltersSchema, load_default=dict)
    expires_in_seconds = fields.Integer(strict=True, load_default=900, validate=validate.Range(
        MIN_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS))
    allow_export = fields.Boolean(load_default=False)
    title = fields.String(allow_none=True, validate=validate.Length(1, MAX_TITLE_LENGTH))


class ViewerLinkOutSchema(Schema):
    id = fields.String(required=True)
    filters = fields.Dict(required=True)
    allow_export = fields.Boolean(required=True)
    title = fields.String(required=True, allow_none=True)
    created_at = fields.String(required=True)
    expires_at = fields.String(required=True)
    revoked_at = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(
        ["active", "expired", "revoked"]))


class ViewerLinkCreatedSchema(ViewerLinkOutSchema):
    url = fields.String(required=True, metadata={
        "description": "opens the viewer; the token and the log's verifier key travel in "
                       "its fragment, which browsers never send to a server. Shown once."})


@cache
def page_of_links() -> type[Schema]:
    from entrypoints.http.schemas.responses import page_of
    return page_of(ViewerLinkOutSchema, "ViewerLinkPage")
