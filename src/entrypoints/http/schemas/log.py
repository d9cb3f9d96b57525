"""Transparency log request shapes (contract §10)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.hash_chain import MAX_SEQUENCE


class ProofQuerySchema(Schema):
    tree_size = fields.Integer(strict=False, validate=validate.Range(1, MAX_SEQUENCE), metadata={
        "description": "a signed tree size above the event's leaf index (default: the "
                       "latest checkpoint)"})


class ConsistencyQuerySchema(Schema):
    from_size = fields.Integer(required=True, strict=False,
                               validate=validate.Range(0, MAX_SEQUENCE))
    to_size = fields.Integer(strict=False, validate=validate.Range(0, MAX_SEQUENCE),
                             metadata={"description": "default: the latest checkpoint"})
