"""Geo enrichment port."""

from __future__ import annotations

from typing import Any, Protocol


class GeoLocator(Protocol):
    def locate(self, ip_address: str) -> dict[str, Any] | None:
        """``{country_code, country, region, city, latitude, longitude, timezone}`` or None."""
        ...
