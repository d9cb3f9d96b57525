"""The page every list answers with (contract §5.6)."""

from __future__ import annotations

from marshmallow import Schema, fields


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The §5.6 page of ``item``s."""
    return Schema.from_dict({
        "data": fields.List(fields.Nested(item), required=True),
        "has_more": fields.Boolean(required=True),
        "next_cursor": fields.String(),
        "total_count": fields.Integer(required=True),
    }, name=name)
