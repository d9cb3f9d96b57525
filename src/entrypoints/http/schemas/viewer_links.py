"""Viewer link request shapes (contract §11)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.viewer_links import MAX_LIFETIME_SECONDS, MAX_TITLE_LENGTH, MIN_LIFETIME_SECONDS
from entrypoints.http.schemas.events import EventFiltersSchema
from entrypoints.http.schemas.json_fields import JsonBoolean


class ViewerLinkCreateSchema(Schema):
    filters = fields.Nested(EventFiltersSchema, load_default=dict)
    expires_in_seconds = fields.Integer(strict=True, load_default=900, validate=validate.Range(
        MIN_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS))
    allow_export = JsonBoolean(load_default=False)
    title = fields.String(allow_none=True, validate=validate.Length(1, MAX_TITLE_LENGTH))
