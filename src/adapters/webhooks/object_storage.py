"""An S3 stream's deliveries: one object each, written with a signed ``PUT`` to the bucket
(Amazon S3, or storage that speaks its API: MinIO, Cloudflare R2, Google Cloud Storage's
XML API, Backblaze B2…).

An object's name is fixed by its delivery - ``<stream id>/<delivery number>.ndjson``,
the number zero-padded so that names sort in delivery order - and its body by its events,
so a retry after an answer that never came writes the very same object again, never a
second one. Its body is NDJSON, one event a line as ``GET /events/{id}`` returns it: with
no filter, the objects laid end to end are the workspace's chain, which ``auditrail
verify`` checks offline. ``Content-MD5`` is sent because buckets with Object Lock (the
write-once storage an archive belongs in) refuse a ``PUT`` without it.

With ``"compression": "gzip"`` each object is that NDJSON gzipped, ``<number>.ndjson.gz``
(``application/gzip``, not ``Content-Encoding``, so that no HTTP client inflates it on the
way and the file kept is the object stored): written with ``mtime`` 0, so that a retry's
bytes are the first attempt's.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from application.ports.delivery import Destination, Parcel

CHECKPOINT_HEADER = "x-amz-meta-auditrail-checkpoint"
METADATA_LIMIT = 2_000
"""S3 refuses more than 2 KB of user metadata; a checkpoint with many cosignatures could
exceed it, and is then left out rather than have every delivery refused."""


def object_key(parcel: Parcel, gzipped: bool = False) -> str:
    suffix = ".ndjson.gz" if gzipped else ".ndjson"
    if parcel.test:
        return f"{parcel.stream_id}/test/{parcel.delivery_id}{suffix}"  # out of the archive's way
    return f"{parcel.stream_id}/{parcel.number:012d}{suffix}"


def object_body(parcel: Parcel, gzipped: bool = False) -> bytes:
    body = b"".join(json.dumps(event, ensure_ascii=False, separators=(",", ":"))
                    .encode("utf-8") + b"\n" for event in parcel.events)
    return gzip.compress(body, compresslevel=6, mtime=0) if gzipped else body


def s3_put(destination: Destination, parcel: Parcel) -> tuple[str, bytes, dict[str, str]]:
    """The URL, body and signed headers of the ``PUT`` writing ``parcel``'s object."""
    gzipped = destination.options.get("compression") == "gzip"
    url = f"{destination.url.rstrip('/')}/{object_key(parcel, gzipped)}"
    body = object_body(parcel, gzipped)
    headers = {"Content-Type": "application/gzip" if gzipped else "application/x-ndjson",
               "Content-MD5": base64.b64encode(
                   hashlib.md5(body, usedforsecurity=False).digest()).decode("ascii"),
               "Auditrail-Delivery-Id": parcel.delivery_id}
    if parcel.events and not parcel.test:  # a test's sample event has no sequence
        headers["x-amz-meta-auditrail-first-sequence"] = str(parcel.events[0]["sequence"])
        headers["x-amz-meta-auditrail-last-sequence"] = str(parcel.events[-1]["sequence"])
    if parcel.checkpoint is not None:
        note = base64.b64encode(parcel.checkpoint.encode("utf-8")).decode("ascii")
        if len(note) <= METADATA_LIMIT - 200:  # the sequences' headers take the rest
            headers[CHECKPOINT_HEADER] = note
    request = AWSRequest(method="PUT", url=url, data=body, headers=headers)
    credentials = Credentials(destination.options["access_key_id"], destination.credential)
    S3SigV4Auth(credentials, "s3", destination.options["region"]).add_auth(request)
    return url, body, dict(request.headers.items())
