"""Entrypoints: settings, the composition root, HTTP, worker and CLI."""
