"""How long ``auditrail`` commands take to start and run, beside the floor: Python itself
and the libraries each must load.

    make bench-commands      # or: .venv/bin/python bench/commands.py --runs 7

On an embedded server of its own (a scratch folder, ``AUDITRAIL_CHECKPOINT_SECONDS=1``)
with one workspace of 100 events, each command is run ``--runs`` times, alternating, and
its median wall time printed:

  * the auditor's: ``auditrail verify`` of the workspace's export with its evidence (every
    row proved against the signed log) and ``auditrail log monitor`` against the server
    (a checkpoint fetched and proved consistent with the one the state file kept);
  * the operator's: ``auditrail status`` and ``auditrail workspaces list`` (the database
    read), and ``auditrail --version`` and ``auditrail --help`` (the list of commands);
  * beside them, what no command can avoid: ``python -c pass``, Python with ``click``, and
    Python importing the installation's container (its database, queue, web and metrics
    libraries), which the auditor's commands need not load;
  * then ``auditrail serve`` from its start to its first ``/healthz`` answer, as after a
    restart: embedded (migrated already) and production with two workers (on a scratch
    PostgreSQL database, migrated first, and Redis: ``--postgres``, ``--redis``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from ingest import _free_port, _wait_up  # noqa: E402
from scratch import add_server_options, forget_queues, production_env, scratch_database  # noqa: E402


def _call(base: str, key: str, method: str, path: str, body: object = None) -> object:
    request = urllib.request.Request(
        f"{base}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        data = answer.read()
    return json.loads(data) if data.startswith(b"{") else data


def _prepared(base: str, key: str, folder: Path) -> tuple[Path, Path, str]:
    """An export of 100 processed and checkpointed events, its evidence, the verifier key."""
    _call(base, key, "POST", "/api/v1/events/batch", {"events": [
        {"action": "user.login", "actor": {"id": f"usr_{n}", "type": "user"}}
        for n in range(100)]})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        note = _call(base, key, "GET", "/api/v1/log/checkpoint").decode()
        if note.splitlines()[1] == "100":
            break
        time.sleep(0.2)
    export = _call(base, key, "POST", "/api/v1/exports", {"format": "ndjson"})
    while _call(base, key, "GET", f"/api/v1/exports/{export['id']}")["status"] != "completed":
        time.sleep(0.2)
    request = urllib.request.Request(f"{base}/api/v1/exports/{export['id']}/download",
                                     headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # follows the signed link
        (folder / "export.ndjson").write_bytes(answer.read())
    evidence = _call(base, key, "GET", f"/api/v1/exports/{export['id']}/evidence")
    (folder / "evidence.json").write_text(json.dumps(evidence))
    verifier_key = _call(base, key, "GET", "/api/v1/log/key")["verifier_key"]
    return folder / "export.ndjson", folder / "evidence.json", verifier_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command")
    add_server_options(parser)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="auditrail-bench-commands-"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")},
           "AUDITRAIL_DATA_DIR": str(folder / "var"), "AUDITRAIL_CHECKPOINT_SECONDS": "1",
           "AUDITRAIL_LOG_LEVEL": "WARNING"}
    auditrail = str(BIN / "auditrail")
    created = json.loads(subprocess.run([auditrail, "workspaces", "create", "--name", "bench",
                                         "--json"], env=env, check=True,
                                        capture_output=True).stdout)
    key = created["api_key"]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([auditrail, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_up(base, server)
        export, evidence, verifier_key = _prepared(base, key, folder)
        state = str(folder / "monitor.json")
        subprocess.run([auditrail, "log", "monitor", "--url", base, "--key", key, "--state",
                        state, "--verifier-key", verifier_key], env=env, check=True,
                       capture_output=True)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python, import click": [sys.executable, "-c", "import click"],
            "python, import the installation's container": [
                sys.executable, "-c", "import entrypoints.container.installation"],
            "auditrail --version": [auditrail, "--version"],
            "auditrail --help": [auditrail, "--help"],
            "auditrail verify --evidence (100 rows)": [
                auditrail, "verify", str(export), "--evidence", str(evidence),
                "--verifier-key", verifier_key],
            "auditrail log monitor": [auditrail, "log", "monitor", "--url", base, "--key", key,
                                      "--state", state],
            "auditrail status": [auditrail, "status"],
            "auditrail workspaces list": [auditrail, "workspaces", "list"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                started = time.perf_counter()
                subprocess.run(argv, env=env, check=True, capture_output=True)
                times[name].append(time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(30)
    times["auditrail serve, embedded, to /healthz"] = _serve_starts(auditrail, env, args.runs)
    with scratch_database(argparse.Namespace(postgres=args.postgres, reuse=None, keep=False),
                          "bench_commands") as dsn:
        production = production_env(dsn, args.redis, folder / "production")
        subprocess.run([auditrail, "db", "upgrade"], env=production, check=True,
                       capture_output=True)
        try:
            times["auditrail serve, production, 2 workers, to /healthz"] = _serve_starts(
                auditrail, production, args.runs, "--workers", "2")
        finally:
            forget_queues(production)
    print(f"median of {args.runs} runs each (min-max), on {os.cpu_count()} cores")
    for name, seconds in times.items():
        print(f"  {name:<53} {statistics.median(seconds) * 1000:7.0f} ms "
              f"({min(seconds) * 1000:.0f}-{max(seconds) * 1000:.0f})")


def _serve_starts(auditrail: str, env: dict[str, str], runs: int, *options: str) -> list[float]:
    """Seconds from ``auditrail serve`` to its first answer, each run stopped (SIGTERM)
    and waited for before the next."""
    seconds = []
    for _ in range(runs):
        port = _free_port()
        started = time.perf_counter()
        server = subprocess.Popen([auditrail, "serve", "--port", str(port), *options],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_up(f"http://127.0.0.1:{port}", server)
            seconds.append(time.perf_counter() - started)
        finally:
            server.terminate()
            server.wait(60)
    return seconds


if __name__ == "__main__":
    main()
