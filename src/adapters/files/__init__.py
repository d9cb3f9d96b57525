"""Blobs in a local folder (the default export store)."""
