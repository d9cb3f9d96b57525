"""Exports and the evidence that proves one against the log (contract §6, §10)."""

from __future__ import annotations

from marshmallow import Schema, fields

from entrypoints.http.schemas.json_fields import timestamp
from entrypoints.http.schemas.responses.pages import page_of


class ExportOutSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    format = fields.String(required=True)
    gzip = fields.Boolean(required=True)
    filters = fields.Dict(required=True)
    row_count = fields.Integer(required=True, allow_none=True)
    size_bytes = fields.Integer(required=True, allow_none=True)
    sha256 = fields.String(required=True, allow_none=True)
    created_at = timestamp(required=True)
    started_at = timestamp(required=True, allow_none=True)
    completed_at = timestamp(required=True, allow_none=True)
    expires_at = timestamp(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    viewer_link_id = fields.String(required=True, allow_none=True, metadata={
        "description": "The viewer link it was asked for through; null for an API key's"})


class EvidenceSchema(Schema):
    export_id = fields.String(required=True)
    origin = fields.String(required=True)
    verifier_key = fields.String(required=True)
    first_sequence = fields.Integer(required=True)
    last_sequence = fields.Integer(required=True)
    row_count = fields.Integer(required=True)
    file_sha256 = fields.String(required=True)
    checkpoint = fields.String(required=True, metadata={
        "description": "signed at exactly last_sequence"})
    frontier = fields.List(fields.String(), metadata={
        "description": "unfiltered exports: the compact range of the tree before the first "
                       "row"})
    proofs = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "filtered exports: each row's inclusion path in the checkpoint's "
                       "tree"})
    rotations = fields.List(fields.String(), metadata={
        "description": "when the log's key replaced others: their rotation notes, which "
                       "lead a verifier key pinned before a rotation to the key that signed "
                       "the checkpoint"})
    cosigned = fields.Nested(Schema.from_dict({
        "checkpoint": fields.String(required=True, metadata={
            "description": "the newest checkpoint every witness of the log cosigned, with "
                           "their cosignature lines"}),
        "consistency": fields.List(fields.String(), required=True, metadata={
            "description": "the consistency proof from checkpoint to it"})},
        name="CosignedEvidence"), metadata={
        "description": "when the log has witnesses and they cosigned a checkpoint covering "
                       "the export"})


ExportPageSchema = page_of(ExportOutSchema, "ExportPage")
