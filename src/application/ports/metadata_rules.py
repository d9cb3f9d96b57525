"""Checking events' metadata against the JSON Schemas a workspace gives its actions
(``domain.metadata_schemas``): a schema library's work, behind a port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from domain.errors import FieldError


class MetadataRules(Protocol):
    def schema_problems(self, schemas: Mapping[str, Any]) -> list[FieldError]:
        """What makes each schema unusable - not a JSON Schema, or a keyword outside
        ``domain.metadata_schemas.KEYWORDS`` - named ``metadata_schemas.<action>…``;
        empty when all are usable."""
        ...

    def violations(self, schemas: str, action: str,
                   metadata: Mapping[str, Any]) -> list[FieldError]:
        """How ``metadata`` fails the schema ``schemas`` (the workspace's stored text)
        gives ``action``, each named ``metadata.<path>``; empty when it meets it or no
        schema applies. Called for every event sent: the schemas are compiled once per
        text."""
        ...
