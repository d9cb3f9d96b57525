"""The viewer's fixtures: one server a test module, seeded with 80 events of five actors
(half of them located by a real City database), and a fresh headless Chromium a test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from entrypoints.settings import Settings
from tests.geo_db import LONDON_V4, build_city_database
from tests.integration.processes import environment, start_server, stop
from tests.integration.stacks import admin_key_in
from tests.integration.viewer.pages import CHROMIUM, DRIVER, call


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("viewer")
    admin = admin_key_in(data / "var")
    geo = build_city_database(data / "city.mmdb")
    process, base = start_server(environment(data_dir=str(data / "var"), geoip_db=str(geo),
                                             checkpoint_seconds="1"), data / "serve.log")
    actions = ["user.login", "user.logout", "document.update", "admin.user.delete"]
    call(base, "POST", "/api/v1/events/batch", admin, {"events": [
        {"action": actions[n % 4], "actor": {"id": f"usr_{n % 5}", "type": "user",
                                             "name": f"User {n % 5}"},
         "targets": [{"id": f"doc_{n}", "type": "document", "name": f"Plan {n}"}],
         "context": {"ip_address": LONDON_V4 if n % 2 else "203.0.113.7"},  # one located
         "metadata": {"n": n}}
        for n in range(80)]})
    try:
        yield {"base": base, "admin": admin, "data_dir": str(data / "var"),
               "signing_key": Settings(data_dir=data / "var").signing_key_file}
    finally:
        stop(process)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER or ""), options=options)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
