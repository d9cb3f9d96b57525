"""The service as an image installs it: a wheel built from exactly the files the Dockerfile
in docs/operations.md copies, installed (not editable) in a virtualenv of its own and run
from another folder.

The rest of the suite runs an editable install, which reads every file from the checkout:
a file the package leaves out (a migration, one of the viewer's scripts) would be missed
only in production. The image itself is not built here (no Docker runs where the suite
does); the wheel is what it installs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

from tests.conftest import unavailable
from tests.integration.processes import call, environment, free_port, stop, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"domain", "application", "adapters", "entrypoints"}
FOR_DEVELOPMENT = {"adapters/sql/migrations/script.py.mako"}
"""Files under src that the package leaves out: the template ``alembic revision`` writes a
new migration from."""


def dockerfile() -> str:
    [text] = re.findall(r"```dockerfile\n(.*?)```", (ROOT / "docs" / "operations.md")
                        .read_text(), re.S)
    return text


def copied(text: str) -> list[str]:
    """What the Dockerfile's build stage takes from the checkout."""
    sources: list[str] = []
    for line in text.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources.extend(line.split()[1:-1])
    return sources


def test_the_image_takes_from_the_checkout_only_what_the_package_is_built_from() -> None:
    text = dockerfile()
    assert copied(text) == ["pyproject.toml", "README.md", "src"]  # never `COPY .`: var/
    assert "pip wheel" in text and "COPY --from=build /wheels /wheels" in text
    assert re.search(r"^USER auditrail$", text, re.M)  # the server does not run as root


def test_the_wheel_the_image_installs_serves_from_anywhere(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for source in copied(dockerfile()):
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, context / source,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(ROOT / source, context / source)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "--disable-pip-version-check", "--wheel-dir",
                            str(tmp_path / "wheels"), str(context)],
                           capture_output=True, text=True, timeout=300)
    if built.returncode != 0:
        unavailable(f"pip could not build the wheel: {built.stderr.strip().splitlines()[-1:]}")
    [wheel] = (tmp_path / "wheels").glob("auditrail-*.whl")
    packaged = {name for name in zipfile.ZipFile(wheel).namelist()
                if not name.startswith("auditrail-")}  # but its metadata
    assert {name.split("/")[0] for name in packaged} == PACKAGES  # no tests, no benches
    assert packaged == {str(path.relative_to(ROOT / "src")) for path in
                        (ROOT / "src").rglob("*") if path.is_file()
                        and "__pycache__" not in path.parts
                        and ".egg-info" not in str(path)} - FOR_DEVELOPMENT  # migrations too

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--no-deps", "--disable-pip-version-check", str(wheel)], check=True,
                   timeout=300)
    # Its dependencies from the suite's environment (what resolving them from the index
    # gives is what `make install` already runs on); the suite's own, editable, copy of
    # the service is not among what this path brings in.
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"], capture_output=True,
                          text=True, check=True).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = environment(data_dir=str(tmp_path / "var"), checkpoint_seconds="1")
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import entrypoints.http.viewer_page as p; print(p.FILES)"],
                           capture_output=True, text=True, check=True, cwd=elsewhere, env=env)
    assert where.stdout.strip().startswith(site)  # the package, not the checkout

    auditrail = str(venv / "bin" / "auditrail")
    key = json.loads(subprocess.run(
        [auditrail, "workspaces", "create", "--name", "Packaged", "--json"], cwd=elsewhere,
        env=env, capture_output=True, text=True, check=True).stdout)["api_key"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([auditrail, "serve", "--port", str(port)], cwd=elsewhere,
                              env=env, stdout=(tmp_path / "serve.log").open("wb"),
                              stderr=subprocess.STDOUT)
    try:
        wait_until_up(server, base, tmp_path / "serve.log")
        accepted = call(base, "POST", "/api/v1/events", key, {
            "action": "user.login", "actor": {"id": "usr_1", "type": "user"}})
        deadline = time.monotonic() + 20
        while call(base, "GET", f"/api/v1/events/{accepted['id']}", key)["status"] != \
                "processed":
            assert time.monotonic() < deadline, "the packaged worker did not process it"
            time.sleep(0.2)
        assert call(base, "GET", "/api/v1/events/verify", key)["valid"] is True
        page = fetch(f"{base}/viewer/").decode()
        assets = re.findall(r'(?:src|href)="(assets/[^"]+)"', page)
        viewer = ROOT / "src" / "entrypoints" / "http" / "viewer"
        assert {asset.rsplit("/", 1)[1] for asset in assets} == {
            file.name for file in viewer.iterdir() if file.name != "index.html"}
        for asset in assets:
            assert fetch(f"{base}/viewer/{asset}"), asset
    finally:
        stop(server)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200, url
        return response.read()
