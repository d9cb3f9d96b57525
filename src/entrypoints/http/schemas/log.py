"""Transparency log request shapes (contract §10)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain.hash_chain import MAX_SEQUENCE
from domain.log_witnesses import MAX_WITNESSES_PER_WORKSPACE
from entrypoints.http.schemas.json_fields import web_address


class ProofQuerySchema(Schema):
    tree_size = fields.Integer(strict=False, validate=validate.Range(1, MAX_SEQUENCE), metadata={
        "description": "a signed tree size above the event's leaf index (default: the "
                       "latest checkpoint)"})
    witnesses = fields.Integer(
        strict=False, validate=validate.Range(1, MAX_WITNESSES_PER_WORKSPACE),
        metadata={"description": "prove it in the newest tree this many of the log's "
                                 "witnesses cosigned; the checkpoint then carries their "
                                 "cosignatures (not with tree_size)"})

    @validates_schema
    def _one_tree(self, data: dict[str, Any], **_: Any) -> None:
        if "tree_size" in data and "witnesses" in data:
            raise ValidationError("Give tree_size or witnesses, not both.", "witnesses")


class ConsistencyQuerySchema(Schema):
    from_size = fields.Integer(required=True, strict=False,
                               validate=validate.Range(0, MAX_SEQUENCE))
    to_size = fields.Integer(strict=False, validate=validate.Range(0, MAX_SEQUENCE),
                             metadata={"description": "default: the latest checkpoint"})


class CosignedQuerySchema(Schema):
    witnesses = fields.Integer(
        strict=False, validate=validate.Range(1, MAX_WITNESSES_PER_WORKSPACE),
        metadata={"description": "cosignatures wanted at least (default: every witness of "
                                 "the log)"})


class LogWitnessCreateSchema(Schema):
    url = web_address("the witness's base URL; checkpoints go to <url>/add-checkpoint",
                      required=True)
    verifier_key = fields.String(required=True, metadata={
        "description": "the witness's cosigner key, <name>+<key id>+<base64 key> (type 0x04)"})
