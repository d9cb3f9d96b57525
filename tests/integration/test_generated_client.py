"""A client generated from the API document works as is: what integrators outside Python's
own client do first. openapi-python-client, in a virtualenv of its own (it pins an httpx
older than the server's), generates a client from ``auditrail openapi``, without a
warning; ``generated_client/smoke.py`` then sends, pages, counts, verifies, proves,
exports, manages an alert rule and meets two errors with it, against a real
``auditrail serve``, each answer parsed into the document's model for its status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import unavailable
from tests.integration.processes import AUDITRAIL, environment, start_server, stop
from tests.integration.stacks import admin_key_in

GENERATOR = "openapi-python-client==0.29.1"
SMOKE = Path(__file__).parent / "generated_client" / "smoke.py"


def test_a_client_generated_from_the_api_document_works_as_is(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", GENERATOR], capture_output=True, text=True,
        timeout=600)
    if installed.returncode != 0:
        unavailable(f"pip could not install {GENERATOR}: "
                    f"{installed.stderr.strip().splitlines()[-1:]}")
    document = tmp_path / "openapi.json"
    document.write_text(subprocess.run([AUDITRAIL, "openapi"], capture_output=True, text=True,
                                       check=True, env=environment()).stdout)
    # Its own ruff on the PATH: the generator formats what it writes, and warns without it.
    env = dict(os.environ, PATH=os.pathsep.join([str(venv / "bin"), os.environ["PATH"]]))
    generated = subprocess.run(
        [str(venv / "bin" / "openapi-python-client"), "generate", "--path", str(document),
         "--meta", "none", "--output-path", str(tmp_path / "auditrail_api")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    said = generated.stdout + generated.stderr
    assert generated.returncode == 0 and "Warning" not in said, said  # nothing left out

    data = tmp_path / "var"
    admin = admin_key_in(data)
    process, base = start_server(environment(data_dir=str(data), checkpoint_seconds="1"),
                                 tmp_path / "serve.log")
    try:
        ran = subprocess.run([str(venv / "bin" / "python"), str(SMOKE), base, admin],
                             capture_output=True, text=True, timeout=300,
                             env=dict(env, PYTHONPATH=str(tmp_path)))
    finally:
        stop(process)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-4000:]
    seen = json.loads(ran.stdout)
    assert seen["batch_ids"] == 3
    assert seen["event"] == {"status": "processed", "sequence": 4, "actor_name": "Ann",
                             "occurred_at": "2026-11-01T12:00:00+00:00", "hash_length": 64}
    assert seen["pages"] == [["usr_0", "usr_1"], True, 3, ["usr_2"], False]
    assert seen["stats"] == {"user.login": 3, "document.update": 1}
    assert seen["verified"] == [True, 4]
    assert seen["proof"] == [True, 4, 2, True]  # leaf 3 of 4: two hashes to the root
    assert seen["log_key_algorithm"] == "ed25519"
    assert seen["export"] == ["completed", 4, True]
    assert seen["rules"] == ["Logins"] and seen["workspace"] == "Acme"
    assert seen["missing"] == ["not_found", True]
    assert seen["refused"] == "invalid_parameter"
