"""``GeoLocator`` over a MaxMind GeoIP2/GeoLite2 City ``.mmdb`` file."""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import geoip2.database
from geoip2.errors import AddressNotFoundError
from maxminddb import InvalidDatabaseError

from application.ports.geo import GeoDatabaseUnusable

log = logging.getLogger(__name__)


class MaxMindGeoLocator:
    """Opens the database once per process (memory-mapped) and shares it between threads.

    Answers are cached per address: audit logs repeat the same few addresses, and building
    geoip2's model objects costs more than the lookup itself.

    A lookup that meets corrupt data gives None, like an unknown address, and is reported
    (``on_corrupt_data``, an error line at most once a minute): raising would fail the
    chunk, and so stop the workspace's whole chain, its alerts and streams, behind one
    event until someone replaced the file. Geo is enrichment; the chain is the product.
    """

    def __init__(self, path: str, cache_size: int = 65_536,
                 on_corrupt_data: Callable[[], None] = lambda: None) -> None:
        try:
            self._reader = geoip2.database.Reader(path)
        except (OSError, ValueError, InvalidDatabaseError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not a MaxMind database"
            raise GeoDatabaseUnusable(f"cannot open {path}: {reason}") from None
        kind = self._reader.metadata().database_type
        if "City" not in kind:
            self._reader.close()
            raise GeoDatabaseUnusable(f"{path} is a {kind} database; geo needs a City one")
        # An IPv4-only database answers an IPv6 lookup with ValueError, which is not news
        # (the address is unknown to it), unlike corrupt data.
        self._ipv4_only = self._reader.metadata().ip_version == 4
        self._path = path
        self._on_corrupt_data = on_corrupt_data
        self._lock = threading.Lock()
        self._last_report = -60.0
        self.locate = functools.lru_cache(maxsize=cache_size)(self._locate)  # type: ignore[method-assign]

    def locate(self, ip_address: str) -> dict[str, Any] | None:
        """Geo of a public address; private, loopback and unknown addresses give None."""
        return self._locate(ip_address)

    def _locate(self, ip_address: str) -> dict[str, Any] | None:
        try:
            address = ipaddress.ip_address(ip_address)
        except ValueError:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped  # how dual-stack servers report IPv4 clients
        if not address.is_global or (address.version == 6 and self._ipv4_only):
            return None
        try:
            city = self._reader.city(str(address))
        except AddressNotFoundError:
            return None
        except (InvalidDatabaseError, ValueError) as exc:  # ValueError: bad UTF-8 in a record
            self._report_corrupt_data(exc)
            return None
        return {
            "country_code": city.country.iso_code,
            "country": city.country.name,
            "region": city.subdivisions.most_specific.name,
            "city": city.city.name,
            "latitude": city.location.latitude,
            "longitude": city.location.longitude,
            "timezone": city.location.time_zone,
        }

    def _report_corrupt_data(self, exc: Exception) -> None:
        """Counted every time; logged at most once a minute, without the address (event
        data), so a file corrupt throughout cannot flood the log."""
        self._on_corrupt_data()
        with self._lock:
            now = time.monotonic()
            due = now - self._last_report >= 60
            if due:
                self._last_report = now
        if due:
            log.error("the GeoIP database %s holds corrupt data (%s): events whose address "
                      "reads it are linked with geo null; replace the file with a complete "
                      "one (rename it over the old) and restart the workers",
                      self._path, type(exc).__name__)

    def close(self) -> None:
        self._reader.close()


class NoGeoLocator:
    """Used when no database is configured: every event's ``geo`` is null."""

    def locate(self, ip_address: str) -> dict[str, Any] | None:
        return None
