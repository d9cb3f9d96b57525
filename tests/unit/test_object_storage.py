"""An S3 stream's object: its name, body and signed headers, from the parcel alone."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from typing import Any

from adapters.webhooks.object_storage import (
    CHECKPOINT_HEADER,
    METADATA_LIMIT,
    object_body,
    s3_put,
)
from application.ports.delivery import Destination, Parcel

BUCKET = Destination("s3", "https://audit.s3.eu-west-1.amazonaws.com/auditrail/",
                     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                     {"region": "eu-west-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE"})
NOTE = "auditrail.example.com/ws_1\n3\nq83R…=\n\n— auditrail.example.com/ws_1 abcd…\n"


def event(sequence: int) -> dict[str, Any]:
    return {"id": f"evt_{sequence}", "sequence": sequence, "action": "user.login",
            "metadata": {"name": "Zoë"}}


def parcel(**fields: Any) -> Parcel:
    return Parcel(**{"stream_id": "lst_1", "delivery_id": "dlv_7", "number": 42,
                     "events": [event(1), event(2), event(3)], "checkpoint": NOTE, **fields})


def test_the_object_is_named_by_its_delivery_and_holds_one_event_a_line() -> None:
    url, body, _ = s3_put(BUCKET, parcel())
    assert url == ("https://audit.s3.eu-west-1.amazonaws.com/auditrail/lst_1/"
                   "000000000042.ndjson")
    lines = body.decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [event(1), event(2), event(3)]
    assert body.endswith(b"\n") and "Zoë" in lines[0]  # UTF-8, not escaped


def test_a_test_object_is_named_apart_from_the_deliveries() -> None:
    url, _, _ = s3_put(BUCKET, parcel(number=0, test=True))
    assert url.endswith("/lst_1/test/dlv_7.ndjson")


def test_headers_carry_the_checksum_the_sequences_the_checkpoint_and_a_v4_signature() -> None:
    _, body, headers = s3_put(BUCKET, parcel())
    assert headers["Content-MD5"] == base64.b64encode(
        hashlib.md5(body, usedforsecurity=False).digest()).decode()
    assert (headers["x-amz-meta-auditrail-first-sequence"],
            headers["x-amz-meta-auditrail-last-sequence"]) == ("1", "3")
    assert base64.b64decode(headers[CHECKPOINT_HEADER]).decode() == NOTE
    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/")
    assert "/eu-west-1/s3/aws4_request" in authorization
    assert "content-md5" in authorization and "x-amz-meta-auditrail-checkpoint" in authorization
    assert BUCKET.credential not in json.dumps(headers)


def test_a_retry_writes_the_same_bytes_to_the_same_name() -> None:
    first, again = s3_put(BUCKET, parcel()), s3_put(BUCKET, parcel())
    assert first[:2] == again[:2] and object_body(parcel()) == first[1]


def test_a_checkpoint_too_large_for_s3_metadata_is_left_out_not_refused() -> None:
    _, _, headers = s3_put(BUCKET, parcel(checkpoint="x" * METADATA_LIMIT))
    assert CHECKPOINT_HEADER not in headers and "Authorization" in headers


def test_a_gzip_stream_writes_each_object_gzipped_under_its_own_name() -> None:
    """The same NDJSON inflated; ``.ndjson.gz``, ``application/gzip``; the checksum of the
    bytes stored; a retry the same bytes (no time in the gzip header)."""
    gzipped = Destination(BUCKET.type, BUCKET.url, BUCKET.credential,
                          {**BUCKET.options, "compression": "gzip"})
    url, body, headers = s3_put(gzipped, parcel())
    assert url.endswith("/lst_1/000000000042.ndjson.gz")
    assert gzip.decompress(body) == object_body(parcel())
    assert headers["Content-Type"] == "application/gzip" and "Content-Encoding" not in headers
    assert headers["Content-MD5"] == base64.b64encode(
        hashlib.md5(body, usedforsecurity=False).digest()).decode()
    assert s3_put(gzipped, parcel())[1] == body
    assert s3_put(gzipped, parcel(number=0, test=True))[0].endswith("/test/dlv_7.ndjson.gz")
    plain = Destination(BUCKET.type, BUCKET.url, BUCKET.credential,
                        {**BUCKET.options, "compression": "none"})
    assert s3_put(plain, parcel())[:2] == s3_put(BUCKET, parcel())[:2]
