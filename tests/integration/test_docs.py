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

import re
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
