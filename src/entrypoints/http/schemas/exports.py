"""Export request shapes (contract §6)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.exports import FORMATS
from entrypoints.http.schemas.events import EventFiltersSchema
from entrypoints.http.schemas.json_fields import JsonBoolean


class ExportCreateSchema(Schema):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    filters = fields.Nested(EventFiltersSchema, load_default=dict)
    gzip = JsonBoolean(load_default=False, metadata={"description": "gzip the file"})


class FileLinkSchema(Schema):
    expires = fields.String()
    signature = fields.String()
