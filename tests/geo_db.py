"""Build a small but real MaxMind City database for tests, with mmdb-writer."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

LONDON_V4 = "81.2.69.160"
SYDNEY_V6 = "2a02:ec0::1"
UNKNOWN_PUBLIC = "8.8.8.8"

LONDON = {
    "country_code": "GB", "country": "United Kingdom", "region": "England",
    "city": "London", "latitude": 51.5142, "longitude": -0.0931, "timezone": "Europe/London",
}
SYDNEY = {
    "country_code": "AU", "country": "Australia", "region": "New South Wales",
    "city": "Sydney", "latitude": -33.8591, "longitude": 151.2002,
    "timezone": "Australia/Sydney",
}


def _record(geo: dict) -> dict:
    return {
        "country": {"iso_code": geo["country_code"], "names": {"en": geo["country"]},
                    "geoname_id": 1},
        "subdivisions": [{"names": {"en": geo["region"]}, "iso_code": "X", "geoname_id": 2}],
        "city": {"names": {"en": geo["city"]}, "geoname_id": 3},
        "location": {"latitude": geo["latitude"], "longitude": geo["longitude"],
                     "time_zone": geo["timezone"], "accuracy_radius": 50},
    }


def build_city_database(path: Path, database_type: str = "GeoIP2-City",
                        ip_version: int = 6) -> Path:
    """``database_type`` as MaxMind names it; another kind (``GeoLite2-ASN``) lets a test
    check that only a City database is accepted. An ``ip_version`` 4 database holds the
    IPv4 networks only."""
    writer = MMDBWriter(ip_version=ip_version, ipv4_compatible=ip_version == 6,
                        database_type=database_type, languages=["en"],
                        description="Auditrail test City database")
    writer.insert_network(IPSet(["81.2.69.0/24"]), _record(LONDON))
    if ip_version == 6:
        writer.insert_network(IPSet(["2a02:ec0::/32"]), _record(SYDNEY))
    writer.insert_network(IPSet(["10.0.0.0/8"]), _record(LONDON))  # must never be used
    writer.to_db_file(str(path))
    return path


def corrupt_data_section(source: Path, target: Path) -> Path:
    """A copy of ``source`` whose data section (the records, after the search tree) is
    overwritten with 0xFF bytes: it opens, but looking up a stored address meets corrupt
    data, as after a disk error or a file copied over while in use."""
    import maxminddb

    with maxminddb.open_database(str(source)) as reader:
        meta = reader.metadata()
    data = bytearray(source.read_bytes())
    start = meta.node_count * meta.record_size * 2 // 8 + 16  # the tree, 16 zero bytes
    end = data.rfind(b"\xab\xcd\xefMaxMind.com")  # where the metadata begins
    data[start:end] = b"\xff" * (end - start)
    target.write_bytes(bytes(data))
    return target
