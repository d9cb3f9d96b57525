"""Export request shapes (contract §6)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.events import PROCESSED
from domain.exports import FORMATS
from entrypoints.http.schemas.events import EventFiltersSchema


class ExportFiltersSchema(EventFiltersSchema):
    """A file holds processed events in sequence order (pending ones have no sequence or
    hash yet), so asking for pending ones is refused rather than answered with an empty file."""

    status = fields.String(validate=validate.Equal(
        PROCESSED, error="Exports hold processed events only: leave status out, or use "
                         "GET /events?status=pending for the events still pending."))


class ExportCreateSchema(Schema):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    filters = fields.Nested(ExportFiltersSchema, load_default=dict)
    # JSON's true or false only: marshmallow would also read "yes", "on" or "1" as a flag.
    gzip = fields.Boolean(load_default=False, truthy={True}, falsy={False},
                          metadata={"description": "gzip the file"})


class FileLinkSchema(Schema):
    expires = fields.String()
    signature = fields.String()
