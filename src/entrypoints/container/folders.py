"""The data folder's owner-only folders, for what runs before the installation is loaded:
``serve`` makes the metrics folder before anything imports prometheus-client."""

from __future__ import annotations

from adapters.private_files import private_folder

__all__ = ["private_folder"]
