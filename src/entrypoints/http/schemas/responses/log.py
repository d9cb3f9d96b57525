"""The transparency log: its keys, checkpoints, proofs and witnesses (contract §10)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.log_witnesses import STATUSES as WITNESS_STATUSES
from entrypoints.http.schemas.json_fields import timestamp
from entrypoints.http.schemas.responses.pages import page_of


class PreviousLogKeySchema(Schema):
    key_id = fields.String(required=True, metadata={"description": "8 hex digits"})
    public_key = fields.String(required=True, metadata={"description": "base64, 32 bytes"})
    verifier_key = fields.String(required=True)
    rotation = fields.String(required=True, metadata={
        "description": "a signed note by this key: <origin>, 'key rotation', its "
                       "successor's verifier key (the current key, or the next previous "
                       "one), one a line"})


class LogKeySchema(Schema):
    origin = fields.String(required=True)
    key_name = fields.String(required=True)
    key_id = fields.String(required=True, metadata={"description": "8 hex digits"})
    algorithm = fields.String(required=True, validate=validate.OneOf(["ed25519"]))
    public_key = fields.String(required=True, metadata={"description": "base64, 32 bytes"})
    verifier_key = fields.String(required=True, metadata={
        "description": "signed-note form: <name>+<key id>+<base64(0x01 || key)>"})
    previous_keys = fields.List(fields.Nested(PreviousLogKeySchema), required=True, metadata={
        "description": "keys this one replaced (rotation): those still configured first "
                       "(they co-sign checkpoints), then those whose rotation notes were "
                       "kept; each note names its successor, so a chain of them leads from "
                       "any of these keys to this one"})


class CheckpointOutSchema(Schema):
    tree_size = fields.Integer(required=True)
    root_hash = fields.String(required=True, metadata={"description": "base64"})
    created_at = timestamp(required=True)
    note = fields.String(required=True, metadata={"description": "the signed note"})


class InclusionProofSchema(Schema):
    event_id = fields.String(required=True)
    leaf_index = fields.Integer(required=True)
    leaf_hash = fields.String(required=True)
    tree_size = fields.Integer(required=True)
    root_hash = fields.String(required=True)
    inclusion_path = fields.List(fields.String(), required=True, metadata={
        "description": "RFC 9162 order, leaf to root, base64"})
    checkpoint = fields.String(required=True)


class ConsistencyProofSchema(Schema):
    from_size = fields.Integer(required=True)
    to_size = fields.Integer(required=True)
    from_root = fields.String(required=True)
    to_root = fields.String(required=True)
    proof = fields.List(fields.String(), required=True)


class LogWitnessOutSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "the witness key's name"})
    url = fields.String(required=True)
    verifier_key = fields.String(required=True, metadata={"description": "its cosigner key"})
    status = fields.String(required=True, validate=validate.OneOf(WITNESS_STATUSES), metadata={
        "description": "pending (nothing cosigned yet), ok, failing (after 5 failed "
                       "submissions in a row), refused (it refused to cosign: the log's "
                       "checkpoint does not extend the one it holds)"})
    created_at = timestamp(required=True)
    cosigned_size = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the size of the latest checkpoint it cosigned"})
    cosigned_at = timestamp(required=True, allow_none=True)
    consecutive_failures = fields.Integer(required=True)
    next_attempt_at = timestamp(required=True, allow_none=True)
    failing_since = timestamp(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)


CheckpointPageSchema = page_of(CheckpointOutSchema, "CheckpointPage")


LogWitnessPageSchema = page_of(LogWitnessOutSchema, "LogWitnessPage")
