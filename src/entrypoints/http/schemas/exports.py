"""Export request shapes (contract §6)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.exports import FORMATS
from entrypoints.http.schemas.events import EventFiltersSchema


class ExportCreateSchema(Schema):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    filters = fields.Nested(EventFiltersSchema, load_default=dict)
    # JSON's true or false only: marshmallow would also read "yes", "on" or "1" as a flag.
    gzip = fields.Boolean(load_default=False, truthy={True}, falsy={False},
                          metadata={"description": "gzip the file"})


class FileLinkSchema(Schema):
    expires = fields.String()
    signature = fields.String()
