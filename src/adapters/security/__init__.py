"""Secrets the service keeps for itself (the HMAC key for signed links)."""
