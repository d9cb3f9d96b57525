"""Geo enrichment through geoip2 reading a real .mmdb file built by the test."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adapters.geoip.locator import MaxMindGeoLocator
from application.ports.geo import GeoDatabaseUnusable
from tests.geo_db import (
    LONDON,
    LONDON_V4,
    SYDNEY,
    SYDNEY_V6,
    UNKNOWN_PUBLIC,
    build_city_database,
    corrupt_data_section,
)
from tests.integration.stacks import bearer
from tests.integration.test_observability import sample


@pytest.fixture(scope="module")
def city_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_city_database(tmp_path_factory.mktemp("geo") / "City.mmdb")


@pytest.mark.parametrize(("address", "expected"), [
    (LONDON_V4, LONDON), (SYDNEY_V6, SYDNEY), (UNKNOWN_PUBLIC, None),
    ("10.1.2.3", None), ("127.0.0.1", None), ("::1", None), ("192.168.0.1", None),
    ("fe80::1", None), ("203.0.113.7", None), ("not-an-ip", None),
    # IPv4-mapped, as dual-stack servers (Node's req.ip among them) report IPv4 clients
    (f"::ffff:{LONDON_V4}", LONDON), ("::ffff:5102:45a0", LONDON), ("::ffff:10.1.2.3", None),
    ("fe80::1%eth0", None),
])
def test_locator(city_db: Path, address: str, expected: dict | None) -> None:
    locator = MaxMindGeoLocator(str(city_db))
    assert locator.locate(address) == expected


@pytest.mark.parametrize("kind", ["embedded", "production"])
def test_processed_events_carry_geo_under_the_hash(stack_factory, city_db: Path,  # type: ignore[no-untyped-def]
                                                   kind: str) -> None:
    stack = stack_factory(kind, geoip_db=str(city_db))
    _, secret = stack.new_workspace()
    bodies = [{"action": "user.login", "actor": {"id": "u", "type": "user"},
               "context": {"ip_address": ip}} for ip in (LONDON_V4, SYDNEY_V6, "10.0.0.1")]
    bodies.append({"action": "user.login", "actor": {"id": "u", "type": "user"}})
    ids = stack.client.post("/api/v1/events/batch", json={"events": bodies},
                            headers=bearer(secret)).json["ids"]
    stack.drain()
    geos = [stack.client.get(f"/api/v1/events/{i}", headers=bearer(secret)).json["geo"]
            for i in ids]
    assert geos == [LONDON, SYDNEY, None, None]
    [(country,)] = stack.sql("SELECT country_code FROM events WHERE id = :i", i=ids[0])
    assert country == "GB"
    assert stack.client.get("/api/v1/events/verify", headers=bearer(secret)).json["valid"]
    stack.sql("UPDATE events SET geo = replace(geo, 'London', 'Paris') WHERE id = :i", i=ids[0])
    report = stack.client.get("/api/v1/events/verify", headers=bearer(secret)).json
    assert report["valid"] is False and report["reason"] == "hash_mismatch"


def test_without_a_database_geo_is_null(stack_factory) -> None:  # type: ignore[no-untyped-def]
    stack = stack_factory("embedded")
    assert stack.container.geo().locate(LONDON_V4) is None


def test_the_packaged_database_is_looked_for_once(stack_factory,  # type: ignore[no-untyped-def]
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Not once per processing job: searching the import path cost draining a workspace of
    a few events some 15 % of its CPU."""
    searches: list[None] = []

    def search() -> None:
        searches.append(None)

    monkeypatch.setattr("entrypoints.container.installation.find_packaged_city_database", search)
    stack = stack_factory("embedded")
    for _ in range(3):
        stack.container.process_pending_events()
    assert stack.container.geo().locate(LONDON_V4) is None
    assert len(searches) == 1


def test_an_ipv4_only_database_knows_no_ipv6_address(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Its lookups of IPv6 addresses raise ValueError, which is not corrupt data."""
    reports: list[None] = []
    locator = MaxMindGeoLocator(str(build_city_database(tmp_path / "V4.mmdb", ip_version=4)),
                                on_corrupt_data=lambda: reports.append(None))
    with caplog.at_level(logging.WARNING, logger="adapters.geoip.locator"):
        assert locator.locate(LONDON_V4) == LONDON
        assert locator.locate(f"::ffff:{LONDON_V4}") == LONDON
        assert locator.locate(SYDNEY_V6) is None
    assert reports == [] and caplog.records == []


@pytest.fixture(scope="module")
def corrupt_db(city_db: Path) -> Path:
    return corrupt_data_section(city_db, city_db.with_name("Corrupt.mmdb"))


def test_corrupt_data_gives_null_and_is_reported(corrupt_db: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    reports: list[None] = []
    locator = MaxMindGeoLocator(str(corrupt_db), on_corrupt_data=lambda: reports.append(None))
    with caplog.at_level(logging.ERROR, logger="adapters.geoip.locator"):
        assert locator.locate(LONDON_V4) is None
        assert locator.locate("81.2.69.161") is None  # another address in the bad record
        assert locator.locate("10.1.2.3") is None  # private: never read from the file
    assert len(reports) == 2  # every lookup that met corrupt data is counted ...
    [line] = caplog.records  # ... and logged once a minute, without the address
    assert str(corrupt_db) in line.getMessage() and "InvalidDatabaseError" in line.getMessage()
    assert "81.2.69" not in line.getMessage()


@pytest.mark.parametrize("kind", ["embedded", "production"])
def test_corrupt_geo_data_does_not_stop_the_chain(stack_factory, corrupt_db: Path,  # type: ignore[no-untyped-def]
                                                  kind: str) -> None:
    """It failed the chunk instead: the workspace's events (and those behind them, with no
    address) stayed pending until the file was replaced and the workers restarted."""
    stack = stack_factory(kind, geoip_db=str(corrupt_db))
    _, secret = stack.new_workspace()
    before = sample(stack.client.get("/metrics").get_data(as_text=True),
                    "auditrail_geo_corrupt_lookups_total")
    bodies = [{"action": "user.login", "actor": {"id": "u", "type": "user"},
               "context": {"ip_address": ip}} for ip in (LONDON_V4, "10.0.0.1")]
    ids = stack.client.post("/api/v1/events/batch", json={"events": bodies},
                            headers=bearer(secret)).json["ids"]
    stack.drain()
    events = [stack.client.get(f"/api/v1/events/{i}", headers=bearer(secret)).json
              for i in ids]
    assert [(e["status"], e["sequence"], e["geo"]) for e in events] == [
        ("processed", 1, None), ("processed", 2, None)]
    assert stack.client.get("/api/v1/events/verify", headers=bearer(secret)).json["valid"]
    after = sample(stack.client.get("/metrics").get_data(as_text=True),
                   "auditrail_geo_corrupt_lookups_total")
    assert after - before == 1


@pytest.mark.parametrize(("make", "reason"), [
    (lambda folder: folder / "missing.mmdb", "No such file or directory"),
    (lambda folder: _text_file(folder / "notes.mmdb"), "not a MaxMind database"),
    (lambda folder: build_city_database(folder / "ASN.mmdb", "GeoLite2-ASN"),
     "is a GeoLite2-ASN database; geo needs a City one"),
])
def test_an_unusable_database_is_refused_when_opened(tmp_path: Path, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    """Opened lazily, it failed every event's processing instead: the chains stalled."""
    with pytest.raises(GeoDatabaseUnusable, match=reason):
        MaxMindGeoLocator(str(make(tmp_path)))


def _text_file(path: Path) -> Path:
    path.write_text("not a database\n")
    return path
