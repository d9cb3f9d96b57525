"""Every shell command in the README and in docs/ runs, as written, against a real
``auditrail serve``, so that none of them can rot.

A document's ``sh`` blocks run in order in one bash session, in a scratch folder beside a
link to the repository's ``.venv`` (variables set by one block
are used by the next, as a reader pasting them would have them), with ``set -euo
pipefail`` and ``curl`` failing on any HTTP error. The only change made to them is the
server's address: ``127.0.0.1:8080`` becomes the test server's port. A block may be
preceded by an HTML comment, invisible on the rendered page:

- ``<!-- docs-test: expect-error -->``: each ``curl`` in it must be answered 4xx (an
  example of an error);
- ``<!-- docs-test: skip (reason) -->``: not run, for the reason given (``make run``
  starts the server this test already runs).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.processes import environment, start_server, stop

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             ROOT / "clients" / "python" / "README.md"]
_BLOCK = re.compile(r"(?:<!-- docs-test: (?P<mark>[^>]*?) -->\n)?```sh\n(?P<body>.*?)^```",
                    re.S | re.M)
_SKIP = re.compile(r"skip \(.{10,}\)")
PREAMBLE = """set -euo pipefail
curl() { command curl --fail-with-body "$@"; }
"""
EXPECT_ERROR = """curl() {
  local code
  code=$(command curl -s -o /dev/null -w '%{http_code}' "$@") || return 1
  [[ $code == 4* ]] || { echo "expected a 4xx, got $code: curl $*" >&2; return 1; }
}
"""


@dataclass(frozen=True)
class Block:
    mark: str | None
    body: str


def blocks(document: Path) -> list[Block]:
    return [Block(m["mark"], m["body"]) for m in _BLOCK.finditer(document.read_text())]


def script(document: Path, port: int) -> str:
    parts = [PREAMBLE]
    for block in blocks(document):
        if block.mark and block.mark.startswith("skip"):
            continue
        body = block.body.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        if block.mark == "expect-error":
            body = EXPECT_ERROR + body + PREAMBLE
        parts.append(body)
    return "\n".join(parts)


def test_every_block_is_run_or_says_why_not() -> None:
    marks = {(document.name, block.mark) for document in DOCUMENTS
             for block in blocks(document) if block.mark is not None}
    unexplained = {(name, mark) for name, mark in marks
                   if mark != "expect-error" and not _SKIP.fullmatch(mark)}
    assert not unexplained


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, str]]]:
    """One server for every document, as a reader going through them all would have: each
    one's commands make workspaces of their own."""
    folder = tmp_path_factory.mktemp("docs")
    # A witness the documents start on this machine is a private destination, which the
    # documents ask the reader to allow when they start the server.
    settings = environment(data_dir=str(folder / "var"), checkpoint_seconds="1",
                           allow_private_destinations="1")
    process, base = start_server(settings, folder / "serve.log")
    yield int(base.rsplit(":", 1)[1]), settings
    stop(process)


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if blocks(d)],
                         ids=lambda d: str(d.relative_to(ROOT)))
def test_the_documented_commands_run(document: Path, tmp_path: Path,
                                     request: pytest.FixtureRequest) -> None:
    if all(block.mark and block.mark.startswith("skip") for block in blocks(document)):
        return  # nothing to run: each block says why (checked above)
    if not (ROOT / ".venv" / "bin" / "auditrail").exists():
        pytest.skip("the documents name .venv/bin: run through `make test`, which makes it")
    port, settings = request.getfixturevalue("server")
    work = tmp_path / "work"  # what the commands write stays out of the repository
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")
    result = subprocess.run(["bash", "-c", script(document, port)], cwd=work, env=settings,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"a command of {document.relative_to(ROOT)} failed:\n{result.stderr[-4000:]}\n"
        f"--- its output ---\n{result.stdout[-2000:]}")


def _fenced(text: str, language: str, first_line: str) -> str:
    """The body of the ``language`` block whose first line is ``first_line``."""
    for match in re.finditer(rf"^```{language}\n(.*?)^```", text, re.S | re.M):
        if match[1].startswith(first_line + "\n"):
            return match[1]
    raise AssertionError(f"no {language} block beginning {first_line!r}")


def _seconds(duration: str) -> int:
    assert duration.endswith("s"), duration
    return int(duration[:-1])


def test_each_crontab_line_runs_a_command_the_cli_takes() -> None:
    """A crontab line runs unattended: a misspelt option there fails every ten minutes
    into a mail nobody reads. Each documented line has a five-field schedule, and its
    command parses as the CLI reads it."""
    from click.testing import CliRunner

    from entrypoints.cli import main

    lines = [line for document in DOCUMENTS
             for body in re.findall(r"^```crontab\n(.*?)^```", document.read_text(),
                                    re.S | re.M)
             for line in body.splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) >= 2
    for line in lines:
        fields = line.split(None, 5)
        assert all(re.fullmatch(r"[0-9*/,-]+", field) for field in fields[:5]), line
        argv = shlex.split(fields[5])
        while "=" in argv[0]:  # the environment the command is given
            argv.pop(0)
        assert argv[0] == "auditrail", line
        parsed = CliRunner().invoke(main, [*argv[1:], "--help"])
        assert parsed.exit_code == 0, (line, parsed.output)


def test_the_container_files_hold_real_commands_settings_and_one_volume() -> None:
    """The Dockerfile, environment file and compose file of operations.md cannot run here
    (no Docker), so what can rot in them is held against the code: each command parses
    as the CLI reads it, each setting is one the service reads, servers and workers share
    the volume where the image keeps AUDITRAIL_DATA_DIR, the health check asks the port
    the server listens on, and each stop waits as long as the systemd units do."""
    import yaml
    from click.testing import CliRunner

    from entrypoints import gunicorn_conf
    from entrypoints.cli import main
    from entrypoints.settings import Settings, SettingsError
    from tests.integration.stacks import TEST_SIGNING_KEY

    text = (ROOT / "docs" / "operations.md").read_text()
    dockerfile = _fenced(text, "dockerfile", "# Dockerfile, at the root of a checkout: "
                                             "docker build -t auditrail .")
    [data_dir] = re.findall(r"^ENV AUDITRAIL_DATA_DIR=(\S+)$", dockerfile, re.M)
    [default] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    env = dict(line.split("=", 1) for line in _fenced(text, "ini", "# auditrail.env (mode "
                                                      "0600)").splitlines()[1:])
    settings = Settings.from_env({**env, "AUDITRAIL_SIGNING_KEY": TEST_SIGNING_KEY})
    assert settings.profile == "production" and settings.trusted_proxies == 1
    with pytest.raises(SettingsError, match="placeholder"):  # left as it is, it is refused
        settings.check_production_secrets()
    known = {f"AUDITRAIL_{name.upper()}" for name in Settings.__dataclass_fields__}
    assert set(env) <= known
    compose = yaml.safe_load(_fenced(text, "yaml", "# compose.yaml"))
    ours = {name: service for name, service in compose["services"].items()
            if service.get("image") == "auditrail"}
    assert set(ours) == {"migrate", "serve", "worker"}
    for command in [json.loads(default), *(s["command"] for s in ours.values())]:
        assert command[0] == "auditrail"
        parsed = CliRunner().invoke(main, [*command[1:], "--help"])
        assert parsed.exit_code == 0, (command, parsed.output)
    volume = f"auditrail-data:{data_dir}"
    assert volume in ours["serve"]["volumes"] and volume in ours["worker"]["volumes"]
    port = ours["serve"]["command"][ours["serve"]["command"].index("--port") + 1]
    assert f"127.0.0.1:{port}/readyz" in " ".join(ours["serve"]["healthcheck"]["test"])
    assert _seconds(ours["serve"]["stop_grace_period"]) > gunicorn_conf.graceful_timeout
    stops = [int(value) for value in re.findall(r"^TimeoutStopSec=(\d+)$", text, re.M)]
    assert [_seconds(ours[name]["stop_grace_period"]) for name in ("serve", "worker")] \
        == stops
