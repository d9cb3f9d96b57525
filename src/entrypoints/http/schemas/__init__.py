"""Marshmallow schemas: the request shapes (and, later, the OpenAPI document)."""
