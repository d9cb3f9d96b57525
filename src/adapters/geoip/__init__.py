"""Geo enrichment from a MaxMind City database through geoip2."""
