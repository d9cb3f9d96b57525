"""The Auditrail domain: entities, value objects and pure services.

Nothing here performs I/O or reads the clock; time and identifiers are passed in, so every
rule can be exercised in a unit test without infrastructure.
"""
