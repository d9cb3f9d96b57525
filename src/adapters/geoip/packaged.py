"""Find a GeoLite2 City database shipped by an installed data package, if any."""

from __future__ import annotations

import importlib.util
from pathlib import Path

# Python packages known to ship a GeoLite2 City database next to their __init__.py.
_CANDIDATES = (("geolite2", "GeoLite2-City.mmdb"), ("geoip2_data", "GeoLite2-City.mmdb"))


def find_packaged_city_database() -> str | None:
    """The first packaged City database found, without importing the package."""
    for module, filename in _CANDIDATES:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / filename
            if candidate.is_file():
                return str(candidate)
    return None
