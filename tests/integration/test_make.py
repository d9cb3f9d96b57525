"""``make run`` on a machine whose Python is too old (Ubuntu 22.04's python3 is 3.10): a
clear word before anything is made, and a ``.venv`` an older Python left is made again
rather than failing for ever after."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def older_python() -> str:
    """A Python older than the service needs: pyenv's 3.10, or python3.10 on the PATH."""
    candidates = [*sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10.*/bin/python"))),
                  shutil.which("python3.10")]
    for candidate in filter(None, candidates):
        said = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30)
        if said.returncode == 0 and said.stdout.strip() == "(3, 10)":
            return candidate
    pytest.skip("no Python 3.10 here to play an older python3 (pyenv install 3.10)")


def make(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=folder,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_an_older_python_is_named_with_what_to_do_and_nothing_is_made(
        checkout: Path) -> None:
    python = older_python()
    ran = make(checkout, "run", f"PYTHON={python}")
    assert ran.returncode != 0
    assert f"Auditrail needs Python 3.11 or newer, and {python} is 3.10." in ran.stderr
    assert "make run PYTHON=python3.11" in ran.stderr
    assert not (checkout / ".venv").exists()


def test_a_venv_an_older_python_made_is_made_again(checkout: Path) -> None:
    subprocess.run([older_python(), "-m", "venv", str(checkout / ".venv")], check=True,
                   timeout=120)
    ran = make(checkout, "python-version", "PYTHON=python3")
    assert ran.returncode == 0, ran.stderr
    assert ".venv was made by an older Python: making it again" in ran.stdout
    assert not (checkout / ".venv").exists()
    again = make(checkout, "python-version", "PYTHON=python3")  # nothing left to say
    assert (again.returncode, again.stdout) == (0, "")
