"""``GeoLocator`` over a MaxMind GeoIP2/GeoLite2 City ``.mmdb`` file."""

from __future__ import annotations

import functools
import ipaddress
import logging
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
    """

    def __init__(self, path: str, cache_size: int = 65_536) -> None:
        try:
            self._reader = geoip2.database.Reader(path)
        except (OSError, ValueError, InvalidDatabaseError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not a MaxMind database"
            raise GeoDatabaseUnusable(f"cannot open {path}: {reason}") from None
        kind = self._reader.metadata().database_type
        if "City" not in kind:
            self._reader.close()
            raise GeoDatabaseUnusable(f"{path} is a {kind} database; geo needs a City one")
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
        if not address.is_global:
            return None
        try:
            city = self._reader.city(str(address))
        except AddressNotFoundError:
            return None
        except ValueError:
            log.warning("the GeoIP database is not a City database or is corrupt")
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

    def close(self) -> None:
        self._reader.close()


class NoGeoLocator:
    """Used when no database is configured: every event's ``geo`` is null."""

    def locate(self, ip_address: str) -> dict[str, Any] | None:
        return None
