"""Log stream request shapes (contract §8). Structure here; meaning in ``domain.streams``."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.action_patterns import MAX_PATTERNS
from domain.hash_chain import MAX_SEQUENCE
from domain.names import NAME_MAX_LENGTH
from domain.streams import (
    COMPRESSIONS,
    CREDENTIAL_MAX_LENGTH,
    CREDENTIAL_MIN_LENGTH,
    MAX_BATCH_SECONDS,
    SETTABLE_STATUSES,
    TYPES,
)
from entrypoints.http.schemas.json_fields import action_pattern, text, web_address


def _credential(description: str) -> fields.String:
    return text(CREDENTIAL_MIN_LENGTH, CREDENTIAL_MAX_LENGTH,
                f"{description}; visible ASCII characters, write-only", load_only=True)


class StreamConfigSchema(Schema):
    url = web_address("http(s) URL to POST to; s3: the bucket's URL, with a key prefix as "
                      "its path if any")
    secret = _credential("webhook: HMAC signing secret (generated when left out)")
    token = _credential("splunk_hec: HEC token")
    api_key = _credential("datadog: API key")
    region = fields.String(metadata={"description": "s3: the bucket's region (eu-west-1)"})
    access_key_id = fields.String(metadata={"description": "s3: the access key's id"})
    secret_access_key = _credential("s3: the access key's secret")
    compression = fields.String(metadata={
        "enum": list(COMPRESSIONS),
        "description": "s3: gzip writes each object gzipped (<number>.ndjson.gz); none, the "
                       "default, plain NDJSON"})


class StreamFilterSchema(Schema):
    actions = fields.List(action_pattern(), required=True, metadata={
        "minItems": 1, "maxItems": MAX_PATTERNS,
        "description": "exact actions, or prefixes like 'user.*'"})


_BATCH = {"minimum": 0, "maximum": MAX_BATCH_SECONDS,
          "description": "how long a batch that is not full waits for more events, in "
                         "seconds; null (the default): the server's "
                         "AUDITRAIL_STREAM_BATCH_SECONDS"}
"""Lengths and the like are checked by the domain, with the rest of a body's rules, so that
one answer names every bad field; the schemas check shape (``json_fields``)."""


class StreamCreateSchema(Schema):
    name = text(1, NAME_MAX_LENGTH, required=True)
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    config = fields.Nested(StreamConfigSchema, required=True)
    filter = fields.Nested(StreamFilterSchema, allow_none=True)
    batch_seconds = fields.Integer(strict=True, allow_none=True, metadata=_BATCH)
    status = fields.String(validate=validate.OneOf(SETTABLE_STATUSES))


class StreamPatchSchema(Schema):
    name = text(1, NAME_MAX_LENGTH)
    config = fields.Nested(StreamConfigSchema)
    filter = fields.Nested(StreamFilterSchema, allow_none=True)
    batch_seconds = fields.Integer(strict=True, allow_none=True, metadata=_BATCH)
    status = fields.String(validate=validate.OneOf(SETTABLE_STATUSES))


class ReplaySchema(Schema):
    from_sequence = fields.Integer(required=True, strict=True,
                                   validate=validate.Range(1, MAX_SEQUENCE))
