"""The systemd units in docs/operations.md, as systemd itself reads them: an operator copies
them as they stand, and a misspelt key is only a warning in a journal nobody reads, while
an instance that expands to a port the unit's user may not bind restarts for ever."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.processes import AUDITRAIL

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
INSTALLED = "/opt/auditrail/bin/auditrail"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(
    not ANALYZE and not os.environ.get("AUDITRAIL_REQUIRE_SERVICES"),
    reason="systemd-analyze is not installed (apt-get install systemd; .ci/run does)")


def documented_units() -> dict[str, str]:
    """Each unit file the page shows, by name: an ``ini`` block naming its path first."""
    units = {}
    for block in re.findall(r"```ini\n(.*?)```", OPERATIONS.read_text(), re.S):
        first = block.splitlines()[0]
        if named := re.match(r"# /etc/systemd/system/(\S+\.service)", first):
            units[named[1]] = block
    return units


def enabled() -> list[str]:
    """The units the page's ``systemctl enable`` starts."""
    [command] = re.findall(r"systemctl enable --now (.*)", OPERATIONS.read_text())
    return command.split()


def test_every_documented_unit_is_one_systemd_reads_without_a_word(tmp_path: Path) -> None:
    units = documented_units()
    assert {"auditrail-serve.service", "auditrail-worker@.service",
            "auditrail-witness.service"} <= set(units)
    assert AUDITRAIL
    for name, text in units.items():  # systemd checks that what it would run is there
        (tmp_path / name).write_text(text.replace(INSTALLED, AUDITRAIL))
    names = [f"{name}.service" if "." not in name else name for name in enabled()]
    templates = [name for name in units if name.endswith("@.service")]
    assert all(any(name.startswith(t.removesuffix(".service")) for name in names)
               for t in templates)  # every template has instances to verify
    checked = [*names, *(name for name in units if name not in names
                         and not name.endswith("@.service"))]
    said = subprocess.run([ANALYZE or "systemd-analyze", "verify", "--man=no",
                           *(str(tmp_path / name) for name in checked)],
                          capture_output=True, text=True, timeout=60)
    assert said.returncode == 0 and not (said.stdout + said.stderr).strip(), \
        said.stdout + said.stderr


def test_each_worker_instance_binds_a_port_its_user_may() -> None:
    """The instance of ``auditrail-worker@`` names its metrics port: one below 1024 would
    be refused to ``User=auditrail`` (as ``91%i`` gave 911 for ``@1``)."""
    text = documented_units()["auditrail-worker@.service"]
    assert re.search(r"^User=(?!root$)\S+$", text, re.M)
    [start] = re.findall(r"^ExecStart=(.*)$", text, re.M)
    for name in enabled():
        if instance := re.match(r"auditrail-worker@(.+?)(?:\.service)?$", name):
            argv = shlex.split(start.replace("%i", instance[1]))
            port = int(argv[argv.index("--metrics-port") + 1])
            assert 1024 <= port <= 65535, name
