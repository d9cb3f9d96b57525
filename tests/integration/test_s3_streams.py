"""S3 streams on both stacks, against a real S3 server that checks every request's
signature (moto's, over HTTP): objects written in order, the archive verified offline by
`auditrail verify`, test objects, and a wrong secret named in the stream's state."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.processes import AUDITRAIL
from tests.integration.stacks import Stack, bearer

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    import boto3
    from moto import settings
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    before = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 3  # a user, its key and policy; then signed
    try:
        setup = {"endpoint_url": endpoint, "region_name": REGION,
                 "aws_access_key_id": "AKIASETUPEXAMPLE0000", "aws_secret_access_key": "x"}
        iam = boto3.client("iam", **setup)
        iam.create_user(UserName="auditrail")
        key = iam.create_access_key(UserName="auditrail")["AccessKey"]
        iam.put_user_policy(UserName="auditrail", PolicyName="archive", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                              aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"])
        yield {"endpoint": endpoint, "client": client, "key_id": key["AccessKeyId"],
               "secret": key["SecretAccessKey"]}
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = before
        server.stop()


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, stack_factory: Any) -> Stack:
    return stack_factory(request.param, allow_private_destinations=True,
                         stream_batch_seconds=0.0)


def call(stack: Stack, method: str, path: str, key: str, body: Any = None,
         status: int = 200) -> Any:
    response = stack.client.open(f"/api/v1{path}", method=method, headers=bearer(key),
                                 json=body)
    assert response.status_code == status, (path, response.status_code, response.json)
    return response.json


def new_bucket(s3: dict[str, Any]) -> str:
    name = f"audit-{uuid.uuid4().hex[:12]}"
    s3["client"].create_bucket(Bucket=name,
                               CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def objects(s3: dict[str, Any], bucket: str, prefix: str) -> list[dict[str, Any]]:
    listed = s3["client"].list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(listed.get("Contents", []), key=lambda found: found["Key"])


def read(s3: dict[str, Any], bucket: str, key: str) -> dict[str, Any]:
    return s3["client"].get_object(Bucket=bucket, Key=key)


def new_stream(stack: Stack, admin: str, s3: dict[str, Any], url: str) -> Any:
    return call(stack, "POST", "/streams", admin, {
        "name": "Archive", "type": "s3",
        "config": {"url": url, "region": REGION, "access_key_id": s3["key_id"],
                   "secret_access_key": s3["secret"]}}, status=201)


def test_events_are_archived_in_order_and_the_archive_verifies_offline(
        stack: Stack, s3: dict[str, Any], tmp_path: Path) -> None:
    workspace_id, admin = stack.new_workspace()
    bucket = new_bucket(s3)
    created = new_stream(stack, admin, s3, f"{s3['endpoint']}/{bucket}/auditrail/")
    config = created["config"]
    assert (config["region"], config["access_key_id"], config["secret_access_key"]) == (
        REGION, s3["key_id"], s3["secret"])  # the secret shown once, here
    shown = call(stack, "GET", f"/streams/{created['id']}", admin)["config"]
    assert "secret_access_key" not in shown and shown["secret_access_key_hint"] == \
        "…" + s3["secret"][-4:]
    for batch in range(3):
        call(stack, "POST", "/events/batch", admin, {"events": [
            {"action": "user.login", "actor": {"id": f"usr_{n}", "type": "user",
                                               "name": "Zoë"}}
            for n in range(batch * 200, batch * 200 + 200)]}, status=202)
        stack.drain()
    prefix = f"auditrail/{created['id']}/"
    archive = tmp_path / "archive.ndjson"

    def archived() -> int:  # the bucket's objects, in name order, laid end to end
        archive.write_bytes(b"".join(read(s3, bucket, found["Key"])["Body"].read()
                                     for found in objects(s3, bucket, prefix)))
        return len(archive.read_bytes().splitlines())

    assert stack.deliver_until(lambda: archived() == 600)
    stored = objects(s3, bucket, prefix)
    assert [found["Key"] for found in stored] == [
        f"{prefix}{number:012d}.ndjson" for number in range(1, len(stored) + 1)]
    lines = archive.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["sequence"] for line in lines] == list(range(1, 601))
    verified = subprocess.run([AUDITRAIL, "verify", str(archive)], capture_output=True,
                              text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "600" in verified.stdout

    # proved against the log's signed checkpoint, kept in the last object's metadata
    last = read(s3, bucket, stored[-1]["Key"])
    assert last["Metadata"]["auditrail-last-sequence"] == "600"
    assert last["ContentType"] == "application/x-ndjson"
    note = base64.b64decode(last["Metadata"]["auditrail-checkpoint"]).decode()
    assert note.splitlines()[0].endswith(f"/{workspace_id}")
    size = int(note.splitlines()[1])
    (tmp_path / "checkpoint.txt").write_text(note)
    vkey = call(stack, "GET", "/log/key", admin)["verifier_key"]

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([AUDITRAIL, "verify", *args], capture_output=True, text=True,
                              check=False)

    proved = verify(str(archive), "--signed-checkpoint", str(tmp_path / "checkpoint.txt"),
                    "--verifier-key", vkey)
    assert proved.returncode == 0, proved.stdout + proved.stderr
    assert f"checkpoint: the first {size} rows rebuild the signed tree of size {size}" in \
        proved.stdout
    other = call(stack, "GET", "/log/key", stack.new_workspace()[1])["verifier_key"]
    forged = verify(str(archive), "--signed-checkpoint", str(tmp_path / "checkpoint.txt"),
                    "--verifier-key", other)
    assert forged.returncode == 1 and "invalid: checkpoint: the note carries no signature by" \
        in forged.stderr  # another log's key
    short = tmp_path / "short.ndjson"
    short.write_text("\n".join(lines[:size - 1]) + "\n", encoding="utf-8")
    cut = verify(str(short), "--signed-checkpoint", str(tmp_path / "checkpoint.txt"),
                 "--verifier-key", vkey)
    assert cut.returncode == 1 and f"before the checkpoint's tree of size {size}" in cut.stderr

    archive.write_text("\n".join(lines).replace('"Zoë"', '"Zoe"', 1) + "\n", encoding="utf-8")
    tampered = subprocess.run([AUDITRAIL, "verify", str(archive)], capture_output=True,
                              text=True, check=False)
    assert tampered.returncode == 1 and "hash_mismatch at sequence 1" in tampered.stderr



def test_a_gzip_archive_is_a_fraction_of_the_bytes_and_verifies_laid_end_to_end(
        stack: Stack, s3: dict[str, Any], tmp_path: Path) -> None:
    """Objects gzipped from the stream's creation, then plain after a PATCH: the archive,
    each object inflated where gzipped and laid end to end, is the chain, which
    ``auditrail verify`` checks - and the gzipped objects alone, concatenated as they are
    (gzip members one after another), verify too."""
    _, admin = stack.new_workspace()
    bucket = new_bucket(s3)
    created = call(stack, "POST", "/streams", admin, {
        "name": "Archive", "type": "s3",
        "config": {"url": f"{s3['endpoint']}/{bucket}/auditrail/", "region": REGION,
                   "access_key_id": s3["key_id"], "secret_access_key": s3["secret"],
                   "compression": "gzip"}}, status=201)
    assert created["config"]["compression"] == "gzip"
    prefix = f"auditrail/{created['id']}/"

    def send(first: int) -> None:
        call(stack, "POST", "/events/batch", admin, {"events": [
            {"action": "document.view", "actor": {"id": f"usr_{n % 7}", "type": "user"},
             "targets": [{"id": f"doc_{n}", "type": "document"}]}
            for n in range(first, first + 200)]}, status=202)
        stack.drain()

    def stored() -> list[tuple[str, bytes]]:  # each object's name and bytes, in name order
        return [(found["Key"], read(s3, bucket, found["Key"])["Body"].read())
                for found in objects(s3, bucket, prefix)]

    def archive() -> bytes:  # inflated where gzipped, laid end to end
        return b"".join(gzip.decompress(body) if key.endswith(".gz") else body
                        for key, body in stored())

    send(0)
    assert stack.deliver_until(lambda: len(archive().splitlines()) == 200)
    gzipped = stored()
    assert all(key.endswith(".ndjson.gz") for key, _ in gzipped)
    assert read(s3, bucket, gzipped[0][0])["ContentType"] == "application/gzip"
    packed = b"".join(body for _, body in gzipped)
    assert len(packed) < len(gzip.decompress(packed)) / 5
    (tmp_path / "gzipped.ndjson.gz").write_bytes(packed)
    alone = subprocess.run([AUDITRAIL, "verify", str(tmp_path / "gzipped.ndjson.gz")],
                           capture_output=True, text=True, check=False)
    assert alone.returncode == 0 and "200 events" in alone.stdout, alone.stdout + alone.stderr

    changed = call(stack, "PATCH", f"/streams/{created['id']}", admin,
                   {"config": {"compression": "none"}})
    assert (changed["config"]["compression"], changed["config"]["region"]) == ("none", REGION)
    send(200)
    assert stack.deliver_until(lambda: len(archive().splitlines()) == 400)
    assert any(key.endswith(".ndjson") for key, _ in stored())
    (tmp_path / "archive.ndjson").write_bytes(archive())
    lines = archive().splitlines()
    assert [json.loads(line)["sequence"] for line in lines] == list(range(1, 401))
    verified = subprocess.run([AUDITRAIL, "verify", str(tmp_path / "archive.ndjson")],
                              capture_output=True, text=True, check=False)
    assert verified.returncode == 0 and "400 events" in verified.stdout, \
        verified.stdout + verified.stderr
    folder = tmp_path / "bucket"  # as `aws s3 cp --recursive` leaves it: no laying out
    folder.mkdir()
    for key, body in stored():
        (folder / key.rsplit("/", 1)[1]).write_bytes(body)
    whole = subprocess.run([AUDITRAIL, "verify", str(folder)], capture_output=True, text=True,
                           check=False)
    assert whole.returncode == 0 and "400 events" in whole.stdout, whole.stdout + whole.stderr
    next(folder.glob("*.ndjson.gz")).write_bytes(gzip.compress(b'{"sequence": 1}\n'))
    broken = subprocess.run([AUDITRAIL, "verify", str(folder)], capture_output=True,
                            text=True, check=False)
    assert broken.returncode == 1 and "sequence 1" in broken.stderr, broken.stderr


def test_a_test_object_and_a_wrong_secret_say_how_the_bucket_answers(
        stack: Stack, s3: dict[str, Any]) -> None:
    _, admin = stack.new_workspace()
    bucket = new_bucket(s3)
    stream = new_stream(stack, admin, s3, f"{s3['endpoint']}/{bucket}")
    tested = call(stack, "POST", f"/streams/{stream['id']}/test", admin)
    assert (tested["status"], tested["http_status"]) == ("delivered", 200), tested
    [sample] = objects(s3, bucket, f"{stream['id']}/")
    assert sample["Key"].startswith(f"{stream['id']}/test/dlv_")

    call(stack, "PATCH", f"/streams/{stream['id']}", admin,
         {"config": {"secret_access_key": "not-the-secret-at-all-0000"}})
    refused = call(stack, "POST", f"/streams/{stream['id']}/test", admin)
    assert (refused["status"], refused["http_status"]) == ("failed", 403), refused
    assert refused["error"].startswith("HTTP 403: SignatureDoesNotMatch: The request "
                                       "signature we calculated does not match")
    assert "not-the-secret" not in json.dumps(refused)

    missing = stack.client.post("/api/v1/streams", headers=bearer(admin), json={
        "name": "Archive", "type": "s3", "config": {"url": f"{s3['endpoint']}/{bucket}"}})
    assert missing.status_code == 422
    assert sorted(detail["field"] for detail in missing.json["error"]["details"]) == [
        "config.access_key_id", "config.region", "config.secret_access_key"]
    unknown = stack.client.post("/api/v1/streams", headers=bearer(admin), json={
        "name": "Archive", "type": "s3", "config": {"url": f"{s3['endpoint']}/{bucket}",
                                                    "bucket": bucket}})
    assert [detail["field"] for detail in unknown.json["error"]["details"]] == [
        "config.bucket"]
