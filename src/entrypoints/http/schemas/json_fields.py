"""Fields that read JSON's own types only."""

from __future__ import annotations

from typing import Any

from marshmallow import fields


class JsonBoolean(fields.Boolean):
    """JSON's ``true`` or ``false``, nothing else. marshmallow's Boolean also reads "yes",
    "on" or "1", and even given ``truthy={True}, falsy={False}`` it reads 1 and 0: they
    equal True and False in Python, so a set of either holds them. A setting such as a
    legal hold must not be switched by a number a client sent by mistake."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value
