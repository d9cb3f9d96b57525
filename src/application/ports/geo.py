"""Geo enrichment port."""

from __future__ import annotations

from typing import Any, Protocol


class GeoLocator(Protocol):
    def locate(self, ip_address: str) -> dict[str, Any] | None:
        """``{country_code, country, region, city, latitude, longitude, timezone}`` or None."""
        ...


class GeoDatabaseUnusable(Exception):
    """The configured database cannot be opened, or is not a City database. Every event
    with an address would fail to process, so a process refuses to start instead."""
