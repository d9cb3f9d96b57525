"""Transparency log endpoints (contract §10): the key, checkpoints, proofs, evidence."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Response, jsonify, request

from application.use_cases.log_proofs import Evidence, ExportEvidence, LogReader
from application.use_cases.log_tiles import LogTiles
from domain.checkpoints import SignedCheckpoint
from domain.scopes import EVENTS_READ, EXPORTS
from domain.signed_notes import b64
from domain.tile_paths import parse_tile_path
from domain.timestamps import format_timestamp
from entrypoints.container.installation import Container
from entrypoints.http.auth import principal, requires
from entrypoints.http.pagination import page_body
from entrypoints.http.query import query_args
from entrypoints.http.schemas.log import ConsistencyQuerySchema, ProofQuerySchema
from entrypoints.http.schemas.workspace import PageQuerySchema
from entrypoints.http.views.api import api

NOTE_TYPE = "text/plain; charset=utf-8"


def _checkpoint(checkpoint: SignedCheckpoint) -> dict[str, Any]:
    return {"tree_size": checkpoint.tree_size, "root_hash": b64(checkpoint.root_hash),
            "created_at": format_timestamp(checkpoint.created_at), "note": checkpoint.note}


@api.get("/log/key")
@requires(EVENTS_READ, viewer=True)
@inject
def log_key(reader: LogReader = Provide[Container.log_reader]) -> Any:
    key = reader.key(principal().workspace_id)
    return jsonify({"origin": key.origin, "key_name": key.key_name, "key_id": key.key_id,
                    "algorithm": "ed25519", "public_key": key.public_key,
                    "verifier_key": key.verifier_key,
                    "previous_keys": [{"key_id": old.key_id, "public_key": old.public_key,
                                       "verifier_key": old.verifier_key,
                                       "rotation": old.rotation} for old in key.previous]})


@api.get("/log/checkpoint")
@requires(EVENTS_READ, viewer=True)
@inject
def latest_checkpoint(reader: LogReader = Provide[Container.log_reader]) -> Any:
    """The signed note's very bytes: what a monitor checks and keeps."""
    return Response(reader.latest(principal().workspace_id).note, content_type=NOTE_TYPE)


@api.get("/log/anchor")
@requires(EVENTS_READ)
@inject
def retention_anchor(reader: LogReader = Provide[Container.log_reader]) -> Any:
    """The signed note of where retention cut the chain: events at or below its sequence
    are gone (and so are the entry bundles holding any of them); none above may be."""
    return Response(reader.anchor(principal().workspace_id), content_type=NOTE_TYPE)


@api.get("/log/checkpoints")
@requires(EVENTS_READ, viewer=True)
@inject
def list_checkpoints(reader: LogReader = Provide[Container.log_reader]) -> Any:
    query = query_args(PageQuerySchema())
    page = reader.checkpoints(principal().workspace_id, order=query["order"],
                              limit=query["limit"], cursor=query.get("cursor"))
    return jsonify(page_body(page, _checkpoint))


@api.get("/log/checkpoints/<int(max=9223372036854775807):tree_size>")  # a bigint
@requires(EVENTS_READ, viewer=True)
@inject
def get_checkpoint(tree_size: int, reader: LogReader = Provide[Container.log_reader]) -> Any:
    return jsonify(_checkpoint(reader.checkpoint(principal().workspace_id, tree_size)))


@api.get("/log/tile/entries/<path:index>")
@requires(EVENTS_READ)
@inject
def log_entries(index: str, tiles: LogTiles = Provide[Container.log_tiles]) -> Any:
    """C2SP tlog-tiles entry bundle: the events' ``JCS(core)``, which their leaves hash;
    gzipped when the client accepts it, as the spec advises (JSON compresses well)."""
    bundle = tiles.entries(principal().workspace_id, parse_tile_path("0", index))
    response = Response(bundle, content_type="application/octet-stream")
    if request.accept_encodings["gzip"] > 0:
        response.set_data(gzip.compress(bundle, compresslevel=6, mtime=0))
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response


@api.get("/log/tile/<level>/<path:index>")
@requires(EVENTS_READ)
@inject
def log_tile(level: str, index: str, tiles: LogTiles = Provide[Container.log_tiles]) -> Any:
    """C2SP tlog-tiles Merkle tree tile: up to 256 hashes of one level, 32 bytes each.
    Immutable, as the spec has it, yet ``no-store`` like every API answer: clients keep
    what they verified themselves, shared caches keep nothing of a workspace's."""
    data = tiles.tile(principal().workspace_id, parse_tile_path(level, index))
    return Response(data, content_type="application/octet-stream")


@api.get("/events/<id:event_id>/proof")
@requires(EVENTS_READ, viewer=True)
@inject
def event_proof(event_id: str, reader: LogReader = Provide[Container.log_reader]) -> Any:
    query = query_args(ProofQuerySchema())
    caller = principal()
    proof = reader.inclusion(caller.workspace_id, event_id, query.get("tree_size"),
                             caller.within, query.get("witnesses"))
    return jsonify({"event_id": proof.event_id, "leaf_index": proof.leaf_index,
                    "leaf_hash": b64(proof.leaf_hash), "tree_size": proof.tree_size,
                    "root_hash": b64(proof.root_hash),
                    "inclusion_path": [b64(h) for h in proof.path],
                    "checkpoint": proof.checkpoint})


@api.get("/log/consistency")
@requires(EVENTS_READ, viewer=True)
@inject
def consistency_proof(reader: LogReader = Provide[Container.log_reader]) -> Any:
    query = query_args(ConsistencyQuerySchema())
    proof = reader.consistency(principal().workspace_id, query["from_size"],
                               query.get("to_size"))
    return jsonify({"from_size": proof.from_size, "to_size": proof.to_size,
                    "from_root": b64(proof.from_root), "to_root": b64(proof.to_root),
                    "proof": [b64(h) for h in proof.proof]})


@api.get("/exports/<id:export_id>/evidence")
@requires(EXPORTS, viewer=True)
@inject
def export_evidence(export_id: str,
                    evidence: ExportEvidence = Provide[Container.export_evidence]) -> Any:
    """Streamed: a filtered export of millions of rows has millions of paths."""
    caller = principal()
    found = evidence.execute(caller.workspace_id, export_id, caller.viewer_link_id)
    return Response(_evidence_json(found), content_type="application/json")


def _evidence_json(evidence: Evidence) -> Iterator[str]:
    head = {"export_id": evidence.export_id, "origin": evidence.key.origin,
            "verifier_key": evidence.key.verifier_key,
            "first_sequence": evidence.first_sequence,
            "last_sequence": evidence.last_sequence, "row_count": evidence.row_count,
            "file_sha256": evidence.file_sha256, "checkpoint": evidence.checkpoint}
    if evidence.key.previous:  # for whoever pinned a key the log's key replaced
        head["rotations"] = [old.rotation for old in evidence.key.previous]
    if evidence.cosigned is not None:  # for whoever trusts the log's witnesses
        note, proof = evidence.cosigned
        head["cosigned"] = {"checkpoint": note, "consistency": [b64(h) for h in proof]}
    if evidence.frontier is not None:
        yield json.dumps({**head, "frontier": [b64(h) for h in evidence.frontier]})
        return
    yield json.dumps(head)[:-1] + ', "proofs": {'
    separator = ""
    for event_id, path in evidence.proofs or ():
        yield f'{separator}"{event_id}": {json.dumps([b64(h) for h in path])}'
        separator = ", "
    yield "}}"
