"""The Python client on the oldest Python and the oldest dependencies it declares
(``clients/python/pyproject.toml``): its own suite, run by that interpreter against a real
``auditrail serve``. Integrators on long-lived systems (RHEL 9 and Amazon Linux 2023 ship
Python 3.9) install exactly that, and the rest of the suite runs the client on the
server's Python with the newest releases."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.conftest import unavailable

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
OLDEST_PYTHON = "AUDITRAIL_TEST_OLDEST_PYTHON"


def floor(specifiers: SpecifierSet) -> str:
    """The version a ``>=`` specifier starts at: what the project claims to work with."""
    [lowest] = [spec.version for spec in specifiers if spec.operator == ">="]
    return lowest


def lowest_requirements(dependencies: list[str]) -> list[str]:
    return [f"{(req := Requirement(dependency)).name}=={floor(req.specifier)}"
            for dependency in dependencies]


def oldest_python(version: str) -> str:
    """The interpreter ``AUDITRAIL_TEST_OLDEST_PYTHON`` names (.ci/run sets it from pyenv),
    else ``python3.9`` on the PATH, if it runs and is that version."""
    candidate = os.environ.get(OLDEST_PYTHON) or f"python{version}"
    try:
        said = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30)
    except OSError:
        said = None
    if said is None or said.returncode != 0 or \
            said.stdout.strip() != str(tuple(int(n) for n in version.split("."))):
        # Like Go and Chromium, a tool from outside: Debian ships no Python 3.9, so CI
        # runs this where the machine has one (pyenv's) and cannot install it otherwise.
        pytest.skip(f"no Python {version} to run the client's suite under ({candidate} "
                    f"did not run as one; set {OLDEST_PYTHON})")
    return candidate


def test_lowest_requirements_pin_each_dependency_to_where_its_range_starts() -> None:
    assert lowest_requirements(["httpx>=0.24,<1", "cryptography>=41"]) == [
        "httpx==0.24", "cryptography==41"]


def test_the_clients_suite_passes_on_its_oldest_python_and_dependencies(
        tmp_path: Path) -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    python = oldest_python(floor(SpecifierSet(project["requires-python"])))
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", str(CLIENT),
         *lowest_requirements(project["dependencies"]), "pytest", "pytest-xdist",
         "hypothesis"],
        capture_output=True, text=True, timeout=600)
    if installed.returncode != 0:
        unavailable("pip could not install the client's oldest dependencies: "
                    f"{installed.stderr.strip().splitlines()[-1:]}")

    server_bin = str(Path(sys.executable).parent)  # `auditrail` for the suite's server
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTEST_", "COV_"))}
    env["PATH"] = os.pathsep.join([server_bin, env.get("PATH", "")])
    ran = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-n", "2", "tests"], cwd=CLIENT, env=env, capture_output=True, text=True,
        timeout=900)
    summary = ran.stdout.strip().splitlines()[-1:]
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert summary and " passed" in summary[0] and "skipped" not in summary[0], summary
